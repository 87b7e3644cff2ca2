// swift-tools-version:6.0
import PackageDescription

/// berth-init is the container monitor: one per container, so its start time and its memory
/// matter. It links the Swift stdlib statically, no Foundation at all (FoundationEssentials costs
/// ~6 MiB of dirty relocated pages per process), and is linked non-PIE so the binary's read-only
/// data is shared between monitors instead of being relocated into private pages.
/// libstdc++ is linked statically too, through a linker script named `libstdc++.so` that the
/// driver's `-lstdc++` finds first (see Sources/berth-init/link).
let packageDirectory = String(#filePath.dropLast("Package.swift".count))
let leanExecutableLinkerFlags: [LinkerSetting] = [
    .unsafeFlags([
        "-static-stdlib",
        "-Xlinker", "--gc-sections",
        "-Xclang-linker", "-no-pie",
        "-L", packageDirectory + "Sources/berth-init/link",
    ]),
]

let package = Package(
    name: "Berth",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "berth-init", targets: ["berth-init"]),
        .executable(name: "berthd", targets: ["berthd"]),
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-fuzz", targets: ["berth-fuzz"]),
        .executable(name: "berth-registry", targets: ["berth-registry"]),
        .executable(name: "berth-vm-agent", targets: ["berth-vm-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        // C shims, no policy: one header per concern.
        .target(name: "CBerth", exclude: ["README.md"]),
        // Foundation-free foundation: errors, JSON, atomic files.
        .target(name: "BerthCore", exclude: ["README.md"]),
        // The only Swift that calls libc/CBerth for privileged work.
        .target(name: "BerthSystem", dependencies: ["CBerth", "BerthCore"], exclude: ["README.md"]),
        // OCI types (pure values, Codable with BerthCore's JSON or Foundation's).
        .target(name: "BerthOCI", dependencies: ["BerthCore"], exclude: ["README.md"]),
        // zlib and zstd from the system (Debian's zlib1g-dev, libzstd-dev).
        .target(name: "CBerthCompress", exclude: ["README.md"],
                linkerSettings: [.linkedLibrary("z"), .linkedLibrary("zstd")]),
        // tar read/write, gzip/zstd, layer apply (whiteouts, safe extraction) and diff.
        // The tar format (headers, writer): shared by BerthArchive and the CLI's build contexts.
        .target(name: "BerthTar", dependencies: ["BerthCore"], exclude: ["README.md"]),
        .target(name: "BerthArchive", dependencies: ["BerthCore", "BerthTar", "BerthSystem", "CBerthCompress"],
                exclude: ["README.md"]),
        // Content store, overlay snapshots, image store, load/save/import, GC.
        .target(name: "BerthImage", dependencies: [
            "BerthCore", "BerthSystem", "BerthOCI", "BerthArchive",
            .product(name: "Crypto", package: "swift-crypto"),
        ], exclude: ["README.md"]),
        // Docker Engine API wire types and stream framing, shared by client and server.
        .target(name: "BerthAPI", dependencies: ["BerthCore", "BerthOCI"], exclude: ["README.md"]),
        // HTTP/1.1 server and client on SwiftNIO: unix + TCP, streaming, `Upgrade: tcp` hijack.
        .target(name: "BerthHTTP", dependencies: [
            "BerthCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["README.md"]),
        // OCI distribution: the registry server (crash-safe storage, the /v2/ API on BerthHTTP)
        // and the pull client berthd uses (AsyncHTTPClient).
        .target(name: "BerthRegistry", dependencies: [
            "BerthCore", "BerthSystem", "BerthOCI", "BerthHTTP",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["README.md"]),
        .executableTarget(name: "berth-registry", dependencies: [
            "BerthRegistry", "BerthHTTP", "BerthCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Bridges, IPAM, veth into netns, nftables NAT/isolation/published ports, embedded DNS.
        .target(name: "BerthNetwork", dependencies: [
            "BerthCore", "BerthSystem",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], exclude: ["README.md"]),
        // Dockerfile parsing (pure) and the builder, which drives a backend the engine provides.
        .target(name: "BerthBuild", dependencies: ["BerthCore", "BerthSystem", "BerthOCI", "BerthArchive",
                                          .product(name: "Crypto", package: "swift-crypto")],
                exclude: ["README.md"]),
        // VM backends behind one protocol: QEMU driven over QMP first (thin qcow2 disks, an
        // initramfs Berth writes itself, TCG where KVM cannot run the guest).
        .target(name: "BerthVM", dependencies: ["BerthCore", "BerthSystem", "BerthOCI", "BerthTar"],
                exclude: ["README.md"]),
        // Developer tool over BerthVM (bench/vm.sh, manual boots); `berth vm` is the real UI.
        .executableTarget(name: "berth-vm", dependencies: ["BerthVM", "BerthSystem", "BerthCore"]),
        // The guest agent of `--isolation vm` (PID 1 in the container's VM). Fully static
        // (glibc too): the guest's root disk is the image's, which may have no libc at all.
        .executableTarget(name: "berth-vm-agent", dependencies: ["BerthVM"],
                          swiftSettings: [.unsafeFlags(["-Osize"])],
                          linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "--gc-sections", "-Xlinker", "-s"])]),
        // The daemon's services (actors). Knows nothing of HTTP.
        .target(name: "BerthEngine", dependencies: [
            "BerthCore", "BerthSystem", "BerthOCI", "BerthArchive", "BerthImage", "BerthRuntime", "BerthNetwork", "BerthBuild", "BerthRegistry", "BerthVM",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], exclude: ["README.md"]),
        // HTTP request → engine call → wire response.
        .target(name: "BerthServer", dependencies: [
            "BerthCore", "BerthEngine", "BerthBuild", "BerthRegistry", "BerthAPI", "BerthHTTP", "BerthOCI", "BerthVM", "BerthClient",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md"]),
        // Typed async client of the API.
        .target(name: "BerthClient", dependencies: ["BerthAPI", "BerthHTTP", "BerthCore"], exclude: ["README.md"]),
        // The `berth` command line: argument parsing, tables, progress.
        .target(name: "BerthCLI", dependencies: [
            "BerthClient", "BerthAPI", "BerthCore", "BerthTar",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["README.md"]),
        .executableTarget(name: "berthd", dependencies: [
            "BerthServer", "BerthEngine", "BerthCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "berth", dependencies: ["BerthCLI"]),
        // Container lifecycle: create flow, cgroups, seccomp, capabilities, the monitor.
        .target(name: "BerthRuntime", dependencies: ["BerthCore", "BerthSystem", "BerthOCI"],
                exclude: ["README.md", "Cgroups/README.md"]),
        .executableTarget(
            name: "berth-init",
            dependencies: ["BerthRuntime"],
            exclude: ["link"],
            swiftSettings: [.unsafeFlags(["-Osize"])],
            linkerSettings: leanExecutableLinkerFlags
        ),
        // Mutational fuzzer for the Dockerfile parser, ShellWords and DockerIgnore.
        .executableTarget(name: "berth-fuzz", dependencies: ["BerthBuild", "BerthCore"]),
        // Helpers shared by the test targets (not shipped).
        .target(name: "BerthTestSupport", path: "Tests/BerthTestSupport", exclude: ["README.md"]),
        .testTarget(name: "BerthCoreTests", dependencies: ["BerthCore"]),
        .testTarget(name: "BerthBuildTests", dependencies: ["BerthBuild", "BerthCore"]),
        .testTarget(name: "BerthSystemTests", dependencies: ["BerthTestSupport", "BerthSystem", "BerthCore"]),
        .testTarget(name: "BerthNetworkTests", dependencies: ["BerthNetwork", "BerthSystem", "BerthCore"]),
        .testTarget(name: "BerthOCITests", dependencies: ["BerthTestSupport", "BerthOCI", "BerthCore"]),
        .testTarget(name: "BerthArchiveTests", dependencies: ["BerthTestSupport", "BerthArchive", "BerthCore", "BerthSystem"]),
        .testTarget(name: "BerthImageTests", dependencies: ["BerthImage", "BerthArchive", "BerthOCI", "BerthCore", "BerthSystem"]),
        .testTarget(name: "BerthRegistryTests", dependencies: [
            "BerthRegistry", "BerthHTTP", "BerthOCI", "BerthCore", "BerthSystem", "BerthTestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "BerthHTTPTests", dependencies: ["BerthTestSupport", "BerthHTTP", "BerthCore"]),
        .testTarget(name: "BerthVMTests", dependencies: ["BerthVM", "BerthSystem", "BerthCore", "BerthTar"]),
        .testTarget(name: "BerthCLITests", dependencies: [
            "BerthCLI", "BerthClient", "BerthAPI", "BerthOCI", "BerthCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "BerthCore", "BerthSystem", "BerthTestSupport", .product(name: "Crypto", package: "swift-crypto"),
        ], exclude: ["Fixtures"]),
        .testTarget(
            name: "BerthRuntimeTests",
            dependencies: ["BerthRuntime", "BerthSystem", "BerthOCI", "BerthCore", "BerthTestSupport"]
        ),
    ]
)
