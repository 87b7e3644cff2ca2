import BerthCore
import BerthOCI

/// The device rules of a container, validated once and rendered for either cgroup version:
/// `devices.allow`/`devices.deny` lines on v1, an eBPF program on v2.
///
/// Semantics (as runc): the spec's rules in order, then runc's default allowed devices (mknod of
/// anything, /dev/null, zero, full, random, urandom, tty, ptmx and the ptys). A rule matching
/// everything (`a *:* rwm`) resets what came before; otherwise the last matching rule decides,
/// and a device no rule matches is allowed (the parent cgroup's rules still apply).
public struct CgroupDeviceRules: Sendable, Equatable {
    /// One validated rule.
    public struct Rule: Sendable, Equatable {
        /// Allow (true) or deny.
        public var allow: Bool
        /// `a` (any), `b` or `c`.
        public var type: Character
        /// nil for any.
        public var major: Int64?
        /// nil for any.
        public var minor: Int64?
        /// A non-empty subset of `rwm`, in that order.
        public var access: String

        /// Whether the rule matches every device with every access.
        public var isWildcard: Bool { type == "a" && major == nil && minor == nil && access == "rwm" }

        /// The v1 `devices.allow`/`devices.deny` line: `a`, `c 1:3 rwm`, `b *:* m`.
        public var v1Line: String {
            if isWildcard { return "a" }
            return "\(type) \(major.map { String($0) } ?? "*"):\(minor.map { String($0) } ?? "*") \(access)"
        }

        /// Memberwise initializer.
        public init(allow: Bool, type: Character, major: Int64? = nil, minor: Int64? = nil, access: String = "rwm") {
            self.allow = allow
            self.type = type
            self.major = major
            self.minor = minor
            self.access = access
        }
    }

    /// The rules to write, in order (the spec's, then the defaults).
    public var rules: [Rule]

    /// runc's default allowed devices, appended after the spec's rules.
    public static let defaults: [Rule] = [
        Rule(allow: true, type: "c", access: "m"), Rule(allow: true, type: "b", access: "m"),
        Rule(allow: true, type: "c", major: 1, minor: 3), Rule(allow: true, type: "c", major: 1, minor: 8),
        Rule(allow: true, type: "c", major: 1, minor: 7), Rule(allow: true, type: "c", major: 5, minor: 0),
        Rule(allow: true, type: "c", major: 1, minor: 5), Rule(allow: true, type: "c", major: 1, minor: 9),
        Rule(allow: true, type: "c", major: 136), Rule(allow: true, type: "c", major: 5, minor: 2),
    ]

    /// Validates the spec's rules; nil when there are none (nothing is written then). A rule of
    /// type `a` that is not a full wildcard is split into its `c` and `b` halves (v1 would read
    /// any `a` line as "all devices").
    public init?(_ spec: [RuntimeSpec.DeviceCgroup]?) throws {
        guard let spec, !spec.isEmpty else { return nil }
        var rules: [Rule] = []
        for (i, d) in spec.enumerated() {
            let what = "linux.resources.devices[\(i)]"
            let type: Character
            switch d.type ?? "a" {
            case "a", "": type = "a"
            case "b": type = "b"
            case "c": type = "c"
            case let other: throw BerthError.invalid("cgroup: \(what): unknown device type \"\(other)\" (want a, b or c)")
            }
            func number(_ v: Int64?, _ name: String) throws -> Int64? {
                guard let v, v != -1 else { return nil }
                guard v >= 0, v <= Int64(Int32.max) else { throw BerthError.invalid("cgroup: \(what): invalid \(name) \(v)") }
                return v
            }
            let major = try number(d.major, "major"), minor = try number(d.minor, "minor")
            let raw = d.access ?? "rwm"
            guard !raw.isEmpty, raw.allSatisfy({ "rwm".contains($0) }) else {
                throw BerthError.invalid("cgroup: \(what): invalid access \"\(raw)\" (want letters of rwm)")
            }
            let access = String("rwm".filter { raw.contains($0) })
            let rule = Rule(allow: d.allow, type: type, major: major, minor: minor, access: access)
            if type == "a" && !rule.isWildcard {
                rules.append(Rule(allow: d.allow, type: "c", major: major, minor: minor, access: access))
                rules.append(Rule(allow: d.allow, type: "b", major: major, minor: minor, access: access))
            } else {
                rules.append(rule)
            }
        }
        self.rules = rules + CgroupDeviceRules.defaults
    }

    /// The rules that can still decide, and the answer when none matches: everything before the
    /// last wildcard rule is dead, and that rule's verdict becomes the default.
    var effective: (rules: [Rule], defaultAllow: Bool) {
        guard let last = rules.lastIndex(where: { $0.isWildcard }) else { return (rules, true) }
        return (Array(rules[(last + 1)...]), rules[last].allow)
    }

    // MARK: eBPF (cgroup v2)

    /// The `BPF_PROG_TYPE_CGROUP_DEVICE` program, as encoded `struct bpf_insn`s (runc's layout):
    /// load type, access, major, minor from the context into r2–r5; then one block per rule, last
    /// rule first, each falling through to the next when a field differs and returning the rule's
    /// verdict otherwise; the default verdict last.
    public var program: [UInt64] {
        let (rules, defaultAllow) = effective
        var p: [UInt64] = [
            Insn.ldxW(dst: 2, src: 1, off: 0), Insn.and32(dst: 2, imm: 0xFFFF),  // r2 = type
            Insn.ldxW(dst: 3, src: 1, off: 0), Insn.rsh32(dst: 3, imm: 16),      // r3 = access
            Insn.ldxW(dst: 4, src: 1, off: 4),                                    // r4 = major
            Insn.ldxW(dst: 5, src: 1, off: 8),                                    // r5 = minor
        ]
        for rule in rules.reversed() {
            // Each test jumps past the rest of the block when the field does not match.
            var tests: [(Int16) -> [UInt64]] = []
            if rule.type != "a" {
                let t: Int32 = rule.type == "c" ? 2 : 1   // BPF_DEVCG_DEV_CHAR / _BLOCK
                tests.append { [Insn.jneImm(dst: 2, imm: t, off: $0)] }
            }
            if rule.access != "rwm" {
                var bits: Int32 = 0
                if rule.access.contains("m") { bits |= 1 }   // BPF_DEVCG_ACC_MKNOD
                if rule.access.contains("r") { bits |= 2 }   // BPF_DEVCG_ACC_READ
                if rule.access.contains("w") { bits |= 4 }   // BPF_DEVCG_ACC_WRITE
                // The requested access must lie within the rule's: (r3 & bits) == r3.
                tests.append { [Insn.mov32Reg(dst: 1, src: 3), Insn.and32(dst: 1, imm: bits), Insn.jneReg(dst: 1, src: 3, off: $0)] }
            }
            if let major = rule.major { tests.append { [Insn.jneImm(dst: 4, imm: Int32(major), off: $0)] } }
            if let minor = rule.minor { tests.append { [Insn.jneImm(dst: 5, imm: Int32(minor), off: $0)] } }
            // Lay the block out: compute each test's length to know the jump distances.
            let lengths = tests.map { $0(0).count }
            let blockLength = lengths.reduce(0, +) + 2
            var emitted = 0
            for (i, test) in tests.enumerated() {
                let jumpIndex = emitted + lengths[i] - 1          // the jump is the test's last insn
                let off = Int16(blockLength - jumpIndex - 1)
                p += test(off)
                emitted += lengths[i]
            }
            p += [Insn.mov32Imm(dst: 0, imm: rule.allow ? 1 : 0), Insn.exit]
        }
        p += [Insn.mov32Imm(dst: 0, imm: defaultAllow ? 1 : 0), Insn.exit]
        return p
    }

    /// `struct bpf_insn` encoding: opcode, dst/src nibbles, 16-bit offset, 32-bit immediate
    /// (little endian, as on every architecture Berth runs on).
    enum Insn {
        static func make(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
            UInt64(code) | UInt64((src << 4) | (dst & 0xF)) << 8
                | UInt64(UInt16(bitPattern: off)) << 16 | UInt64(UInt32(bitPattern: imm)) << 32
        }
        /// dst = *(u32 *)(src + off)   (BPF_LDX | BPF_MEM | BPF_W)
        static func ldxW(dst: UInt8, src: UInt8, off: Int16) -> UInt64 { make(0x61, dst: dst, src: src, off: off) }
        /// dst &= imm   (BPF_ALU | BPF_AND | BPF_K)
        static func and32(dst: UInt8, imm: Int32) -> UInt64 { make(0x54, dst: dst, imm: imm) }
        /// dst >>= imm   (BPF_ALU | BPF_RSH | BPF_K)
        static func rsh32(dst: UInt8, imm: Int32) -> UInt64 { make(0x74, dst: dst, imm: imm) }
        /// dst = src   (BPF_ALU | BPF_MOV | BPF_X)
        static func mov32Reg(dst: UInt8, src: UInt8) -> UInt64 { make(0xBC, dst: dst, src: src) }
        /// dst = imm   (BPF_ALU | BPF_MOV | BPF_K)
        static func mov32Imm(dst: UInt8, imm: Int32) -> UInt64 { make(0xB4, dst: dst, imm: imm) }
        /// if dst != imm goto +off   (BPF_JMP | BPF_JNE | BPF_K)
        static func jneImm(dst: UInt8, imm: Int32, off: Int16) -> UInt64 { make(0x55, dst: dst, off: off, imm: imm) }
        /// if dst != src goto +off   (BPF_JMP | BPF_JNE | BPF_X)
        static func jneReg(dst: UInt8, src: UInt8, off: Int16) -> UInt64 { make(0x5D, dst: dst, src: src, off: off) }
        /// return r0   (BPF_JMP | BPF_EXIT)
        static let exit: UInt64 = make(0x95)
    }
}
