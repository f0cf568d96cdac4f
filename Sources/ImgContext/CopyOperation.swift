import Glibc
import ImgArchive
import ImgDockerfile
import ImgSystem

/// COPY and ADD into a rootfs.
package enum CopyOperation {
    /// Copies the selection into `rootfs` at `destination` (an absolute container path, WORKDIR already
    /// joined; a trailing `/` means a directory), with docker's semantics:
    ///
    /// - a directory source copies its contents, merged into what is there (a directory onto an existing
    ///   file, or a file onto an existing directory inside that merge, is an error);
    /// - several sources, or a wildcard matching several, need a directory destination (ending in `/`);
    /// - a file onto an existing directory goes inside it, else becomes the destination path;
    /// - missing parent directories are created 0755, owned by root or the `--chown` owner; a destination
    ///   directory that is created takes the source directory's metadata;
    /// - symlinks are copied as symlinks, never followed;
    /// - owners are 0:0 for the build context, kept for other trees, the `--chown` owner when given;
    ///   modes are kept unless `--chmod`; modification times are kept;
    /// - ADD extracts a local tar archive (detected by content) into the destination directory, with the
    ///   archive's owners unless `--chown`; `--chmod` does not apply to extracted entries (BuildKit's unpack
    ///   takes no mode).
    ///
    /// Every write is resolved inside `rootfs` as if it were `/`: no `..`, symlink already in the rootfs, or
    /// absolute link target can lead outside.
    package static func copy(_ selection: CopySelection, into rootfs: String, destination: String,
                             options: CopyOptions) throws(ContextError) {
        let instruction = options.isAdd ? "ADD" : "COPY"
        do throws(ContextError) {
            let writer = try RootfsWriter(rootfs: rootfs, options: options, keepsOwnership: selection.tree.keepsOwnership)
            let target = Destination(destination)
            // Several sources to a destination without `/` are each written to it, the last one staying, as
            // in BuildKit; the legacy builder's "must be a directory" error is not BuildKit's.
            for root in selection.roots {
                try writer.copy(root, from: selection.tree, to: target, extractArchives: options.isAdd)
            }
            try writer.finish()
        } catch {
            throw error.reported(as: instruction)
        }
    }

    /// A heredoc source (`COPY <<EOF /dst`): `content` written as a file named `name` (when the destination
    /// is a directory), mode 0644 unless `--chmod`, owned by root unless `--chown`.
    package static func writeHeredoc(name: String, content: String, into rootfs: String, destination: String,
                                     options: CopyOptions) throws(ContextError) {
        let instruction = options.isAdd ? "ADD" : "COPY"
        do throws(ContextError) {
            let writer = try RootfsWriter(rootfs: rootfs, options: options, keepsOwnership: false)
            try writer.writeContent(Array(content.utf8), name: name, to: Destination(destination))
            try writer.finish()
        } catch {
            throw error.reported(as: instruction)
        }
    }
}

/// A destination as written: cleaned components (a `..` cannot climb above `/`) and whether it names a
/// directory.
struct Destination {
    var components: [String]
    var isDirectory: Bool

    init(_ text: String) {
        components = SourcePath.components(text)
        isDirectory = components.isEmpty || text.hasSuffix("/") || text.hasSuffix("/.") || text == "."
    }

    var display: String { "/" + SourcePath.join(components) }
}
