public import ArgumentParser

/// The `img` root command: global options and the list of subcommands. Only commands that work are listed.
public struct ImgCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "img",
        abstract: "Standalone, daemon-less, unprivileged Dockerfile and OCI image builder.",
        subcommands: [Build.self, DiskUsageCommand.self, InspectImage.self, Load.self, Login.self, Logout.self, ListImages.self, Prune.self, Pull.self, Push.self, RemoveImages.self, Save.self, TagImage.self, Unpack.self, Version.self]
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: [.customShort("v"), .customLong("version")], help: "Print version information and quit.")
    var showVersion = false

    public init() {}

    public func run() async throws {
        if showVersion {
            print(VersionInfo.current.short)
            return
        }
        print(ImgCommand.helpMessage())
    }
}
