@testable import BerthRuntime
import BerthOCI
import BerthSystem

/// What a seccomp config means, computed the obvious way — no BPF — to check the compiler
/// against: arch check, then the rules of the syscall in config order, first match wins.
struct SeccompReference {
    static let auditX86_64: UInt32 = 0xC000_003E
    static let auditI386: UInt32 = 0x4000_0003
    static let x32Bit: UInt32 = 0x4000_0000

    let config: RuntimeSpec.Seccomp
    let arches: Set<SeccompArch>
    /// For each arch, for each rule in order: the numbers its names have there.
    let numbers: [SeccompArch: [Set<UInt32>]]
    /// runc's ENOSYS stub: per arch, the highest number the config names; calls above it get
    /// ENOSYS when the default action is not permissive.
    let enosysAbove: [SeccompArch: UInt32]

    init(_ config: RuntimeSpec.Seccomp, enosysForNewerSyscalls: Bool = true) {
        self.config = config
        var a: Set<SeccompArch> = [.x86_64]
        for name in config.architectures ?? [] {
            if name == "SCMP_ARCH_X86" { a.insert(.x86) }
            if name == "SCMP_ARCH_X32" { a.insert(.x32) }
        }
        arches = a
        var numbers: [SeccompArch: [Set<UInt32>]] = [:]
        for arch in SeccompArch.allCases {
            numbers[arch] = (config.syscalls ?? []).map { Set($0.names.compactMap { SyscallTable.number(of: $0, arch: arch) }) }
        }
        self.numbers = numbers
        var above: [SeccompArch: UInt32] = [:]
        let permissive = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"].contains(config.defaultAction)
        let defaultIsENOSYS = config.defaultAction == "SCMP_ACT_ERRNO" && config.defaultErrnoRet == 38
        if enosysForNewerSyscalls && !permissive && !defaultIsENOSYS {
            for (arch, sets) in numbers {
                if let max = sets.flatMap({ $0 }).max() { above[arch] = max }
            }
        }
        enosysAbove = above
    }

    static func actionValue(_ name: String, _ errnoRet: UInt32?) -> UInt32 {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | (errnoRet ?? 1)
        case "SCMP_ACT_TRACE": return 0x7FF0_0000 | (errnoRet ?? 1)
        case "SCMP_ACT_ALLOW": return 0x7FFF_0000
        case "SCMP_ACT_LOG": return 0x7FFC_0000
        default: fatalError("reference: unexpected action \(name)")
        }
    }

    static func holds(_ a: RuntimeSpec.SyscallArg, _ args: [UInt64]) -> Bool {
        let x = args[Int(a.index)]
        switch a.op {
        case "SCMP_CMP_EQ": return x == a.value
        case "SCMP_CMP_NE": return x != a.value
        case "SCMP_CMP_LT": return x < a.value
        case "SCMP_CMP_LE": return x <= a.value
        case "SCMP_CMP_GT": return x > a.value
        case "SCMP_CMP_GE": return x >= a.value
        case "SCMP_CMP_MASKED_EQ": return x & a.value == (a.valueTwo ?? 0)
        default: fatalError("reference: unexpected op \(a.op)")
        }
    }

    func evaluate(arch auditArch: UInt32, nr: UInt32, args: [UInt64]) -> UInt32 {
        let arch: SeccompArch
        switch auditArch {
        case Self.auditX86_64:
            if nr >= Self.x32Bit {
                guard arches.contains(.x32) else { return 0x8000_0000 }
                arch = .x32
            } else {
                arch = .x86_64
            }
        case Self.auditI386:
            guard arches.contains(.x86) else { return 0x8000_0000 }
            arch = .x86
        default:
            return 0x8000_0000
        }
        if let last = enosysAbove[arch], nr > last { return 0x0005_0000 | 38 }
        var full = args
        while full.count < 6 { full.append(0) }
        let rules = config.syscalls ?? []
        for (i, rule) in rules.enumerated() {
            guard numbers[arch]?[i].contains(nr) == true else { continue }
            if (rule.args ?? []).allSatisfy({ Self.holds($0, full) }) {
                return Self.actionValue(rule.action, rule.errnoRet)
            }
        }
        return Self.actionValue(config.defaultAction, config.defaultErrnoRet)
    }
}

/// A small deterministic PRNG (SplitMix64) so random tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
