import BerthCore
import BerthOCI
@testable import BerthRuntime
import BerthSystem
import Glibc
import Testing

/// Filters loaded into a real kernel. Each case forks a child in C (only raw system calls run
/// there, so forking this multi-threaded test process is safe) that sets no_new_privs, loads
/// the filter, makes one system call and reports. Needs Linux with seccomp; runs as any user
/// (no_new_privs makes loading unprivileged).
@Suite("seccomp enforcement")
struct SeccompEnforcementTests {
    // x86_64 numbers.
    static let getpid = 39, getppid = 110, personality = 135, socket = 41, unshare = 272
    static let keyctl = 250, addKey = 248, kexecLoad = 246, openByHandleAt = 304, mount = 165

    static func docker(defaultErrno: UInt32? = nil) throws -> SeccompProgram {
        var c = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities)
        if let defaultErrno { c.defaultErrnoRet = defaultErrno }
        return try SeccompCompiler.compile(c)
    }

    static func run(_ p: SeccompProgram, _ nr: Int, _ args: [UInt64] = []) throws -> Seccomp.ChildOutcome {
        try Seccomp.runInFilteredChild(instructions: p.instructions, flags: p.flags, syscall: nr, args: args)
    }

    static func errno(of outcome: Seccomp.ChildOutcome) -> Int32? {
        if case .returned(let r, let e) = outcome, r == -1 { return e }
        return nil
    }

    static func succeeded(_ outcome: Seccomp.ChildOutcome) -> Bool {
        if case .returned(let r, _) = outcome { return r >= 0 }
        return false
    }

    static let allowAll = RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ALLOW")

    /// Calls Docker's default profile blocks; the arguments are harmless even if a call got
    /// through (kexec_load gets invalid flags, so it can never unload a loaded kernel).
    static let blocked: [(String, Int, [UInt64])] = [
        ("keyctl", keyctl, [0, 0xFFFF_FFFF_FFFF_FFFE, 1]),  // KEYCTL_GET_KEYRING_ID, process keyring
        ("add_key", addKey, []),
        ("kexec_load", kexecLoad, [0, 0, 0, 0x7FFF_0000]),
        ("open_by_handle_at", openByHandleAt, [UInt64(bitPattern: -1), 0, 0]),
        ("unshare(CLONE_NEWUSER)", unshare, [0x1000_0000]),
        ("mount", mount, []),
        ("personality(ADDR_NO_RANDOMIZE)", personality, [0x0040_0000]),
        ("personality(1 << 32): the high word counts", personality, [0x1_0000_0000]),
        ("socket(AF_ALG)", socket, [38, 5, 0]),
        ("socket(AF_VSOCK)", socket, [40, 1, 0]),
    ]

    @Test("Docker's default profile: blocked calls fail with EPERM, from the filter")
    func dockerBlocks() throws {
        let docker = try Self.docker()
        // The same filter with a distinctive default errno proves the EPERM is the filter's.
        let marked = try Self.docker(defaultErrno: 133)
        for (what, nr, args) in Self.blocked {
            #expect(Self.errno(of: try Self.run(docker, nr, args)) == EPERM, "\(what)")
            #expect(Self.errno(of: try Self.run(marked, nr, args)) == 133, "\(what)")
        }
    }

    @Test("syscalls newer than the profile get ENOSYS, as under runc")
    func newerSyscalls() throws {
        let docker = try Self.docker()
        // file_getattr (468, Linux 6.17) is not in Docker's profile and above all it names.
        #expect(Self.errno(of: try Self.run(docker, 468, [UInt64(bitPattern: -1)])) == ENOSYS)
        #expect(Self.errno(of: try Self.run(docker, 999)) == ENOSYS)
    }

    @Test("Docker's default profile: ordinary calls work, personality only for Docker's values")
    func dockerAllows() throws {
        let docker = try Self.docker()
        #expect(Self.succeeded(try Self.run(docker, Self.getpid)))
        #expect(Self.succeeded(try Self.run(docker, Self.getppid)))
        for persona: UInt64 in [0xFFFF_FFFF, 0, 0x8, 0x2_0000, 0x2_0008] {
            #expect(Self.succeeded(try Self.run(docker, Self.personality, [persona])), "personality \(persona)")
        }
        for family: UInt64 in [1, 2, 10, 16, 37, 39, 41, 44] {  // unix, inet, inet6, netlink, …
            let r = try Self.run(docker, Self.socket, [family, 2, 0])
            #expect(Self.errno(of: r) != EPERM, "socket family \(family): \(r)")
        }
        // Without the filter the blocked calls do get through to the kernel (control).
        let open = try SeccompCompiler.compile(Self.allowAll)
        #expect(Self.succeeded(try Self.run(open, Self.personality, [0x0040_0000])))
        if getuid() == 0 {  // unprivileged, the kernel itself refuses with EPERM (no CAP_DAC_READ_SEARCH)
            #expect(Self.errno(of: try Self.run(open, Self.openByHandleAt, [UInt64(bitPattern: -1), 0, 0])) != EPERM)
        }
    }

    @Test("KILL_PROCESS, KILL (thread) and TRAP end the caller with SIGSYS")
    func kills() throws {
        for action in ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"] {
            let p = try SeccompCompiler.compile(RuntimeSpec.Seccomp(
                defaultAction: "SCMP_ACT_ALLOW",
                syscalls: [RuntimeSpec.Syscall(names: ["getppid"], action: action)]))
            #expect(try Self.run(p, Self.getppid) == .killed(signal: SIGSYS), "\(action)")
            #expect(Self.succeeded(try Self.run(p, Self.getpid)), "\(action)")
        }
    }

    @Test("argument conditions in the kernel: 64-bit GT, MASKED_EQ, errno values, flags")
    func conditions() throws {
        let p = try SeccompCompiler.compile(RuntimeSpec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            syscalls: [
                RuntimeSpec.Syscall(names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 55,
                                    args: [.init(index: 2, value: 0xFFFF_FFFF, op: "SCMP_CMP_GT")]),
                RuntimeSpec.Syscall(names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 66,
                                    args: [.init(index: 0, value: 0xF0, valueTwo: 0x10, op: "SCMP_CMP_MASKED_EQ")]),
            ]))
        #expect(p.flags == 7)
        #expect(Self.errno(of: try Self.run(p, Self.getppid, [0, 0, 0x1_0000_0000])) == 55)
        #expect(Self.succeeded(try Self.run(p, Self.getppid, [0, 0, 0xFFFF_FFFF])))
        #expect(Self.errno(of: try Self.run(p, Self.getppid, [0x1F])) == 66)
        #expect(Self.errno(of: try Self.run(p, Self.getppid, [0x1_0000_0013])) == 66)
        #expect(Self.succeeded(try Self.run(p, Self.getppid, [0x2F])))
    }

    @Test("a long program with far jumps (ja) passes the kernel's checker and behaves")
    func longProgram() throws {
        var calls: [RuntimeSpec.Syscall] = []
        for (name, nr) in SyscallTable.all(arch: .x86_64) {
            calls.append(RuntimeSpec.Syscall(names: [name], action: "SCMP_ACT_ALLOW",
                                             args: [.init(index: 1, value: (UInt64(nr) << 32) | 0xFFFF, op: "SCMP_CMP_GT")]))
        }
        let p = try SeccompCompiler.compile(RuntimeSpec.Seccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 77, syscalls: calls))
        #expect(p.instructions.count > 1500)
        #expect(p.instructions.contains { $0.code == BPF.ja })
        #expect(Self.succeeded(try Self.run(p, Self.getpid, [0, UInt64.max])))
        #expect(Self.errno(of: try Self.run(p, Self.getpid, [0, (39 << 32) | 0xFFFF])) == 77)
        #expect(Self.succeeded(try Self.run(p, Self.getpid, [0, (39 << 32) | 0x1_0000])))
    }

    @Test("the loader reports a program the kernel rejects; nothing is installed")
    func loaderErrors() throws {
        // A jump past the end: the kernel's checker refuses it with EINVAL before attaching.
        let bad = [BPFInstruction(code: BPF.jeq, jt: 5, jf: 0, k: 0), BPFInstruction(code: BPF.ret, k: SeccompReturn.allow)]
        #expect {
            try Seccomp.load(instructions: bad)
        } throws: { e in
            let b = e as? BerthError
            // EACCES if this runs unprivileged without no_new_privs.
            return (b?.errno == EINVAL || b?.errno == EACCES) && b?.message.hasPrefix("seccomp load") == true
        }
        #expect(throws: BerthError.self) { try Seccomp.load(instructions: []) }
        #expect(try Seccomp.runInFilteredChild(instructions: bad, syscall: Self.getpid) == .setupFailed(stage: 2, errno: EINVAL))
    }
}
