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
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // The one protocol every error type adopts: a stable code, one line, a cause. No dependencies.
        .target(name: "ImgErrors", swiftSettings: strict),
        // Dockerfile parsing, instructions, shell-word expansion, .dockerignore. Pure: no I/O beyond
        // what callers hand it.
        .target(name: "ImgDockerfile", dependencies: ["ImgErrors"], swiftSettings: strict),
        // libarchive, from Debian's libarchive-dev.
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        // libdeflate, from Debian's libdeflate-dev: whole-buffer gzip, 2-3x zlib's speed at the same level,
        // for the parallel gzip of layers.
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        // Tar read/write, layer apply with whiteouts, deterministic layer tars, compression with digests.
        .target(name: "ImgArchive", dependencies: ["CArchive", "CDeflate", "ImgOCI", "ImgSystem"], swiftSettings: strict),
        // Syscalls and process plumbing: file locks, safe paths inside a root, (later) namespaces and mounts.
        .target(name: "ImgSystem", dependencies: ["CImgShim", "ImgErrors"], swiftSettings: strict),
        // Snapshotters (overlayfs, fuse-overlayfs, native copy) and `auto` selection: layer apply into
        // snapshots by chain id, writable workspaces, diffs and commits.
        .target(name: "ImgSnapshot", dependencies: ["ImgSystem", "ImgArchive", "ImgOCI"], swiftSettings: strict),
        // C start-up shim: enters the user namespace before the Swift runtime starts threads.
        .target(name: "CImgShim"),
        // The one SQLite setting GRDB does not expose (its C call is variadic).
        .target(name: "CSQLiteShim", dependencies: [.product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // Executor: OCI runtime spec for a RUN step, rootless adjustments, runc invocation, stdio streaming.
        .target(name: "ImgRuntime", dependencies: ["ImgSystem", "ImgOCI"], swiftSettings: strict),
        // Content store (blobs by digest), image store (SQLite), garbage collection, OCI layout.
        .target(
            name: "ImgContent",
            dependencies: ["ImgOCI", "ImgSystem", "CSQLiteShim", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // Distribution API client: auth, TLS, mirrors, manifests and blobs, retries and resumption.
        .target(
            name: "ImgRegistry",
            dependencies: [
                "ImgOCI", "ImgContent",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        // Typed OCI values: digests, descriptors, manifests, configs, platforms, references. No I/O.
        .target(
            name: "ImgOCI",
            dependencies: ["ImgErrors", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Build-context selection (.dockerignore, wildcards, --exclude, --parents), content checksums with a
        // persistent stat cache, and the COPY/ADD file operation into a rootfs.
        .target(
            name: "ImgContext",
            dependencies: [
                "ImgDockerfile", "ImgOCI", "ImgSystem", "ImgArchive", "CSQLiteShim",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // SBOMs: the packages an image's root filesystem holds (dpkg, apk, Python dist-info, rpm) read
        // without leaving the root, and their SPDX 2.3 JSON document.
        .target(
            name: "ImgSBOM",
            dependencies: ["ImgErrors", "ImgSystem", .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        // Build graphs: vertices, cache-key derivation and the solver. Knows nothing of Dockerfiles or runc.
        .target(name: "ImgGraph", dependencies: ["ImgOCI"], swiftSettings: strict),
        // Dockerfile stages into a build graph.
        .target(name: "ImgFrontend", dependencies: ["ImgDockerfile", "ImgGraph", "ImgOCI"], swiftSettings: strict),
        // The op runner: base images, RUN through the executor, COPY/ADD and WORKDIR on snapshots, the cache.
        .target(
            name: "ImgWorker",
            dependencies: ["ImgFrontend", "ImgGraph", "ImgOCI", "ImgContent", "ImgContext", "ImgSnapshot",
                           "ImgRuntime", "ImgArchive", "ImgSystem"],
            swiftSettings: strict
        ),
        // Exporters: one per build output (image store, oci/docker archive, rootfs tar, local directory,
        // registry push), docker and OCI archives both ways, work directories in the state directory.
        .target(
            name: "ImgExport",
            dependencies: ["ImgErrors", "ImgContent", "ImgArchive", "ImgRegistry", "ImgOCI", "ImgSystem"],
            swiftSettings: strict
        ),
        // The front door: a state directory opened once with its stores, snapshotter, executor and registry
        // access; builds (and next every command) as library calls taking typed requests.
        .target(
            name: "Img",
            dependencies: [
                "ImgErrors", "ImgExport", "ImgWorker", "ImgFrontend", "ImgGraph", "ImgDockerfile", "ImgOCI", "ImgContent",
                "ImgContext", "ImgSnapshot", "ImgRuntime", "ImgArchive", "ImgRegistry", "ImgSystem", "ImgSBOM",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ImgCommands",
            dependencies: [
                "Img", "ImgErrors", "ImgExport", "ImgDockerfile", "ImgOCI", "ImgContent", "ImgSystem", "ImgRuntime", "ImgRegistry",
                "ImgWorker", "ImgSnapshot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            plugins: ["BuildInfoPlugin"]
        ),
        .executableTarget(name: "img", dependencies: ["ImgCommands"], swiftSettings: strict),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),

        // Benchmarks are executables, never timed tests.
        .executableTarget(name: "img-bench", dependencies: ["ImgDockerfile", "ImgArchive", "ImgSnapshot", "ImgSystem", "ImgOCI"], path: "bench/Sources/img-bench",
                          swiftSettings: strict),

        // What every test target shares: the prerequisite policy, temporary directories, the img binary, the
        // rootless test users, and the real registry with its token server and fault proxy. Never the img
        // executable or ImgCommands: a test target that runs img depends on it itself.
        .target(name: "ImgTestSupport", dependencies: ["ImgSystem", "ImgOCI", "ImgRegistry"], path: "Tests/ImgTestSupport",
                swiftSettings: strict),
        .testTarget(name: "ImgDockerfileTests", dependencies: ["ImgTestSupport", "ImgDockerfile"], swiftSettings: strict),
        .testTarget(name: "ImgConformanceTests", dependencies: ["ImgTestSupport", "ImgDockerfile", "ImgOCI", "ImgContext"], swiftSettings: strict),
        .testTarget(name: "ImgFrontendTests", dependencies: ["ImgFrontend", "ImgDockerfile", "ImgGraph", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgWorkerTests", dependencies: ["ImgTestSupport", "ImgWorker", "ImgFrontend", "ImgDockerfile", "ImgGraph", "ImgOCI", "ImgContent", "ImgContext", "ImgSnapshot", "ImgRuntime"], swiftSettings: strict),
        .testTarget(name: "ImgGraphTests", dependencies: ["ImgGraph", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgSBOMTests", dependencies: ["ImgTestSupport", "ImgSBOM", "ImgSystem", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strict),
        .testTarget(name: "ImgOCITests", dependencies: ["ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgArchiveTests", dependencies: ["ImgTestSupport", "ImgArchive", "ImgOCI", "ImgSystem"], swiftSettings: strict),
        .testTarget(name: "ImgSystemTests", dependencies: ["ImgTestSupport", "ImgSystem"], swiftSettings: strict),
        .testTarget(name: "ImgRuntimeTests", dependencies: ["ImgTestSupport", "ImgRuntime", "ImgSystem", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgSnapshotTests", dependencies: ["ImgTestSupport", "ImgSnapshot", "ImgArchive", "ImgSystem", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgContentTests", dependencies: ["ImgTestSupport", "ImgContent", "ImgOCI", "ImgSystem", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: strict),
        .testTarget(name: "ImgRegistryTests", dependencies: ["ImgTestSupport", "ImgRegistry", "ImgContent", "ImgOCI"], swiftSettings: strict),
        .testTarget(name: "ImgContextTests", dependencies: ["ImgTestSupport", "ImgContext", "ImgDockerfile", "ImgOCI", "ImgSystem", "ImgArchive"],
                    swiftSettings: strict),
        .testTarget(name: "ImgCommandsTests", dependencies: ["ImgTestSupport", "ImgCommands", "img", "ImgContent", "ImgOCI", "ImgArchive", "ImgSystem", "ImgErrors", "ImgRegistry", "ImgContext", "ImgSnapshot", "ImgRuntime", "ImgDockerfile", "ImgWorker"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
