/// IP addresses and CIDR blocks as values: strict parsing from text, canonical formatting,
/// ordering, and the arithmetic IPAM needs (network, broadcast, n-th address, containment,
/// overlap). Codable as their text form (`"10.1.0.5"`, `"fd00::1"`, `"10.1.0.0/16"`).
///
/// Parsing is strict, as Go's `net/netip` is (Docker's API is Go): IPv4 is exactly four decimal
/// parts 0–255 without leading zeros (`010.0.0.1` could mean octal elsewhere, so it is refused);
/// IPv6 is RFC 4291 text (hex groups, one `::`, an optional trailing dotted IPv4 part), without
/// zone (`%eth0`); no surrounding spaces. Formatting is RFC 5952 (lower case, the longest run of
/// two or more zero groups shortened to `::`, the first run on a tie), with IPv4-mapped
/// addresses written `::ffff:1.2.3.4` as Go does.

/// An IPv4 address.
public struct IPv4Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    LosslessStringConvertible
{
    /// The address as a number: `10.0.0.1` is `0x0A00_0001`.
    public var value: UInt32

    /// The address with this numeric value.
    public init(_ value: UInt32) { self.value = value }

    /// The address `a.b.c.d`.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text (`192.168.0.1`); `nil` for anything else.
    public init?(_ text: String) { self.init(parsing: text.utf8) }

    /// Parses dotted-quad text from a substring.
    public init?(_ text: Substring) { self.init(parsing: text.utf8) }

    /// The address from 4 bytes in network order; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    init?(parsing utf8: some Collection<UInt8>) {
        guard let v = IPv4Address.parse(utf8) else { return nil }
        value = v
    }

    static func parse(_ utf8: some Collection<UInt8>) -> UInt32? {
        var value: UInt32 = 0, part: UInt32 = 0, digits = 0, dots = 0
        for c in utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits > 0 && part == 0 { return nil }  // leading zero
                part = part * 10 + UInt32(c - UInt8(ascii: "0"))
                digits += 1
                if part > 255 { return nil }
            case UInt8(ascii: "."):
                if digits == 0 || dots == 3 { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            default:
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return value << 8 | part
    }

    /// The 4 bytes in network order.
    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 255), UInt8(value >> 8 & 255), UInt8(value & 255)] }

    /// Dotted-quad text.
    public var description: String { "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)" }

    /// `0.0.0.0`.
    public static let any = IPv4Address(0)
    /// `255.255.255.255`.
    public static let broadcast = IPv4Address(.max)
    /// `127.0.0.1`.
    public static let loopback = IPv4Address(127, 0, 0, 1)

    /// `0.0.0.0`.
    public var isUnspecified: Bool { value == 0 }
    /// In 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }
    /// In 169.254.0.0/16.
    public var isLinkLocal: Bool { value >> 16 == 0xA9FE }
    /// In 224.0.0.0/4.
    public var isMulticast: Bool { value >> 28 == 0xE }
    /// In the RFC 1918 ranges 10/8, 172.16/12, 192.168/16.
    public var isPrivate: Bool { value >> 24 == 10 || value >> 20 == 0xAC1 || value >> 16 == 0xC0A8 }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let a = IPv4Address(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid IPv4 address: \(text)")
        }
        self = a
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv6 address (without zone).
public struct IPv6Address: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    LosslessStringConvertible
{
    /// The address as a number, first byte most significant: `::1` is 1.
    public var value: UInt128

    /// The address with this numeric value.
    public init(_ value: UInt128) { self.value = value }

    /// The address from its eight 16-bit groups, first group first.
    public init?(groups: [UInt16]) {
        guard groups.count == 8 else { return nil }
        value = groups.reduce(0) { $0 << 16 | UInt128($1) }
    }

    /// Parses RFC 4291 text (`fd00::1`, `::ffff:10.0.0.1`); `nil` for anything else.
    public init?(_ text: String) { self.init(parsing: Array(text.utf8)) }

    /// Parses RFC 4291 text from a substring.
    public init?(_ text: Substring) { self.init(parsing: Array(text.utf8)) }

    /// The address from 16 bytes in network order; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt128($1) }
    }

    /// The IPv4-mapped address `::ffff:a.b.c.d`.
    public init(mapping v4: IPv4Address) { value = 0xFFFF << 32 | UInt128(v4.value) }

    init?(parsing s: [UInt8]) {
        guard let v = IPv6Address.parse(s) else { return nil }
        value = v
    }

    private static func hexValue(_ c: UInt8) -> UInt16? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt16(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt16(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt16(c - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    static func parse(_ s: [UInt8]) -> UInt128? {
        let colon = UInt8(ascii: ":")
        // The longest text form is "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
        guard s.count >= 2, s.count <= 45 else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        var compressed = false
        var i = 0
        if s[0] == colon {
            guard s[1] == colon else { return nil }
            compressed = true
            i = 2
        }
        while i < s.count {
            var j = i
            while j < s.count && s[j] != colon { j += 1 }
            let token = s[i..<j]
            if token.contains(UInt8(ascii: ".")) {
                // A dotted IPv4 tail: the last token only.
                guard j == s.count, let v4 = IPv4Address.parse(token) else { return nil }
                let groups = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if compressed { tail += groups } else { head += groups }
                i = j
                break
            }
            guard (1...4).contains(token.count) else { return nil }
            var group: UInt16 = 0
            for c in token {
                guard let h = hexValue(c) else { return nil }
                group = group << 4 | h
            }
            if compressed { tail.append(group) } else { head.append(group) }
            i = j
            if i == s.count { break }
            i += 1  // the colon
            if i < s.count && s[i] == colon {
                if compressed { return nil }
                compressed = true
                i += 1
            } else if i == s.count {
                return nil  // a single trailing colon
            }
        }
        let count = head.count + tail.count
        if compressed { guard count <= 7 else { return nil } } else { guard count == 8 else { return nil } }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        return groups.reduce(0) { $0 << 16 | UInt128($1) }
    }

    /// The eight 16-bit groups, first group first.
    public var groups: [UInt16] { (0..<8).map { UInt16(truncatingIfNeeded: value >> (112 - 16 * $0)) } }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] { (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) } }

    /// The IPv4 address of an IPv4-mapped address (`::ffff:a.b.c.d`), else `nil`.
    public var mappedIPv4: IPv4Address? {
        value >> 32 == 0xFFFF ? IPv4Address(UInt32(truncatingIfNeeded: value)) : nil
    }

    /// RFC 5952 text.
    public var description: String {
        if let v4 = mappedIPv4 { return "::ffff:\(v4)" }
        let g = groups
        // The longest run of two or more zero groups (the first one on a tie).
        var bestStart = -1, bestLength = 1, i = 0
        while i < 8 {
            if g[i] != 0 { i += 1; continue }
            var j = i
            while j < 8 && g[j] == 0 { j += 1 }
            if j - i > bestLength { bestStart = i; bestLength = j - i }
            i = j
        }
        func hex(_ range: Range<Int>) -> String {
            g[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// `::`.
    public static let any = IPv6Address(0)
    /// `::1`.
    public static let loopback = IPv6Address(1)

    /// `::`.
    public var isUnspecified: Bool { value == 0 }
    /// `::1`.
    public var isLoopback: Bool { value == 1 }
    /// In fe80::/10.
    public var isLinkLocal: Bool { value >> 118 == 0x3FA }
    /// In ff00::/8.
    public var isMulticast: Bool { value >> 120 == 0xFF }
    /// In fc00::/7 (unique local addresses).
    public var isUniqueLocal: Bool { value >> 121 == 0x7E }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let a = IPv6Address(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid IPv6 address: \(text)")
        }
        self = a
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An IPv4 or IPv6 address. IPv4 addresses order before IPv6 ones; an IPv4-mapped IPv6 address
/// stays IPv6 (it is not equal to the IPv4 address).
public enum IPAddress: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    LosslessStringConvertible
{
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// The address family.
    public enum Family: String, Hashable, Sendable, Codable, CaseIterable {
        case v4 = "IPv4"
        case v6 = "IPv6"

        /// Address width in bits: 32 or 128.
        public var bitWidth: Int { self == .v4 ? 32 : 128 }
    }

    /// Parses IPv4 or IPv6 text (IPv6 when the text has a colon).
    public init?(_ text: String) { self.init(parsing: text[...]) }

    /// Parses IPv4 or IPv6 text from a substring.
    public init?(_ text: Substring) { self.init(parsing: text) }

    private init?(parsing text: Substring) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let a = IPv6Address(text) else { return nil }
            self = .v6(a)
        } else {
            guard let a = IPv4Address(text) else { return nil }
            self = .v4(a)
        }
    }

    /// The address from 4 (IPv4) or 16 (IPv6) bytes in network order.
    public init?(bytes: some Collection<UInt8>) {
        if let a = IPv4Address(bytes: bytes) { self = .v4(a) } else if let a = IPv6Address(bytes: bytes) { self = .v6(a) } else { return nil }
    }

    /// The address of a family with the given numeric value; `nil` when it does not fit.
    public init?(family: Family, value: UInt128) {
        switch family {
        case .v4:
            guard let v = UInt32(exactly: value) else { return nil }
            self = .v4(IPv4Address(v))
        case .v6:
            self = .v6(IPv6Address(value))
        }
    }

    /// The address family.
    public var family: Family {
        if case .v4 = self { return .v4 }
        return .v6
    }

    /// The numeric value, widened to 128 bits.
    public var value: UInt128 {
        switch self {
        case .v4(let a): return UInt128(a.value)
        case .v6(let a): return a.value
        }
    }

    /// The bytes in network order (4 or 16).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): return a.bytes
        case .v6(let a): return a.bytes
        }
    }

    /// The IPv4 address, if this is one.
    public var ipv4: IPv4Address? { if case .v4(let a) = self { return a }; return nil }
    /// The IPv6 address, if this is one.
    public var ipv6: IPv6Address? { if case .v6(let a) = self { return a }; return nil }

    /// The unspecified address, loopback, link-local or multicast address tests of either family.
    public var isUnspecified: Bool { switch self { case .v4(let a): a.isUnspecified; case .v6(let a): a.isUnspecified } }
    /// A loopback address (127/8 or ::1).
    public var isLoopback: Bool { switch self { case .v4(let a): a.isLoopback; case .v6(let a): a.isLoopback } }
    /// A link-local address (169.254/16 or fe80::/10).
    public var isLinkLocal: Bool { switch self { case .v4(let a): a.isLinkLocal; case .v6(let a): a.isLinkLocal } }
    /// A multicast address (224/4 or ff00::/8).
    public var isMulticast: Bool { switch self { case .v4(let a): a.isMulticast; case .v6(let a): a.isMulticast } }

    /// The text form.
    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    /// The address `n` places further on (negative: back), or `nil` past either end of the family.
    public func advanced(by n: Int) -> IPAddress? {
        let v = value
        let magnitude = UInt128(n.magnitude)
        if n >= 0 {
            let (r, overflow) = v.addingReportingOverflow(magnitude)
            return overflow ? nil : IPAddress(family: family, value: r)
        }
        return magnitude > v ? nil : IPAddress(family: family, value: v - magnitude)
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): return x < y
        case (.v6(let x), .v6(let y)): return x < y
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let a = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid IP address: \(text)")
        }
        self = a
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An address with a prefix length: `10.1.0.0/16`, `fd00::/64`, or an interface address such as
/// `10.1.0.5/16` (the address keeps its host bits; `masked` drops them). Two values are equal when
/// both address and prefix are; ordering is by address, then prefix length.
public struct CIDR: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    LosslessStringConvertible
{
    /// The address as given (host bits kept).
    public let address: IPAddress
    /// The prefix length: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// `nil` when the prefix length is out of range for the address family.
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.family.bitWidth).contains(prefixLength) else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `address/prefix` (`10.1.0.0/16`, `fd00::/64`); the prefix is decimal without
    /// leading zeros and required.
    public init?(_ text: String) { self.init(parsing: text[...]) }

    /// Parses `address/prefix` from a substring.
    public init?(_ text: Substring) { self.init(parsing: text) }

    private init?(parsing text: Substring) {
        guard let slash = text.utf8.firstIndex(of: UInt8(ascii: "/")),
              let address = IPAddress(text[..<slash]) else { return nil }
        let digits = text.utf8[text.utf8.index(after: slash)...]
        guard (1...3).contains(digits.count),
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        let prefix = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        self.init(address: address, prefixLength: prefix)
    }

    /// The address family.
    public var family: IPAddress.Family { address.family }

    /// The number of host bits (width − prefix length).
    public var hostBits: Int { family.bitWidth - prefixLength }

    /// The host part's mask, as a number.
    private var hostMask: UInt128 {
        hostBits == 128 ? .max : (UInt128(1) << hostBits) - 1
    }

    private var networkValue: UInt128 { address.value & ~hostMask }

    /// The first address of the block (host bits cleared).
    public var network: IPAddress { Self.make(family, networkValue) }

    /// The last address of the block (host bits set): the IPv4 broadcast address.
    public var last: IPAddress { Self.make(family, networkValue | hostMask) }

    /// The IPv4 broadcast address (`last`); `nil` for IPv6 and for /31 and /32, which have none.
    public var broadcast: IPAddress? { family == .v4 && prefixLength < 31 ? last : nil }

    /// The netmask: `255.255.0.0` for a /16.
    public var netmask: IPAddress {
        let width = family.bitWidth
        let all: UInt128 = width == 128 ? .max : (UInt128(1) << width) - 1
        return Self.make(family, all & ~hostMask)
    }

    /// The block itself: the network address with this prefix.
    public var masked: CIDR { CIDR(uncheckedAddress: network, prefixLength: prefixLength) }

    /// Whether the address has no host bits set (`10.1.0.0/16` but not `10.1.0.5/16`).
    public var isNetwork: Bool { address.value & hostMask == 0 }

    /// The number of addresses in the block. 2^128 (an IPv6 /0) is not representable and is
    /// reported as `UInt128.max`.
    public var size: UInt128 { hostBits == 128 ? .max : UInt128(1) << hostBits }

    /// Whether `other` lies in this block (always false across families).
    public func contains(_ other: IPAddress) -> Bool {
        other.family == family && other.value & ~hostMask == networkValue
    }

    /// Whether the whole of `other` lies in this block.
    public func contains(_ other: CIDR) -> Bool {
        other.family == family && other.prefixLength >= prefixLength && contains(other.address)
    }

    /// Whether the blocks share an address: one contains the other.
    public func overlaps(_ other: CIDR) -> Bool {
        contains(other) || other.contains(self)
    }

    /// The address `n` places from the start of the block (0 is the network address; for an IPv4
    /// block with a broadcast address, hosts are 1...size-2); `nil` outside the block.
    public func address(at n: some BinaryInteger) -> IPAddress? {
        guard let offset = UInt128(exactly: n), hostBits == 128 || offset <= hostMask else { return nil }
        return Self.make(family, networkValue | offset)
    }

    /// The position of `address` in the block (the inverse of `address(at:)`), `nil` outside it.
    public func offset(of address: IPAddress) -> UInt128? {
        contains(address) ? address.value & hostMask : nil
    }

    /// `address/prefix`.
    public var description: String { "\(address)/\(prefixLength)" }

    public static func < (a: CIDR, b: CIDR) -> Bool {
        a.address != b.address ? a.address < b.address : a.prefixLength < b.prefixLength
    }

    private init(uncheckedAddress: IPAddress, prefixLength: Int) {
        self.address = uncheckedAddress
        self.prefixLength = prefixLength
    }

    /// A value of the family; the callers only pass values that fit.
    private static func make(_ family: IPAddress.Family, _ value: UInt128) -> IPAddress {
        switch family {
        case .v4: return .v4(IPv4Address(UInt32(truncatingIfNeeded: value)))
        case .v6: return .v6(IPv6Address(value))
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let v = CIDR(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid CIDR address: \(text)")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
