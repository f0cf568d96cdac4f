public import ArgumentParser

/// The `img` root command: global options and the list of subcommands.
public struct ImgCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "img",
        abstract: "Standalone, daemon-less, unprivileged Dockerfile and OCI image builder.",
        version: VersionInfo.current.short,
        subcommands: [Version.self]
    )

    public init() {}
}
