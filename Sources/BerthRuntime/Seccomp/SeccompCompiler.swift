import BerthCore
import BerthOCI
import BerthSystem

/// Compiles an OCI seccomp config (`linux.seccomp`) to a classic BPF program, without libseccomp.
///
/// Semantics (what the program computes for a system call):
/// 1. `seccomp_data.arch` must be one of the config's `architectures` that an x86_64 kernel can
///    run — x86_64 (always included, as the native arch), SCMP_ARCH_X86, SCMP_ARCH_X32. Other
///    arches named in the config (SCMP_ARCH_AARCH64, …) are accepted and ignored: their calls
///    cannot occur here. A call from an arch that is not let through — e.g. an i386 `int 0x80`
///    when SCMP_ARCH_X86 is not listed, or an x32 call without SCMP_ARCH_X32 — gets
///    KILL_PROCESS (libseccomp's "bad arch" action is KILL_THREAD; a process that half-dies is
///    worse, and this is stricter).
/// 2. The syscall's rules are tried in config order; the first whose `args` conditions all hold
///    (all ANDed; no conditions = always) gives the action. No rule matches: `defaultAction` —
///    or ENOSYS for numbers above every syscall the config names, like runc (see `compile`).
///    Differences from runc + libseccomp: runc splits a rule with several conditions on the
///    *same* argument into one rule per condition (ORed), where Berth ANDs them as written; and
///    libseccomp does not promise config order when several rules of one syscall match.
/// 3. Argument comparisons are unsigned 64-bit (`value` against args[index]) on every arch,
///    done on the two 32-bit halves; SCMP_CMP_MASKED_EQ is `(arg & value) == valueTwo`.
/// 4. Names a given arch does not have are skipped for that arch (as runc/libseccomp do); names
///    no compiled arch has are listed in `SeccompProgram.unknownSyscalls`.
///
/// Actions: SCMP_ACT_KILL (= KILL_THREAD), _KILL_THREAD, _KILL_PROCESS, _TRAP, _ERRNO (the
/// rule's `errnoRet`, else EPERM; `defaultErrnoRet` for the default action, else EPERM — as runc),
/// _TRACE (same, as the tracer's message), _ALLOW, _LOG. SCMP_ACT_NOTIFY is unsupported.
///
/// Code shape: check the arch, load `nr`, then a binary search (`jge`) over the ranges of
/// consecutive numbers that share one outcome; a leaf is a RET, or the argument tests of that
/// syscall's rules. Under Docker's profile (407 instructions) most x86_64 calls run 11
/// instructions: arch check, x32 split, a six-level search, RET.
public enum SeccompCompiler {
    /// The action for a call from an architecture the filter does not let through.
    public static let badArchAction: UInt32 = SeccompReturn.killProcess

    /// Compiles `config`. Throws `BerthError.invalid` naming the bad value (unknown action,
    /// operator, architecture or flag; argument index above 5; errnoRet on an action without
    /// one), `BerthError.unsupported` for SCMP_ACT_NOTIFY.
    ///
    /// `enosysForNewerSyscalls` (on by default) does what runc's "-ENOSYS stub" does: when the
    /// default action is not permissive (not ALLOW, LOG or TRACE), a system call numbered above
    /// every syscall the config names (per arch) fails with ENOSYS rather than the default
    /// action. A profile older than the kernel then makes new calls look unimplemented, so libc
    /// falls back to older ones instead of failing with EPERM (e.g. `file_getattr`, not in
    /// Docker's profile). It is still blocked: the call never runs.
    public static func compile(_ config: RuntimeSpec.Seccomp, enosysForNewerSyscalls: Bool = true) throws -> SeccompProgram {
        let defaultAction = try action(config.defaultAction, errnoRet: config.defaultErrnoRet, field: "defaultErrnoRet")
        let enosys = SeccompReturn.errno | 38
        let permissive = ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"].contains(config.defaultAction)
        let beyond: UInt32? = enosysForNewerSyscalls && !permissive && defaultAction != enosys ? enosys : nil
        let arches = try architectures(config.architectures ?? [])
        let flags = try filterFlags(config.flags ?? [])

        // Parse every rule once, then file its index under its number on each arch (x32 numbers
        // without their bit), keeping config order.
        let calls = config.syscalls ?? []
        var rules: [Rule] = []
        rules.reserveCapacity(calls.count)
        var slots = RuleSlots(arches: arches.count)
        var unknown: [String] = []
        for (ri, call) in calls.enumerated() {
            guard !call.names.isEmpty else { throw BerthError.invalid("seccomp: rule with no syscall names") }
            rules.append(try Rule(call))
            for name in call.names {
                var known = false
                if let index = SyscallTable.index(of: name) {
                    for (ai, arch) in arches.enumerated() {
                        guard let n = SyscallTable.rawNumber(at: index, arch: arch) else { continue }
                        known = true
                        slots.add(rule: Int32(ri), arch: ai, number: n)
                    }
                }
                if !known && !unknown.contains(name) { unknown.append(name) }
            }
        }

        var e = BPFEmitter()
        let bad = BPFEmitter.Target.ret(badArchAction)
        func tree(_ arch: SeccompArch, _ domain: ClosedRange<UInt32>) -> BPFEmitter.Target {
            guard let ai = arches.firstIndex(of: arch) else { return .ret(defaultAction) }
            let ranges = Self.ranges(slots, arch: ai, rules: rules, domain: domain, defaultAction: defaultAction,
                                     beyond: beyond)
            return emitSearch(&e, ranges[...])
        }

        // Back to front: the i386 block, the x32 search, the x86_64 search, the arch dispatch.
        var x86Entry = bad
        if arches.contains(.x86) {
            let root = tree(.x86, 0...UInt32.max)
            x86Entry = e.load(BPF.nrOffset, before: root)
        }
        var x32Entry = bad
        if arches.contains(.x32) {
            x32Entry = tree(.x32, SeccompArch.x32SyscallBit...UInt32.max)
        }
        let x64Root = tree(.x86_64, 0...(SeccompArch.x32SyscallBit - 1))
        let x64Split = e.jump(BPF.jge, SeccompArch.x32SyscallBit, x32Entry, x64Root)
        let x64Entry = e.load(BPF.nrOffset, before: x64Split)
        let second = e.jump(BPF.jeq, SeccompArch.x86.auditArch, x86Entry, bad)
        let first = e.jump(BPF.jeq, SeccompArch.x86_64.auditArch, x64Entry, second)
        let entry = e.load(BPF.archOffset, before: first)
        e.finish(entry: entry)

        let program = SeccompProgram(instructions: e.instructions, flags: flags,
                                     architectures: arches, unknownSyscalls: unknown)
        try program.validate()
        return program
    }

    // MARK: - Parsing

    /// The `SECCOMP_RET_*` value of an OCI action name.
    static func action(_ name: String, errnoRet: UInt32?, field: String = "errnoRet") throws -> UInt32 {
        let eperm: UInt32 = 1
        func data(_ v: UInt32?) throws -> UInt32 {
            let v = v ?? eperm
            guard v <= SeccompReturn.dataMask else {
                throw BerthError.invalid("seccomp: \(field) \(v) out of range for \(name)")
            }
            return v
        }
        if errnoRet != nil && name != "SCMP_ACT_ERRNO" && name != "SCMP_ACT_TRACE" {
            throw BerthError.invalid("seccomp: \(field) is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(name)")
        }
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return SeccompReturn.killThread
        case "SCMP_ACT_KILL_PROCESS": return SeccompReturn.killProcess
        case "SCMP_ACT_TRAP": return SeccompReturn.trap
        case "SCMP_ACT_ERRNO": return SeccompReturn.errno | (try data(errnoRet))
        case "SCMP_ACT_TRACE": return SeccompReturn.trace | (try data(errnoRet))
        case "SCMP_ACT_ALLOW": return SeccompReturn.allow
        case "SCMP_ACT_LOG": return SeccompReturn.log
        case "SCMP_ACT_NOTIFY":
            throw BerthError.unsupported("seccomp: SCMP_ACT_NOTIFY is not supported (no seccomp user notification listener)")
        default: throw BerthError.invalid("seccomp: unknown action \(name)")
        }
    }

    /// libseccomp's architecture names; only the x86 family is compiled on this host.
    static let knownArchitectures: Set<String> = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    ]

    /// The arches to let through: native x86_64 always, plus those named that this kernel runs.
    static func architectures(_ names: [String]) throws -> [SeccompArch] {
        var set: Set<SeccompArch> = [.x86_64]
        for name in names {
            if let a = SeccompArch(rawValue: name) {
                set.insert(a)
            } else if name == "SCMP_ARCH_NATIVE" {
                continue
            } else if !knownArchitectures.contains(name) {
                throw BerthError.invalid("seccomp: unknown architecture \(name)")
            }
        }
        return set.sorted()
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits for the config's flag names.
    ///
    /// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is accepted but not passed on: it changes how a
    /// user-notification listener waits, Berth creates no listener, and the kernel rejects the
    /// flag without SECCOMP_FILTER_FLAG_NEW_LISTENER.
    static func filterFlags(_ names: [String]) throws -> UInt32 {
        var bits: UInt32 = 0
        for name in names {
            switch name {
            case "SECCOMP_FILTER_FLAG_TSYNC": bits |= Seccomp.FilterFlag.tsync
            case "SECCOMP_FILTER_FLAG_LOG": bits |= Seccomp.FilterFlag.log
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW": bits |= Seccomp.FilterFlag.specAllow
            case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": break
            default: throw BerthError.invalid("seccomp: unknown flag \(name)")
            }
        }
        return bits
    }

    // MARK: - Rules and decisions

    enum Op: Hashable {
        case eq, ne, lt, le, gt, ge, maskedEq

        init(_ name: String) throws {
            switch name {
            case "SCMP_CMP_EQ": self = .eq
            case "SCMP_CMP_NE": self = .ne
            case "SCMP_CMP_LT": self = .lt
            case "SCMP_CMP_LE": self = .le
            case "SCMP_CMP_GT": self = .gt
            case "SCMP_CMP_GE": self = .ge
            case "SCMP_CMP_MASKED_EQ": self = .maskedEq
            default: throw BerthError.invalid("seccomp: unknown operator \(name)")
            }
        }
    }

    /// One argument test: `args[index] op value` (`(args[index] & value) == valueTwo` for
    /// MASKED_EQ).
    struct Condition: Hashable {
        var index: Int
        var op: Op
        var value: UInt64
        var valueTwo: UInt64
    }

    /// A rule as placed under one syscall number.
    struct Rule: Hashable {
        var action: UInt32
        var conditions: [Condition]

        init(action: UInt32, conditions: [Condition]) {
            self.action = action
            self.conditions = conditions
        }

        init(_ call: RuntimeSpec.Syscall) throws {
            action = try SeccompCompiler.action(call.action, errnoRet: call.errnoRet)
            conditions = try (call.args ?? []).map { arg in
                guard arg.index < 6 else {
                    throw BerthError.invalid("seccomp: argument index \(arg.index) out of range (0-5) for \(call.names.first ?? "syscall")")
                }
                return Condition(index: Int(arg.index), op: try Op(arg.op), value: arg.value, valueTwo: arg.valueTwo ?? 0)
            }
        }
    }

    /// What one syscall number gets: an action outright, or rules to test first.
    enum Decision: Hashable {
        case action(UInt32)
        case rules([Rule], fallback: UInt32)
    }

    /// First match wins: conditional rules up to the first unconditional one, whose action (or
    /// the default) is the fallback; trailing rules with the fallback's action change nothing.
    static func decision(_ slots: RuleSlots, arch: Int, number: Int, rules: [Rule], defaultAction: UInt32) -> Decision {
        var conditional: [Rule] = []
        var fallback = defaultAction
        var entry = slots.first(arch: arch, number: number)
        while entry >= 0 {
            let r = rules[Int(slots.rule[entry])]
            if r.conditions.isEmpty { fallback = r.action; break }
            conditional.append(r)
            entry = Int(slots.next[entry])
        }
        while let last = conditional.last, last.action == fallback { conditional.removeLast() }
        return conditional.isEmpty ? .action(fallback) : .rules(conditional, fallback: fallback)
    }

    /// The rules of each (arch, syscall number), in config order, as linked lists in flat arrays
    /// (one allocation per array, not one per syscall).
    struct RuleSlots {
        /// Per (arch, number): first and last entry, or -1.
        private var head: [Int32]
        private var tail: [Int32]
        /// Per entry: the rule's index, and the next entry of the same slot or -1.
        private(set) var rule: [Int32] = []
        private(set) var next: [Int32] = []

        init(arches: Int) {
            head = Array(repeating: -1, count: arches * SyscallTable.slotCount)
            tail = head
            rule.reserveCapacity(1024)
            next.reserveCapacity(1024)
        }

        func first(arch: Int, number: Int) -> Int { Int(head[arch * SyscallTable.slotCount + number]) }

        mutating func add(rule r: Int32, arch: Int, number: Int) {
            let slot = arch * SyscallTable.slotCount + number
            let last = Int(tail[slot])
            // A name listed twice in one rule (or two names of one number) adds nothing.
            if last >= 0 && rule[last] == r { return }
            let entry = Int32(rule.count)
            rule.append(r)
            next.append(-1)
            if last >= 0 { next[last] = entry } else { head[slot] = entry }
            tail[slot] = entry
        }
    }

    /// A run of consecutive syscall numbers with one decision.
    struct NumberRange: Hashable {
        var lo: UInt32
        var decision: Decision
    }

    /// Splits `domain` into maximal runs of numbers with the same decision, in order.
    /// Slot `n` of `arch` holds the rules of number `domain.lowerBound + n`. Numbers above the
    /// last one with rules get `beyond` when given (the ENOSYS stub), else the default.
    static func ranges(_ slots: RuleSlots, arch: Int, rules: [Rule], domain: ClosedRange<UInt32>,
                       defaultAction: UInt32, beyond: UInt32? = nil) -> [NumberRange] {
        let dflt = Decision.action(defaultAction)
        var out: [NumberRange] = [NumberRange(lo: domain.lowerBound, decision: dflt)]
        func add(_ lo: UInt32, _ d: Decision) {
            guard let last = out.last, last.decision != d else { return }
            if last.lo == lo {
                // The run started here is replaced; it may now continue its predecessor.
                out[out.count - 1].decision = d
                if out.count >= 2, out[out.count - 2].decision == d { out.removeLast() }
            } else {
                out.append(NumberRange(lo: lo, decision: d))
            }
        }
        var last: UInt32?
        for n in 0..<SyscallTable.slotCount where slots.first(arch: arch, number: n) >= 0 {
            let nr = domain.lowerBound + UInt32(n)
            add(nr, decision(slots, arch: arch, number: n, rules: rules, defaultAction: defaultAction))
            if nr < domain.upperBound { add(nr + 1, dflt) }
            last = nr
        }
        if let beyond, let last, last < domain.upperBound { add(last + 1, .action(beyond)) }
        return out
    }

    // MARK: - Code

    /// Binary search over `ranges` on A (= nr): `jge lo(mid)` splits; a leaf is the decision.
    static func emitSearch(_ e: inout BPFEmitter, _ ranges: ArraySlice<NumberRange>) -> BPFEmitter.Target {
        if ranges.count <= 1 {
            guard let only = ranges.first else { return .ret(SeccompReturn.killProcess) }
            return emitDecision(&e, only.decision)
        }
        let mid = ranges.startIndex + ranges.count / 2
        let right = emitSearch(&e, ranges[mid...])
        let left = emitSearch(&e, ranges[..<mid])
        return e.jump(BPF.jge, ranges[mid].lo, right, left)
    }

    static func emitDecision(_ e: inout BPFEmitter, _ d: Decision) -> BPFEmitter.Target {
        switch d {
        case .action(let a):
            return .ret(a)
        case .rules(let rules, let fallback):
            var next = BPFEmitter.Target.ret(fallback)
            for rule in rules.reversed() {
                var pass = BPFEmitter.Target.ret(rule.action)
                for c in rule.conditions.reversed() { pass = emitCondition(&e, c, pass, next) }
                next = pass
            }
            return next
        }
    }

    /// Code testing one condition: to `t` when it holds, to `f` when not. 64-bit unsigned
    /// comparisons on the high word first, the low word only when the high words are equal.
    static func emitCondition(_ e: inout BPFEmitter, _ c: Condition, _ t: BPFEmitter.Target,
                              _ f: BPFEmitter.Target) -> BPFEmitter.Target {
        if t == f { return t }
        let (loOff, hiOff) = SeccompData.argOffsets(c.index)
        let vLo = UInt32(truncatingIfNeeded: c.value)
        let vHi = UInt32(truncatingIfNeeded: c.value >> 32)

        /// `ld off; jcc k` with the given targets.
        func test(_ off: UInt32, _ op: UInt16, _ k: UInt32, _ jt: BPFEmitter.Target, _ jf: BPFEmitter.Target) -> BPFEmitter.Target {
            let j = e.jump(op, k, jt, jf)
            return j == jt || j == jf ? j : e.load(off, before: j)
        }
        /// High word: `hi > vHi` → `above`; `hi == vHi` → `equal`; `hi < vHi` → `below`.
        func high(above: BPFEmitter.Target, equal: BPFEmitter.Target, below: BPFEmitter.Target) -> BPFEmitter.Target {
            let eq = e.jump(BPF.jeq, vHi, equal, below)
            let gt = e.jump(BPF.jgt, vHi, above, eq)
            return gt == above && gt == eq ? gt : e.load(hiOff, before: gt)
        }
        /// `(word & mask) == datum` on one word.
        func masked(_ off: UInt32, _ mask: UInt32, _ datum: UInt32, _ jt: BPFEmitter.Target, _ jf: BPFEmitter.Target) -> BPFEmitter.Target {
            if datum & ~mask != 0 { return jf }
            if mask == 0 { return jt }
            let j = e.jump(BPF.jeq, datum, jt, jf)
            if j == jt { return j }
            if mask != UInt32.max { e.and(mask) }
            guard case .label = j else { return j }
            return e.emit(BPFInstruction(code: BPF.ldAbs, k: off))
        }

        switch c.op {
        case .eq:
            let lo = test(loOff, BPF.jeq, vLo, t, f)
            return test(hiOff, BPF.jeq, vHi, lo, f)
        case .ne:
            let lo = test(loOff, BPF.jeq, vLo, f, t)
            return test(hiOff, BPF.jeq, vHi, lo, t)
        case .gt:
            return high(above: t, equal: test(loOff, BPF.jgt, vLo, t, f), below: f)
        case .ge:
            return high(above: t, equal: test(loOff, BPF.jge, vLo, t, f), below: f)
        case .lt:
            return high(above: f, equal: test(loOff, BPF.jge, vLo, f, t), below: t)
        case .le:
            return high(above: f, equal: test(loOff, BPF.jgt, vLo, f, t), below: t)
        case .maskedEq:
            let mLo = UInt32(truncatingIfNeeded: c.value)
            let mHi = UInt32(truncatingIfNeeded: c.value >> 32)
            let dLo = UInt32(truncatingIfNeeded: c.valueTwo)
            let dHi = UInt32(truncatingIfNeeded: c.valueTwo >> 32)
            let lo = masked(loOff, mLo, dLo, t, f)
            return masked(hiOff, mHi, dHi, lo, f)
        }
    }
}
