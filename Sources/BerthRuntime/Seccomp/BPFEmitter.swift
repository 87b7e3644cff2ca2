import BerthSystem

/// Builds a classic BPF program back to front.
///
/// Every jump in classic BPF goes forward, so emitting the last instruction first means a jump's
/// target always exists when the jump is written, and its distance is known. A target is either
/// code already emitted (`.label`) or "return this value" (`.ret`), which needs no code of its
/// own until a jump uses it: then the nearest copy of that RET within reach is used, or a new
/// one is placed right after the jump. Conditional jumps reach 255 instructions; a code target
/// farther away gets a `ja` (32-bit offset) placed right after the jump.
struct BPFEmitter {
    /// Where a jump goes.
    enum Target: Hashable {
        /// The instruction that was the `n`-th emitted (counting from the program's end, 1-based).
        case label(Int)
        /// A RET of this value, wherever a copy is in reach.
        case ret(UInt32)
    }

    /// The program, last instruction first.
    private(set) var reversed: [BPFInstruction] = []
    /// For each return value, the label of its copy nearest to the program's start so far.
    private var nearestRet: [UInt32: Int] = [:]

    init() { reversed.reserveCapacity(512) }

    var count: Int { reversed.count }

    /// The program in execution order.
    var instructions: [BPFInstruction] { reversed.reversed() }

    /// Emits `ins` in front of everything emitted so far.
    @discardableResult
    mutating func emit(_ ins: BPFInstruction) -> Target {
        reversed.append(ins)
        return .label(reversed.count)
    }

    /// `A = seccomp_data[offset]` (32 bits), in front of `next`, which must then be emitted
    /// right after it (or be a RET, when the load is dropped as useless).
    mutating func load(_ offset: UInt32, before next: Target) -> Target {
        switch next {
        case .ret:
            return next
        case .label(let l):
            if l != count {
                // Not adjacent: bridge with an unconditional jump.
                emit(BPFInstruction(code: BPF.ja, k: UInt32(count - l)))
            }
            return emit(BPFInstruction(code: BPF.ldAbs, k: offset))
        }
    }

    /// `A &= mask`.
    mutating func and(_ mask: UInt32) {
        emit(BPFInstruction(code: BPF.andK, k: mask))
    }

    /// A conditional jump on A: `op` is `BPF.jeq`, `.jgt`, `.jge` or `.jset`. When both targets
    /// are the same nothing is emitted and that target is returned.
    mutating func jump(_ op: UInt16, _ k: UInt32, _ jt: Target, _ jf: Target) -> Target {
        if jt == jf { return jt }
        // 254, not 255: resolving the second target may put one more instruction in between.
        let t = reachable(jt, within: 254)
        let f = reachable(jf, within: 254)
        let c = count
        return emit(BPFInstruction(code: op, jt: UInt8(c - t), jf: UInt8(c - f), k: k))
    }

    /// A label for `target` at most `limit` instructions past the next one to be emitted,
    /// emitting a RET copy or a `ja` trampoline if needed.
    private mutating func reachable(_ target: Target, within limit: Int) -> Int {
        switch target {
        case .label(let l):
            if count - l <= limit { return l }
            emit(BPFInstruction(code: BPF.ja, k: UInt32(count - l)))
            return count
        case .ret(let value):
            if let l = nearestRet[value], count - l <= limit { return l }
            emit(BPFInstruction(code: BPF.ret, k: value))
            nearestRet[value] = count
            return count
        }
    }

    /// Makes `target` the first instruction of the program: a RET for a bare `.ret`, a `ja` if
    /// the label is not the last emitted instruction.
    mutating func finish(entry target: Target) {
        switch target {
        case .ret(let value):
            emit(BPFInstruction(code: BPF.ret, k: value))
        case .label(let l):
            if l != count { emit(BPFInstruction(code: BPF.ja, k: UInt32(count - l))) }
        }
    }
}
