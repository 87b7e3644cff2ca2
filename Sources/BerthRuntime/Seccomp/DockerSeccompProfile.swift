import BerthCore
import BerthOCI
import BerthSystem

/// A seccomp profile in Docker's format (`docker run --security-opt seccomp=profile.json`,
/// moby `profiles/seccomp`): an OCI seccomp config whose rules carry `includes`/`excludes`
/// filters on capabilities, architecture and kernel version, plus an `archMap` naming each native
/// arch's companions. `ociConfig` resolves those filters into a plain `RuntimeSpec.Seccomp`
/// exactly as moby's `setupSeccomp` does.
public struct DockerSeccompProfile: Codable, Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    /// Arches to let through (alternative to `archMap`; a profile may not have both).
    public var architectures: [String]?
    public var archMap: [ArchMap]?
    public var syscalls: [Rule]?
    public var flags: [String]?
    public var listenerPath: String?
    public var listenerMetadata: String?

    public init(defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil,
                archMap: [ArchMap]? = nil, syscalls: [Rule]? = nil, flags: [String]? = nil) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.archMap = archMap
        self.syscalls = syscalls
        self.flags = flags
    }

    /// A native architecture and the ones it can also run (x86_64: x86 and x32).
    public struct ArchMap: Codable, Sendable, Equatable {
        public var architecture: String
        public var subArchitectures: [String]?
        public init(architecture: String, subArchitectures: [String]? = nil) {
            self.architecture = architecture
            self.subArchitectures = subArchitectures
        }
    }

    /// A rule: an OCI syscall rule plus the conditions under which it is part of the filter.
    public struct Rule: Codable, Sendable, Equatable {
        /// Old single-name form; a rule may have `name` or `names`, not both.
        public var name: String?
        public var names: [String]?
        public var action: String
        public var errnoRet: UInt32?
        public var args: [RuntimeSpec.SyscallArg]?
        public var comment: String?
        public var includes: Filter?
        public var excludes: Filter?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [RuntimeSpec.SyscallArg]? = nil,
                    includes: Filter? = nil, excludes: Filter? = nil) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
            self.includes = includes
            self.excludes = excludes
        }
    }

    /// `includes`: the rule applies only if *all* of these hold; `excludes`: it is dropped if
    /// *any* holds.
    public struct Filter: Codable, Sendable, Equatable {
        /// Capabilities (`CAP_SYS_ADMIN`) in the container's bounding set.
        public var caps: [String]?
        /// Go architecture names (`amd64`, `arm64`, `s390x`) of the daemon's platform.
        public var arches: [String]?
        /// `major.minor`: the running kernel is at least this.
        public var minKernel: String?
        public init(caps: [String]? = nil, arches: [String]? = nil, minKernel: String? = nil) {
            self.caps = caps
            self.arches = arches
            self.minKernel = minKernel
        }
    }

    /// Docker's default profile, parsed from the embedded `defaultJSON` (a verbatim copy of
    /// moby's `default.json`). Parsed on each use: nothing stays resident in the monitor.
    public static var `default`: DockerSeccompProfile {
        get throws { try parse(Array(defaultJSON.utf8)) }
    }

    /// Decodes a profile in Docker's JSON format (through `init(json:)`, the fast path).
    public static func parse(_ json: [UInt8]) throws -> DockerSeccompProfile {
        do {
            return try DockerSeccompProfile(json: try JSON.parse(json))
        } catch let e as BerthError {
            throw e.message.hasPrefix("seccomp profile") ? e : e.context("seccomp profile")
        }
    }

    /// moby's `goToNative`: Go architecture name ↔ libseccomp name. `includes.arches` and
    /// `excludes.arches` are matched against the Go name of the target arch.
    static let goArchitectures: [(go: String, scmp: String)] = [
        ("386", "SCMP_ARCH_X86"), ("amd64", "SCMP_ARCH_X86_64"), ("arm", "SCMP_ARCH_ARM"),
        ("arm64", "SCMP_ARCH_AARCH64"), ("mips64", "SCMP_ARCH_MIPS64"), ("mips64le", "SCMP_ARCH_MIPSEL64"),
        ("mips64p32", "SCMP_ARCH_MIPS64N32"), ("mips64p32le", "SCMP_ARCH_MIPSEL64N32"),
        ("mips", "SCMP_ARCH_MIPS"), ("mipsle", "SCMP_ARCH_MIPSEL"), ("ppc", "SCMP_ARCH_PPC"),
        ("ppc64", "SCMP_ARCH_PPC64"), ("ppc64le", "SCMP_ARCH_PPC64LE"), ("riscv64", "SCMP_ARCH_RISCV64"),
        ("s390", "SCMP_ARCH_S390"), ("s390x", "SCMP_ARCH_S390X"), ("loong64", "SCMP_ARCH_LOONGARCH64"),
    ]

    /// The OCI config for a container with bounding set `capabilities` on `arch` (a libseccomp
    /// name, or a Go one like `amd64`), on a kernel of release `kernelRelease` (default: the
    /// running kernel's, from uname). As moby's `setupSeccomp`:
    /// - `architectures`: the `archMap` entry of `arch` with its sub-arches (or the profile's
    ///   own `architectures`);
    /// - a rule is kept if `excludes.arches` lacks the arch, `includes.arches` (when present)
    ///   has it, no `excludes.caps` is held, every `includes.caps` is held, the kernel is not at
    ///   least `excludes.minKernel` and is at least `includes.minKernel`;
    /// - kept rules are copied in order, with `name` folded into `names`.
    /// Capability names may be given with or without the `CAP_` prefix, in any case.
    public func ociConfig(capabilities: [String], arch: String = "SCMP_ARCH_X86_64",
                          kernelRelease: String? = nil) throws -> RuntimeSpec.Seccomp {
        if !(architectures ?? []).isEmpty && !(archMap ?? []).isEmpty {
            throw BerthError.invalid("seccomp profile: both architectures and archMap are given; use one")
        }
        guard let goArch = Self.goArchitectures.first(where: { $0.scmp == arch || $0.go == arch }) else {
            throw BerthError.invalid("seccomp profile: unknown architecture \(arch)")
        }
        let caps = Set(capabilities.map(Self.capabilityName))
        var kernel: KernelVersion?
        func runningKernel() throws -> KernelVersion {
            if let kernel { return kernel }
            guard let release = kernelRelease ?? Seccomp.kernelRelease() else {
                throw BerthError.invalid("seccomp profile: cannot read the kernel version")
            }
            let k = try KernelVersion(release)
            kernel = k
            return k
        }

        var out = RuntimeSpec.Seccomp(defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet,
                                      architectures: architectures, flags: flags, syscalls: [])
        out.listenerPath = listenerPath
        out.listenerMetadata = listenerMetadata
        if let entry = archMap?.first(where: { $0.architecture == goArch.scmp }) {
            out.architectures = [entry.architecture] + (entry.subArchitectures ?? [])
        }

        var syscalls: [RuntimeSpec.Syscall] = []
        for rule in self.syscalls ?? [] {
            var names = rule.names ?? []
            if let name = rule.name, !name.isEmpty {
                guard names.isEmpty else {
                    throw BerthError.invalid("seccomp profile: rule \(name) has both name and names; use one")
                }
                names = [name]
            }
            let inc = rule.includes ?? Filter()
            let exc = rule.excludes ?? Filter()
            if let a = exc.arches, !a.isEmpty, a.contains(goArch.go) { continue }
            if let a = inc.arches, !a.isEmpty, !a.contains(goArch.go) { continue }
            if let c = exc.caps, c.contains(where: { caps.contains(Self.capabilityName($0)) }) { continue }
            if let c = inc.caps, !c.allSatisfy({ caps.contains(Self.capabilityName($0)) }) { continue }
            // An empty minKernel is no condition (moby's KernelVersion.UnmarshalJSON).
            if let v = exc.minKernel, !v.isEmpty, try runningKernel() >= KernelVersion(v) { continue }
            if let v = inc.minKernel, !v.isEmpty, try runningKernel() < KernelVersion(v) { continue }
            syscalls.append(RuntimeSpec.Syscall(names: names, action: rule.action, errnoRet: rule.errnoRet, args: rule.args))
        }
        out.syscalls = syscalls
        return out
    }

    /// `CAP_SYS_ADMIN` for `sys_admin`, `SYS_ADMIN` or `CAP_SYS_ADMIN`.
    static func capabilityName(_ name: String) -> String {
        let upper = name.uppercased()
        return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }
}

/// A kernel version as Docker's profiles compare it: major and minor only (`6.1.0-18-amd64` and
/// `6.1-rc3` are both 6.1).
public struct KernelVersion: Sendable, Equatable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// From a `uname -r` release or a profile's `minKernel`: the leading `major.minor` digits,
    /// anything after ignored (as moby's `fmt.Sscanf(s, "%d.%d")`).
    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        var i = 0
        func number() -> Int? {
            let start = i
            var v = 0
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39, i - start < 9 {
                v = v * 10 + Int(bytes[i] - 0x30)
                i += 1
            }
            return i > start ? v : nil
        }
        guard let major = number(), i < bytes.count, bytes[i] == 0x2E else {
            throw BerthError.invalid("seccomp profile: invalid kernel version \(text)")
        }
        i += 1
        guard let minor = number() else {
            throw BerthError.invalid("seccomp profile: invalid kernel version \(text)")
        }
        self.init(major: major, minor: minor)
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    public var description: String { "\(major).\(minor)" }
}
