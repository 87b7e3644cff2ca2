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
        // tar streams (and, with the image store, layer apply and diff).
        .target(name: "BerthArchive", dependencies: ["BerthCore"], exclude: ["README.md"]),
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
        .testTarget(name: "BerthCoreTests", dependencies: ["BerthCore"]),
        .testTarget(name: "BerthOCITests", dependencies: ["BerthOCI", "BerthCore"]),
        .testTarget(name: "BerthArchiveTests", dependencies: ["BerthArchive", "BerthCore"]),
        .testTarget(
            name: "BerthRuntimeTests",
            dependencies: ["BerthRuntime", "BerthSystem", "BerthOCI", "BerthCore"]
        ),
    ]
)
