import BerthCore
import BerthSystem

/// A compiled seccomp filter: a classic BPF program over `struct seccomp_data`, ready to load.
/// Made by `SeccompCompiler.compile`; loaded in the container's init by `load()`.
public struct SeccompProgram: Sendable, Equatable {
    /// The program, in execution order.
    public var instructions: [BPFInstruction]
    /// `SECCOMP_FILTER_FLAG_*` bits to load it with.
    public var flags: UInt32
    /// The architectures the program lets through (anything else gets `badArchAction`).
    public var architectures: [SeccompArch]
    /// Names in the config that none of `architectures` has; they were skipped, as runc does.
    public var unknownSyscalls: [String]

    public init(instructions: [BPFInstruction], flags: UInt32 = 0, architectures: [SeccompArch] = [.x86_64],
                unknownSyscalls: [String] = []) {
        self.instructions = instructions
        self.flags = flags
        self.architectures = architectures
        self.unknownSyscalls = unknownSyscalls
    }

    /// Installs the filter in the calling thread (see `Seccomp.load` for the preconditions: the
    /// caller must have set no_new_privs or still hold CAP_SYS_ADMIN).
    public func load() throws {
        try Seccomp.load(instructions: instructions, flags: flags)
    }

    /// Checks what the kernel's classic BPF checker would, and a little more: 1 to 4096
    /// instructions, only the opcodes the compiler emits, loads inside `seccomp_data` and
    /// 4-byte aligned, every jump forward and inside the program, and a RET last.
    public func validate() throws {
        let n = instructions.count
        guard n > 0, n <= Seccomp.maxInstructions else {
            throw BerthError.invalid("seccomp: program of \(n) instructions (1 to \(Seccomp.maxInstructions) allowed)")
        }
        for (i, ins) in instructions.enumerated() {
            switch ins.code {
            case BPF.ldAbs:
                guard ins.k < SeccompData.size, ins.k % 4 == 0 else {
                    throw BerthError.invalid("seccomp: instruction \(i): load at offset \(ins.k)")
                }
            case BPF.andK, BPF.ret:
                break
            case BPF.ja:
                guard UInt64(i) + 1 + UInt64(ins.k) < UInt64(n) else {
                    throw BerthError.invalid("seccomp: instruction \(i): jump past the end")
                }
            case BPF.jeq, BPF.jgt, BPF.jge, BPF.jset:
                guard i + 1 + Int(ins.jt) < n, i + 1 + Int(ins.jf) < n else {
                    throw BerthError.invalid("seccomp: instruction \(i): jump past the end")
                }
            default:
                throw BerthError.invalid("seccomp: instruction \(i): unexpected opcode 0x\(String(ins.code, radix: 16))")
            }
        }
        guard instructions[n - 1].code == BPF.ret else {
            throw BerthError.invalid("seccomp: program does not end in a return")
        }
    }

    /// Runs the program on one system call, as the kernel would, and returns the
    /// `SECCOMP_RET_*` value; nil if the program misbehaves (use `validate` first).
    /// Understands exactly the opcodes `validate` allows.
    func evaluate(_ data: SeccompData) -> UInt32? {
        var a: UInt32 = 0
        var pc = 0
        while pc < instructions.count {
            let ins = instructions[pc]
            pc += 1
            switch ins.code {
            case BPF.ldAbs:
                guard let w = data.word(at: ins.k) else { return nil }
                a = w
            case BPF.andK: a &= ins.k
            case BPF.ret: return ins.k
            case BPF.ja: pc += Int(ins.k)
            case BPF.jeq: pc += a == ins.k ? Int(ins.jt) : Int(ins.jf)
            case BPF.jgt: pc += a > ins.k ? Int(ins.jt) : Int(ins.jf)
            case BPF.jge: pc += a >= ins.k ? Int(ins.jt) : Int(ins.jf)
            case BPF.jset: pc += a & ins.k != 0 ? Int(ins.jt) : Int(ins.jf)
            default: return nil
            }
        }
        return nil
    }
}

/// `struct seccomp_data` as the filter sees it (little-endian, as on all x86 ABIs).
struct SeccompData: Sendable {
    static let size: UInt32 = 64
    var nr: UInt32
    var arch: UInt32
    var instructionPointer: UInt64 = 0
    var args: [UInt64] = [0, 0, 0, 0, 0, 0]

    init(nr: UInt32, arch: UInt32, args: [UInt64] = []) {
        self.nr = nr
        self.arch = arch
        for (i, v) in args.prefix(6).enumerated() { self.args[i] = v }
    }

    /// The 32-bit word at byte `offset` (4-aligned, below 64).
    func word(at offset: UInt32) -> UInt32? {
        switch offset {
        case 0: return nr
        case 4: return arch
        case 8: return UInt32(truncatingIfNeeded: instructionPointer)
        case 12: return UInt32(truncatingIfNeeded: instructionPointer >> 32)
        case 16..<64 where offset % 4 == 0:
            let v = args[Int(offset - 16) / 8]
            return offset % 8 == 0 ? UInt32(truncatingIfNeeded: v) : UInt32(truncatingIfNeeded: v >> 32)
        default: return nil
        }
    }

    /// Byte offsets of the low and high words of argument `index`.
    static func argOffsets(_ index: Int) -> (lo: UInt32, hi: UInt32) {
        let lo = 16 + 8 * UInt32(index)
        return (lo, lo + 4)
    }
}

/// Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
enum BPF {
    /// BPF_LD | BPF_W | BPF_ABS
    static let ldAbs: UInt16 = 0x20
    /// BPF_ALU | BPF_AND | BPF_K
    static let andK: UInt16 = 0x54
    /// BPF_JMP | BPF_JA
    static let ja: UInt16 = 0x05
    /// BPF_JMP | BPF_JEQ | BPF_K
    static let jeq: UInt16 = 0x15
    /// BPF_JMP | BPF_JGT | BPF_K
    static let jgt: UInt16 = 0x25
    /// BPF_JMP | BPF_JGE | BPF_K
    static let jge: UInt16 = 0x35
    /// BPF_JMP | BPF_JSET | BPF_K
    static let jset: UInt16 = 0x45
    /// BPF_RET | BPF_K
    static let ret: UInt16 = 0x06

    /// Offsets in `seccomp_data`.
    static let nrOffset: UInt32 = 0
    static let archOffset: UInt32 = 4
}

/// `SECCOMP_RET_*` values: the action in the high 16 bits, data (errno, trace message) low.
public enum SeccompReturn {
    public static let killProcess: UInt32 = 0x8000_0000
    public static let killThread: UInt32 = 0x0000_0000
    public static let trap: UInt32 = 0x0003_0000
    public static let errno: UInt32 = 0x0005_0000
    public static let userNotif: UInt32 = 0x7FC0_0000
    public static let trace: UInt32 = 0x7FF0_0000
    public static let log: UInt32 = 0x7FFC_0000
    public static let allow: UInt32 = 0x7FFF_0000
    /// SECCOMP_RET_DATA
    public static let dataMask: UInt32 = 0x0000_FFFF
}
