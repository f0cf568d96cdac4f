package import ImgOCI

/// Where a build cache lives: a directory (an OCI layout, under a tag) or a registry reference.
package enum CacheLocation: Sendable, Equatable {
    case directory(String, tag: String)
    /// `ref=HOST/REPO:TAG`, as given (checked when the flag is parsed).
    case registry(String)
    /// `type=inline` (`--cache-to` only): in the config of each image the build writes.
    case inline

    /// The registry host of a registry location.
    var registryHost: String? {
        guard case .registry(let text) = self, let reference = try? Reference(parsing: text) else { return nil }
        return reference.domain
    }
}

/// One `--cache-to` of `img build`, as buildx spells it: `type=local,dest=DIR[,tag=T]` or
/// `type=registry,ref=HOST/REPO:TAG[,registry.insecure=true]`, with `[,mode=min|max][,ignore-error=true]`,
/// `[,compression=...][,compression-level=N][,force-compression=true]` and `[,cache-mounts=true]`
/// (`image-manifest=true` and `oci-mediatypes=true` are accepted: that is what img writes).
package struct CacheExportSpec: Sendable, Equatable {
    /// `mode=`: min keeps the steps whose results make the final image; max every step of every stage built.
    package enum Mode: String, Sendable, CaseIterable { case min, max }

    package var location: CacheLocation
    package var mode: Mode = .min
    /// `ignore-error=true`: a failed export is a warning, not a failed build.
    package var ignoreError = false
    /// `registry.insecure=true`: the registry is reached over plain HTTP or TLS without verification.
    package var insecure = false
    /// `cache-mounts=true`: the contents of the build's `RUN --mount=type=cache` mounts go into the cache too.
    package var cacheMounts = false
    /// `compression=`: the layers as the cache stores them; nil keeps each as the build stored it.
    package var compression: LayerCompression?
    /// `compression-level=`: gzip 0–9, zstd 1–22.
    package var compressionLevel: Int?
    /// `force-compression=true`: with a level, layers already in the compression are redone at it too.
    package var forceCompression = false
    /// The spec as given, for messages.
    package var text: String

    package init(parsing text: String) throws {
        self.text = text
        let fields = try CacheSpecFields(text, flag: "--cache-to")
        var destination: String?
        var tag = "latest"
        for (key, value) in fields.pairs {
            switch (fields.type, key) {
            case (.local, "dest"): destination = value
            case (.local, "tag"): tag = try fields.nonEmpty(value, key)
            case (.registry, "ref"): destination = value
            case (_, "mode"):
                guard let parsed = Mode(rawValue: value) else { throw fields.error("mode must be min or max, not \"\(value)\"") }
                mode = parsed
            case (_, "ignore-error"): ignoreError = try fields.bool(value, key)
            case (.registry, "registry.insecure"): insecure = try fields.bool(value, key)
            case (_, "cache-mounts"): cacheMounts = try fields.bool(value, key)
            case (_, "compression"):
                guard let parsed = LayerCompression(rawValue: value) else {
                    throw fields.error("compression must be gzip, zstd or uncompressed, not \"\(value)\"")
                }
                compression = parsed
            case (_, "compression-level"):
                guard let level = Int(value) else { throw fields.error("compression-level must be a number, not \"\(value)\"") }
                compressionLevel = level
            case (_, "force-compression"): forceCompression = try fields.bool(value, key)
            // What img writes anyway (an OCI image manifest with OCI media types), as buildx command lines
            // often spell it out.
            case (_, "image-manifest"), (_, "oci-mediatypes"):
                guard try fields.bool(value, key) else {
                    throw fields.error("\(key)=false is not supported (img writes the cache as an OCI image manifest)")
                }
            default: throw fields.error("unknown key \"\(key)\" for type=\(fields.type.rawValue)")
            }
        }
        location = try fields.location(destination, tag: tag, directoryKey: "dest")
        if location == .inline, mode == .max {
            throw fields.error("type=inline supports mode=min only (the image carries the steps that made it): use type=registry or type=local for mode=max")
        }
        if let compressionLevel {
            // buildx's default compression is gzip.
            let kind = compression ?? .gzip
            guard kind != .uncompressed else { throw fields.error("compression-level needs compression=gzip or zstd") }
            let range = kind == .zstd ? 1...22 : 0...9
            guard range.contains(compressionLevel) else {
                throw fields.error("compression-level for \(kind.rawValue) must be in \(range.lowerBound)...\(range.upperBound)")
            }
        }
    }
}

/// One `--cache-from` of `img build`: `type=local,src=DIR[,tag=T]` or
/// `type=registry,ref=HOST/REPO:TAG[,registry.insecure=true]`.
package struct CacheImportSpec: Sendable, Equatable {
    package var location: CacheLocation
    /// `registry.insecure=true`: the registry is reached over plain HTTP or TLS without verification.
    package var insecure = false
    /// The spec as given, for messages.
    package var text: String

    package init(parsing text: String) throws {
        self.text = text
        let fields = try CacheSpecFields(text, flag: "--cache-from")
        if fields.type == .inline {
            throw fields.error("type=inline is written with --cache-to; to read an image's inline cache give its reference (--cache-from HOST/REPO:TAG)")
        }
        var source: String?
        var tag = "latest"
        for (key, value) in fields.pairs {
            switch (fields.type, key) {
            case (.local, "src"): source = value
            case (.local, "tag"): tag = try fields.nonEmpty(value, key)
            case (.registry, "ref"): source = value
            case (.registry, "registry.insecure"): insecure = try fields.bool(value, key)
            default: throw fields.error("unknown key \"\(key)\" for type=\(fields.type.rawValue)")
            }
        }
        location = try fields.location(source, tag: tag, directoryKey: "src")
    }
}

/// The `key=value` fields of a cache spec after its `type=`, which must be one img supports.
struct CacheSpecFields {
    enum Kind: String { case local, registry, inline }

    let flag: String
    let type: Kind
    var pairs: [(String, String)] = []

    init(_ text: String, flag: String) throws {
        self.flag = flag
        // A bare reference is `type=registry,ref=REF`, as in buildx (an image's inline cache, or a cache manifest).
        guard text.contains("=") else {
            type = .registry
            pairs = [("ref", text)]
            return
        }
        var type: String?
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let eq = field.firstIndex(of: "=") else { throw RequestError("\(flag): \"\(field)\" is not key=value") }
            let key = field[..<eq].lowercased()
            let value = String(field[field.index(after: eq)...])
            if key == "type" { type = value } else { pairs.append((key, value)) }
        }
        switch type {
        case let name? where Kind(rawValue: name) != nil: self.type = Kind(rawValue: name)!
        case nil: throw RequestError("\(flag): missing type= (img supports type=local, type=registry and type=inline)")
        case "gha", "s3", "azblob":
            throw RequestError("\(flag): type=\(type!) is not supported yet (img supports type=local, type=registry and type=inline)")
        case let other?: throw RequestError("\(flag): unknown type \"\(other)\"")
        }
    }

    func error(_ message: String) -> RequestError { RequestError("\(flag): \(message)") }

    func location(_ value: String?, tag: String, directoryKey: String) throws -> CacheLocation {
        switch type {
        case .local:
            guard let value, !value.isEmpty else { throw error("type=local needs \(directoryKey)=DIR") }
            return .directory(value, tag: tag)
        case .registry:
            guard let value, !value.isEmpty else { throw error("type=registry needs ref=HOST/REPO:TAG") }
            do { _ = try Reference(parsing: value) } catch { throw self.error("invalid ref \"\(value)\": \(error)") }
            return .registry(value)
        case .inline:
            return .inline
        }
    }

    func bool(_ value: String, _ key: String) throws -> Bool {
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw error("\(key) must be true or false")
        }
    }

    func nonEmpty(_ value: String, _ key: String) throws -> String {
        guard !value.isEmpty, !value.contains("/") else { throw error("\(key) must be a non-empty name without /") }
        return value
    }
}
