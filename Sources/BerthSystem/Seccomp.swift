#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BerthCore
import CBerth

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
public struct BPFInstruction: Sendable, Hashable, CustomStringConvertible {
    /// Opcode: class | size/op | mode/source (`BPF_LD | BPF_W | BPF_ABS`, …).
    public var code: UInt16
    /// Conditional jumps: instructions to skip when the condition holds.
    public var jt: UInt8
    /// Conditional jumps: instructions to skip when it does not.
    public var jf: UInt8
    /// The constant operand (offset, immediate, jump distance of `ja`, return value).
    public var k: UInt32

    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    public var description: String {
        "{ 0x\(String(code, radix: 16)), \(jt), \(jf), 0x\(String(k, radix: 16)) }"
    }
}

/// Loading seccomp filters into the calling thread.
///
/// The kernel accepts a filter only from a thread that has `no_new_privs` set or holds
/// CAP_SYS_ADMIN in its user namespace. Ordering that is the caller's job (runc's order, which
/// `ProcessSetup` follows): set no_new_privs first if the container asks for it; *without* it,
/// load the filter before dropping capabilities (loading needs CAP_SYS_ADMIN); *with* it, load
/// the filter as late as possible, right before execve, so that the filter need not allow the
/// system calls of the setup itself.
public enum Seccomp {
    /// The kernel's limit on the length of a classic BPF program (`BPF_MAXINSNS`).
    public static let maxInstructions = 4096

    /// `SECCOMP_FILTER_FLAG_*` bits understood by `load`.
    public enum FilterFlag {
        public static let tsync: UInt32 = 1 << 0
        public static let log: UInt32 = 1 << 1
        public static let specAllow: UInt32 = 1 << 2
        public static let newListener: UInt32 = 1 << 3
        public static let tsyncESRCH: UInt32 = 1 << 4
        public static let waitKillableRecv: UInt32 = 1 << 5
    }

    /// Installs `instructions` as a seccomp filter of the calling thread (every thread of the
    /// process with `FilterFlag.tsync`): `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`, or
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)` on kernels without seccomp(2) when
    /// `flags` is 0. Filters stack: a loaded filter can never be removed.
    ///
    /// Precondition (the caller orders it): no_new_privs is set, or the thread holds
    /// CAP_SYS_ADMIN. Throws `BerthError.sys("seccomp load", errno)` on failure — EACCES when
    /// neither holds, EINVAL for a program or flags the kernel rejects.
    public static func load(instructions: [BPFInstruction], flags: UInt32 = 0) throws {
        guard !instructions.isEmpty, instructions.count <= maxInstructions else {
            throw BerthError.invalid("seccomp: program of \(instructions.count) instructions (1 to \(maxInstructions) allowed)")
        }
        let filter = instructions.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        let len = UInt16(filter.count)
        // errno is read inside each closure, before anything else can clobber it.
        var (r, err) = filter.withUnsafeBufferPointer { buf -> (Int32, Int32) in
            // SAFETY: `buf` is a live, contiguous array of `len` sock_filter values for the
            // duration of the call; the kernel copies the program before returning.
            let r = berth_seccomp_set_filter(flags, buf.baseAddress, len)
            return (r, r == 0 ? 0 : errno)
        }
        if r != 0 && err == ENOSYS && flags == 0 {
            (r, err) = filter.withUnsafeBufferPointer { buf -> (Int32, Int32) in
                // SAFETY: as above; prctl copies the program before returning.
                let r = berth_seccomp_prctl_filter(buf.baseAddress, len)
                return (r, r == 0 ? 0 : errno)
            }
        }
        if r != 0 { throw BerthError.sys("seccomp load", err) }
    }

    /// What happened in a filtered child of `runInFilteredChild`.
    public enum ChildOutcome: Sendable, Equatable {
        /// The system call returned `result`; `errno` is set when it returned -1.
        case returned(result: Int, errno: Int32)
        /// The child was killed by `signal` (SIGSYS for a KILL action) before reporting.
        case killed(signal: Int32)
        /// Setting no_new_privs (stage 1) or loading the filter (stage 2) failed.
        case setupFailed(stage: Int32, errno: Int32)
        /// The child ended some other way (wait status).
        case other(status: Int32)
    }

    /// Forks a child (in C, running only raw system calls, so safe from a multi-threaded
    /// process) that sets no_new_privs, loads the filter, makes system call `number` with `args`
    /// (six at most, the rest zero) and reports what happened. For tests and diagnostics: this is
    /// how a filter's enforcement is checked without forking Swift code.
    public static func runInFilteredChild(instructions: [BPFInstruction], flags: UInt32 = 0,
                                          syscall number: Int, args: [UInt64] = []) throws -> ChildOutcome {
        guard !instructions.isEmpty, instructions.count <= maxInstructions, args.count <= 6 else {
            throw BerthError.invalid("seccomp self-test: bad program or more than 6 arguments")
        }
        let filter = instructions.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        var raw = [UInt](repeating: 0, count: 6)
        for (i, a) in args.enumerated() { raw[i] = UInt(a) }
        var out = berth_seccomp_outcome()
        let err = filter.withUnsafeBufferPointer { buf in
            raw.withUnsafeBufferPointer { argBuf -> Int32 in
                // SAFETY: both buffers and `out` stay alive for the call; the C side reads
                // `len` instructions and exactly 6 arguments, and writes only `out`.
                berth_seccomp_selftest(buf.baseAddress, UInt16(filter.count), flags, number, argBuf.baseAddress, &out) == 0 ? 0 : errno
            }
        }
        if err != 0 { throw BerthError.sys("seccomp self-test fork", err) }
        switch out.stage {
        case 0: return .returned(result: out.ret, errno: out.err)
        case 1, 2: return .setupFailed(stage: out.stage, errno: out.err)
        default:
            let status = out.wait_status
            if berth_wifsignaled(status) != 0 { return .killed(signal: berth_wtermsig(status)) }
            return .other(status: status)
        }
    }

    /// The running kernel's release (`uname -r`), e.g. `6.1.0-18-amd64`, or nil if uname fails.
    /// Docker's profiles compare it with their `minKernel` fields.
    public static func kernelRelease() -> String? {
        var u = utsname()
        // SAFETY: `&u` points at a local utsname that uname fills and that outlives the call.
        guard uname(&u) == 0 else { return nil }
        return withUnsafeBytes(of: &u.release) { raw -> String in
            // SAFETY: `release` is a fixed-size, NUL-terminated char array inside `u`, which
            // outlives this closure; we read only up to the first NUL or the array's end.
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
