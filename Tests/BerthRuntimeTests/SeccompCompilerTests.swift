import BerthCore
import BerthOCI
@testable import BerthRuntime
import BerthSystem
import Testing

/// The compiler against the reference evaluator: the BPF program, interpreted, must give exactly
/// the action the config means, for every syscall number and a spread of argument values.
@Suite("seccomp compiler")
struct SeccompCompilerTests {
    typealias Arg = RuntimeSpec.SyscallArg
    typealias Call = RuntimeSpec.Syscall

    static let ops = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT",
                      "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"]

    /// 64-bit values around the 32-bit seams: high-word differences, 0xFFFFFFFF boundaries.
    static let edges: [UInt64] = [
        0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF,
        0x1_0000_0000, 0x1_0000_0001, 0x1_FFFF_FFFF, 0x2_0000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_0000_0000,
        0xFFFF_FFFF_0000_0001, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF,
        0x1234_5678_9ABC_DEF0, 0x0000_0001_0000_00FF, 0xFFFF_FFFE_FFFF_FFFF,
    ]

    /// Arg vectors for whole-table sweeps: zeros, all ones, and the interesting Docker values.
    static let sweepArgs: [[UInt64]] = [
        [0, 0, 0, 0, 0, 0],
        [UInt64.max, UInt64.max, UInt64.max, UInt64.max, UInt64.max, UInt64.max],
        [0xFFFF_FFFF, 0xFFFF_FFFF, 0, 0, 0, 0],
        [8, 0x7E02_0000, 0, 0, 0, 0],
        [0x2_0008, 0, 0, 0, 0, 0],
        [37, 1, 0, 0, 0, 0], [38, 1, 0, 0, 0, 0], [39, 1, 0, 0, 0, 0], [40, 1, 0, 0, 0, 0], [41, 1, 0, 0, 0, 0],
        [0x1_0000_0000 | 39, 0, 0, 0, 0, 0],
        [0x0001_0000, 0x1000_0000, 0, 0, 0, 0],  // CLONE_NEWNS-ish and CLONE_NEWUSER bits
        [0x0400_0000 | 0x11, 0x11, 0, 0, 0, 0],
    ]

    /// Checks the program against the reference for the given (arch, nr, args) points.
    static func expectAgree(_ config: RuntimeSpec.Seccomp, _ program: SeccompProgram,
                            nrs: [UInt32], arches: [UInt32], args: [[UInt64]], enosys: Bool = true,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let ref = SeccompReference(config, enosysForNewerSyscalls: enosys)
        var failures = 0
        for arch in arches {
            for nr in nrs {
                for a in args {
                    let want = ref.evaluate(arch: arch, nr: nr, args: a)
                    let got = program.evaluate(SeccompData(nr: nr, arch: arch, args: a))
                    if got != want {
                        failures += 1
                        if failures <= 5 {
                            Issue.record("arch 0x\(String(arch, radix: 16)) nr \(nr) args \(a): got \(got.map { String($0, radix: 16) } ?? "nil"), want \(String(want, radix: 16))",
                                         sourceLocation: sourceLocation)
                        }
                    }
                }
            }
        }
        #expect(failures == 0, "\(failures) disagreements", sourceLocation: sourceLocation)
    }

    static let allArches: [UInt32] = [SeccompReference.auditX86_64, SeccompReference.auditI386, 0xC000_00B7, 0]

    /// syscall numbers 0..<600 on every ABI, x32 numbers, and the edges of the number space.
    static let allNumbers: [UInt32] = Array(0..<600) + (0..<600).map { 0x4000_0000 | $0 }
        + [0x3FFF_FFFF, 0x4000_0000 | 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]

    @Test("Docker's default profile, for several capability sets, agrees with the reference everywhere")
    func dockerProfileSweep() throws {
        let profile = try DockerSeccompProfile.default
        let capSets: [[String]] = [
            SecurityDefaults.capabilities,
            SecurityDefaults.capabilities + ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"],
            [],
        ]
        for caps in capSets {
            let config = try profile.ociConfig(capabilities: caps, kernelRelease: "6.18.0")
            let program = try SeccompCompiler.compile(config)
            #expect(program.instructions.count < 4096)
            #expect(program.architectures == [.x86_64, .x86, .x32])
            Self.expectAgree(config, program, nrs: Self.allNumbers, arches: Self.allArches, args: Self.sweepArgs)
        }
    }

    @Test("runc's ENOSYS stub: numbers above the last named syscall get ENOSYS, unless permissive or off")
    func enosysStub() throws {
        let config = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities, kernelRelease: "6.18")
        let on = try SeccompCompiler.compile(config)
        let off = try SeccompCompiler.compile(config, enosysForNewerSyscalls: false)
        func run(_ p: SeccompProgram, _ nr: UInt32, _ arch: UInt32 = SeccompReference.auditX86_64) -> UInt32? {
            p.evaluate(SeccompData(nr: nr, arch: arch))
        }
        let fileGetattr = try #require(SyscallTable.number(of: "file_getattr", arch: .x86_64))
        let removexattrat = try #require(SyscallTable.number(of: "removexattrat", arch: .x86_64))
        #expect(run(on, fileGetattr) == SeccompReturn.errno | 38)
        #expect(run(on, 1000) == SeccompReturn.errno | 38)
        #expect(run(on, removexattrat) == SeccompReturn.allow)
        #expect(run(on, 246) == SeccompReturn.errno | 1)  // kexec_load: a gap, not above the last
        #expect(run(on, 0x4000_0000 | 1000) == SeccompReturn.errno | 38)
        #expect(run(on, 1000, SeccompReference.auditI386) == SeccompReturn.errno | 38)
        #expect(run(off, fileGetattr) == SeccompReturn.errno | 1)
        Self.expectAgree(config, off, nrs: Self.allNumbers, arches: Self.allArches, args: [[0, 0, 0, 0, 0, 0]], enosys: false)
        var allow = config
        allow.defaultAction = "SCMP_ACT_ALLOW"
        allow.defaultErrnoRet = nil
        allow.syscalls = [Call(names: ["read"], action: "SCMP_ACT_ERRNO")]
        #expect(run(try SeccompCompiler.compile(allow), 1000) == SeccompReturn.allow)
    }

    @Test("every comparison operator, 64-bit edge values against edge arguments", arguments: ops)
    func operatorEdges(op: String) throws {
        for (vi, value) in Self.edges.enumerated() {
            // For MASKED_EQ: `value` is the mask; try datum inside and outside the mask.
            let twos: [UInt64?] = op == "SCMP_CMP_MASKED_EQ"
                ? [0, value, value & 0xFFFF_FFFF, value & 0xFFFF_FFFF_0000_0000, Self.edges[(vi + 3) % Self.edges.count], nil]
                : [nil]
            for two in twos {
                for index in [0, 3, 5] as [UInt32] {
                    let config = RuntimeSpec.Seccomp(
                        defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38,
                        syscalls: [Call(names: ["read"], action: "SCMP_ACT_ALLOW",
                                        args: [Arg(index: index, value: value, valueTwo: two, op: op)])])
                    let program = try SeccompCompiler.compile(config)
                    let args = Self.edges.map { e -> [UInt64] in
                        var a: [UInt64] = [7, 7, 7, 7, 7, 7]
                        a[Int(index)] = e
                        return a
                    }
                    Self.expectAgree(config, program, nrs: [0, 1], arches: [SeccompReference.auditX86_64], args: args)
                }
            }
        }
    }

    @Test("the compiled comparison gives the mathematically right answer, not just the reference's")
    func operatorTruthTable() throws {
        // A few hand-checked rows, independent of the reference evaluator.
        let rows: [(String, UInt64, UInt64?, UInt64, Bool)] = [
            ("SCMP_CMP_GT", 0xFFFF_FFFF, nil, 0x1_0000_0000, true),
            ("SCMP_CMP_GT", 0x1_0000_0000, nil, 0xFFFF_FFFF, false),
            ("SCMP_CMP_LT", 0x1_0000_0000, nil, 0xFFFF_FFFF, true),
            ("SCMP_CMP_LT", 0x1_0000_0001, nil, 0x1_0000_0001, false),
            ("SCMP_CMP_LE", 0x1_0000_0001, nil, 0x1_0000_0001, true),
            ("SCMP_CMP_GE", 0x2_0000_0000, nil, 0x1_FFFF_FFFF, false),
            ("SCMP_CMP_EQ", 0xFFFF_FFFF, nil, 0xFFFF_FFFF_FFFF_FFFF, false),
            ("SCMP_CMP_NE", 0xFFFF_FFFF, nil, 0x1_FFFF_FFFF, true),
            ("SCMP_CMP_MASKED_EQ", 0xFFFF_0000_0000_FFFF, 0x1234_0000_0000_5678, 0x1234_ABCD_EF01_5678, true),
            ("SCMP_CMP_MASKED_EQ", 0xFFFF_0000_0000_FFFF, 0x1234_0000_0000_5678, 0x1235_ABCD_EF01_5678, false),
            ("SCMP_CMP_MASKED_EQ", 0x0000_00FF, 0x100, 0x100, false),  // datum outside the mask
        ]
        for (op, value, two, arg, matches) in rows {
            let config = RuntimeSpec.Seccomp(
                defaultAction: "SCMP_ACT_ERRNO",
                syscalls: [Call(names: ["write"], action: "SCMP_ACT_ALLOW", args: [Arg(index: 2, value: value, valueTwo: two, op: op)])])
            let program = try SeccompCompiler.compile(config)
            let got = program.evaluate(SeccompData(nr: 1, arch: SeccompReference.auditX86_64, args: [0, 0, arg]))
            #expect(got == (matches ? SeccompReturn.allow : SeccompReturn.errno | 1), "\(op) \(value) \(String(describing: two)) vs \(arg)")
        }
    }

    @Test("rules for one syscall are tried in order, conditions ANDed, first match wins")
    func ruleOrder() throws {
        let config = RuntimeSpec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            syscalls: [
                Call(names: ["ioctl"], action: "SCMP_ACT_ERRNO", errnoRet: 5,
                     args: [Arg(index: 0, value: 1, op: "SCMP_CMP_EQ"), Arg(index: 1, value: 0x5401, op: "SCMP_CMP_EQ")]),
                Call(names: ["ioctl"], action: "SCMP_ACT_TRACE", errnoRet: 77,
                     args: [Arg(index: 0, value: 10, op: "SCMP_CMP_LT"), Arg(index: 0, value: 2, op: "SCMP_CMP_GE")]),
                Call(names: ["ioctl", "ioctl"], action: "SCMP_ACT_LOG"),
                Call(names: ["ioctl"], action: "SCMP_ACT_KILL"),  // dead: after an unconditional rule
                Call(names: ["getpid", "nosuchcall_berth"], action: "SCMP_ACT_KILL_PROCESS"),
                Call(names: ["getppid"], action: "SCMP_ACT_TRAP"),
                Call(names: ["gettid"], action: "SCMP_ACT_KILL_THREAD"),
            ])
        let program = try SeccompCompiler.compile(config)
        #expect(program.unknownSyscalls == ["nosuchcall_berth"])
        let ioctl = try #require(SyscallTable.number(of: "ioctl", arch: .x86_64))
        func run(_ nr: UInt32, _ args: [UInt64]) -> UInt32? {
            program.evaluate(SeccompData(nr: nr, arch: SeccompReference.auditX86_64, args: args))
        }
        #expect(run(ioctl, [1, 0x5401]) == SeccompReturn.errno | 5)
        #expect(run(ioctl, [1, 0x5402]) == SeccompReturn.log)  // 1 < 2: second rule fails
        #expect(run(ioctl, [3, 0x5401]) == SeccompReturn.trace | 77)
        #expect(run(ioctl, [10, 0]) == SeccompReturn.log)
        #expect(run(39, []) == SeccompReturn.killProcess)
        #expect(run(110, []) == SeccompReturn.trap)
        #expect(run(186, []) == SeccompReturn.killThread)
        #expect(run(0, []) == SeccompReturn.allow)
        let args: [[UInt64]] = [[0, 0], [1, 0x5401], [1, 0x1_0000_5401], [2, 0], [9, 9], [10, 0], [0x1_0000_0003, 0]]
        Self.expectAgree(config, program, nrs: Self.allNumbers, arches: Self.allArches, args: args)
    }

    @Test("random configs agree with the reference (seeded)", arguments: Array(UInt64(1)...UInt64(24)))
    func randomConfigs(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let names = SyscallTable.all(arch: .x86_64).map(\.name) + ["socketcall", "_llseek", "nosuch_call"]
        let actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
                       "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_KILL"]
        let values: [UInt64] = Self.edges + [3, 8, 40, 0x2_0000]
        var calls: [Call] = []
        // Seeds above 16 get many conditional rules, forcing far jumps and trampolines.
        let ruleCount = seed > 16 ? 160 : Int.random(in: 5...60, using: &rng)
        for _ in 0..<ruleCount {
            let n = Int.random(in: 1...4, using: &rng)
            // Cluster names so syscalls collect several rules.
            let picked = (0..<n).map { _ in names[Int.random(in: 0..<min(names.count, seed > 16 ? 60 : names.count), using: &rng)] }
            let action = actions[Int.random(in: 0..<actions.count, using: &rng)]
            let errno: UInt32? = (action == "SCMP_ACT_ERRNO" || action == "SCMP_ACT_TRACE") && Bool.random(using: &rng)
                ? UInt32.random(in: 0...4095, using: &rng) : nil
            var args: [Arg] = []
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let op = Self.ops[Int.random(in: 0..<Self.ops.count, using: &rng)]
                let v = Bool.random(using: &rng) ? values[Int.random(in: 0..<values.count, using: &rng)] : rng.next()
                let two: UInt64? = op == "SCMP_CMP_MASKED_EQ" ? v & values[Int.random(in: 0..<values.count, using: &rng)] : nil
                args.append(Arg(index: UInt32.random(in: 0...2, using: &rng), value: v, valueTwo: two, op: op))
            }
            calls.append(Call(names: picked, action: action, errnoRet: errno, args: args.isEmpty ? nil : args))
        }
        let defaultAction = actions[Int.random(in: 0..<actions.count, using: &rng)]
        let archChoices: [[String]] = [[], ["SCMP_ARCH_X86"], ["SCMP_ARCH_X32"], ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"]]
        let config = RuntimeSpec.Seccomp(defaultAction: defaultAction,
                                         architectures: archChoices[Int(seed % 4)], syscalls: calls)
        let program: SeccompProgram
        do {
            program = try SeccompCompiler.compile(config)
        } catch let e as BerthError where e.message.contains("instructions") {
            return  // too long for BPF_MAXINSNS: rejected cleanly, which is all we ask
        }
        if seed > 16 {
            #expect(program.instructions.contains { $0.code == BPF.ja }, "expected far jumps")
        }
        var argSets = Self.sweepArgs
        for _ in 0..<12 {
            argSets.append((0..<6).map { _ in Bool.random(using: &rng) ? values[Int.random(in: 0..<values.count, using: &rng)] : rng.next() })
        }
        Self.expectAgree(config, program, nrs: Array(0..<480) + (0..<40).map { 0x4000_0000 | $0 } + [0x4000_0200, 0x4000_0210, 0xFFFF_FFFF],
                         arches: [SeccompReference.auditX86_64, SeccompReference.auditI386, 0x4000_0028], args: argSets)
    }

    @Test("a filter too long for BPF_MAXINSNS is rejected with an error, not truncated")
    func tooLong() throws {
        var calls: [Call] = []
        for (name, nr) in SyscallTable.all(arch: .x86_64) {
            for v in 0..<4 as Range<UInt64> {
                // Values differ per syscall, so no two syscalls can share code.
                let value = (v << 40) | (UInt64(nr) << 20) | 0xFFFF
                calls.append(Call(names: [name], action: "SCMP_ACT_ALLOW", args: [Arg(index: 1, value: value, op: "SCMP_CMP_GT")]))
            }
        }
        let config = RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: calls)
        #expect(throws: BerthError.self) { try SeccompCompiler.compile(config) }
    }

    @Test("config errors name the bad value", arguments: [
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_FOO"), "unknown action SCMP_ACT_FOO"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"]), "unknown architecture SCMP_ARCH_VAX"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"]), "unknown flag SECCOMP_FILTER_FLAG_FAST"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: ["read"], action: "SCMP_ACT_ERRNO", args: [Arg(index: 0, value: 1, op: "SCMP_CMP_ABOUT")])]),
         "unknown operator SCMP_CMP_ABOUT"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: ["read"], action: "SCMP_ACT_ERRNO", args: [Arg(index: 6, value: 1, op: "SCMP_CMP_EQ")])]),
         "argument index 6"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: ["read"], action: "SCMP_ACT_KILL", errnoRet: 3)]),
         "errnoRet is only valid"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 3), "defaultErrnoRet is only valid"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: [], action: "SCMP_ACT_KILL")]), "no syscall names"),
        (RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: 70000)]), "out of range"),
    ])
    func badConfigs(config: RuntimeSpec.Seccomp, words: String) {
        do {
            _ = try SeccompCompiler.compile(config)
            Issue.record("expected an error mentioning \(words)")
        } catch let e as BerthError {
            #expect(e.code == .invalidArgument)
            #expect(e.message.contains(words), "\(e.message)")
            #expect(e.message.hasPrefix("seccomp: "))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("SCMP_ACT_NOTIFY is unsupported, by name")
    func notify() {
        let config = RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [Call(names: ["read"], action: "SCMP_ACT_NOTIFY")])
        #expect {
            try SeccompCompiler.compile(config)
        } throws: { e in
            (e as? BerthError)?.code == .unsupported && (e as? BerthError)?.message.contains("SCMP_ACT_NOTIFY") == true
        }
    }

    @Test("flags map to SECCOMP_FILTER_FLAG_* bits")
    func flags() throws {
        let config = RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW", flags: [
            "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ])
        let p = try SeccompCompiler.compile(config)
        // WAIT_KILLABLE_RECV needs a listener (NEW_LISTENER), which Berth never creates: dropped.
        #expect(p.flags == 0b111)
    }

    @Test("errno data: rule errnoRet, else EPERM; defaultErrnoRet for the default action")
    func errnoData() throws {
        let config = RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, syscalls: [
            Call(names: ["read"], action: "SCMP_ACT_ERRNO"),
            Call(names: ["write"], action: "SCMP_ACT_ERRNO", errnoRet: 13),
            Call(names: ["open"], action: "SCMP_ACT_TRACE"),
        ])
        let p = try SeccompCompiler.compile(config)
        func run(_ nr: UInt32) -> UInt32? { p.evaluate(SeccompData(nr: nr, arch: SeccompReference.auditX86_64)) }
        #expect(run(0) == SeccompReturn.errno | 1)
        #expect(run(1) == SeccompReturn.errno | 13)
        #expect(run(2) == SeccompReturn.trace | 1)
        #expect(run(3) == SeccompReturn.errno | 38)
    }

    @Test("the program validates: jumps in range, RET last; a broken one is refused")
    func validation() throws {
        let p = try SeccompCompiler.compile(RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW"))
        try p.validate()
        var broken = p
        broken.instructions.removeLast()
        broken.instructions.append(BPFInstruction(code: BPF.jeq, jt: 9, jf: 0, k: 0))
        #expect(throws: BerthError.self) { try broken.validate() }
        broken.instructions = [BPFInstruction(code: BPF.ldAbs, k: 64), BPFInstruction(code: BPF.ret, k: 0)]
        #expect(throws: BerthError.self) { try broken.validate() }
        broken.instructions = [BPFInstruction(code: 0x07, k: 0), BPFInstruction(code: BPF.ret, k: 0)]
        #expect(throws: BerthError.self) { try broken.validate() }
    }

    @Test("the syscall table has the numbers the kernel uses")
    func table() {
        #expect(SyscallTable.number(of: "read", arch: .x86_64) == 0)
        #expect(SyscallTable.number(of: "getpid", arch: .x86_64) == 39)
        #expect(SyscallTable.number(of: "getpid", arch: .x86) == 20)
        #expect(SyscallTable.number(of: "rt_sigaction", arch: .x32) == UInt32(0x4000_0000 | 512))
        #expect(SyscallTable.number(of: "socketcall", arch: .x86) == 102)
        #expect(SyscallTable.number(of: "socketcall", arch: .x86_64) == nil)
        #expect(SyscallTable.number(of: "clone3", arch: .x86_64) == 435)
        // Newer than the 6.1 headers: from the generator's list.
        #expect(SyscallTable.number(of: "fchmodat2", arch: .x86_64) == 452)
        #expect(SyscallTable.number(of: "mseal", arch: .x86) == 462)
        #expect(SyscallTable.number(of: "map_shadow_stack", arch: .x86) == nil)
        #expect(SyscallTable.number(of: "uretprobe", arch: .x86_64) == 335)
        #expect(SyscallTable.name(of: 59, arch: .x86_64) == "execve")
        #expect(SyscallTable.names == SyscallTable.names.sorted())
        for arch in SeccompArch.allCases {
            for (name, nr) in SyscallTable.all(arch: arch) {
                #expect(Int(nr & ~SeccompArch.x32SyscallBit) < SyscallTable.slotCount, "\(name)")
            }
        }
    }
}
