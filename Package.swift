// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "img",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "img", targets: ["img"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // Dockerfile parsing, instructions, shell-word expansion, .dockerignore. Pure: no I/O beyond
        // what callers hand it.
        .target(name: "ImgDockerfile", swiftSettings: strict),
        // Typed OCI values: digests, descriptors, manifests, configs, platforms, references. No I/O.
        .target(
            name: "ImgOCI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "ImgCommands",
            dependencies: [
                "ImgDockerfile",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: ["BuildInfoPlugin"]
        ),
        .executableTarget(name: "img", dependencies: ["ImgCommands"], swiftSettings: strict),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),

        // Benchmarks are executables, never timed tests.
        .executableTarget(name: "img-bench", dependencies: ["ImgDockerfile"], path: "bench/Sources/img-bench",
                          swiftSettings: strict),

        .testTarget(name: "ImgDockerfileTests", dependencies: ["ImgDockerfile"], swiftSettings: strict),
        .testTarget(name: "ImgConformanceTests", dependencies: ["ImgDockerfile", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgOCITests", dependencies: ["ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgCommandsTests", dependencies: ["ImgCommands", "img"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
