import BerthCore

/// A domain name as DNS carries it: a list of labels, each 1–63 arbitrary bytes, at most 255
/// bytes on the wire (RFC 1035 §2.3.4). The root name has no labels.
///
/// Equality is byte-exact (so a decoded message re-encodes to the same bytes); DNS itself
/// compares names ASCII-case-insensitively, which ``isEquivalent(to:)`` and ``lowercased()``
/// provide. The text form (``description``) is the presentation format: labels joined by dots,
/// a trailing dot, `.` and `\` escaped with a backslash and bytes outside printable ASCII
/// written `\DDD`.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// The longest label, in bytes.
    public static let maxLabelLength = 63
    /// The longest name on the wire, in bytes (length bytes and the final zero included).
    public static let maxWireLength = 255

    /// The labels, first (most specific) first.
    public private(set) var labels: [[UInt8]]

    /// The root name (`.`).
    public static let root = DNSName(validated: [])

    init(validated labels: [[UInt8]]) { self.labels = labels }

    /// The name with these labels; throws when a label is empty or longer than 63 bytes, or the
    /// name is longer than 255 bytes on the wire.
    public init(labels: [[UInt8]]) throws {
        var length = 1
        for label in labels {
            guard !label.isEmpty else { throw BerthError.invalid("dns name has an empty label") }
            guard label.count <= Self.maxLabelLength else {
                throw BerthError.invalid("dns label longer than \(Self.maxLabelLength) bytes")
            }
            length += 1 + label.count
        }
        guard length <= Self.maxWireLength else {
            throw BerthError.invalid("dns name longer than \(Self.maxWireLength) bytes")
        }
        self.labels = labels
    }

    /// Parses presentation text: `web`, `web.`, `my-net.example.com.`, `.` (the root); `\.`
    /// and `\\` escape, `\DDD` is a byte in decimal. A trailing dot is optional (every name is
    /// taken as absolute).
    public init(_ text: String) throws {
        let bytes = Array(text.utf8)
        if bytes.isEmpty || bytes == [UInt8(ascii: ".")] {
            self = .root
            return
        }
        var labels: [[UInt8]] = []
        var label: [UInt8] = []
        var i = 0
        var endedWithDot = false
        while i < bytes.count {
            let c = bytes[i]
            endedWithDot = false
            if c == UInt8(ascii: ".") {
                guard !label.isEmpty else { throw BerthError.invalid("dns name has an empty label: \(text)") }
                labels.append(label)
                label = []
                endedWithDot = true
                i += 1
            } else if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw BerthError.invalid("dns name ends in a backslash: \(text)") }
                let d = bytes[i + 1]
                if d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9") {
                    guard i + 3 < bytes.count else {
                        throw BerthError.invalid("dns name has a short \\DDD escape: \(text)")
                    }
                    var value = 0
                    for k in 1...3 {
                        let e = bytes[i + k]
                        guard e >= UInt8(ascii: "0") && e <= UInt8(ascii: "9") else {
                            throw BerthError.invalid("dns name has a bad \\DDD escape: \(text)")
                        }
                        value = value * 10 + Int(e - UInt8(ascii: "0"))
                    }
                    guard value <= 255 else { throw BerthError.invalid("dns name has a bad \\DDD escape: \(text)") }
                    label.append(UInt8(value))
                    i += 4
                } else {
                    label.append(d)
                    i += 2
                }
            } else {
                label.append(c)
                i += 1
            }
            guard label.count <= Self.maxLabelLength else {
                throw BerthError.invalid("dns label longer than \(Self.maxLabelLength) bytes: \(text)")
            }
        }
        if !endedWithDot {
            labels.append(label)
        }
        try self.init(labels: labels)
    }

    /// Bytes on the wire, uncompressed: a length byte per label, the labels, the final zero.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Whether this is the root name.
    public var isRoot: Bool { labels.isEmpty }

    /// The presentation text with a trailing dot (`web.`, `.` for the root).
    public var description: String {
        if labels.isEmpty { return "." }
        var out: [UInt8] = []
        out.reserveCapacity(wireLength + 8)
        for label in labels {
            for c in label {
                switch c {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    out.append(UInt8(ascii: "\\"))
                    out.append(c)
                case 0x21...0x7E:
                    out.append(c)
                default:
                    out.append(UInt8(ascii: "\\"))
                    out.append(UInt8(ascii: "0") + c / 100)
                    out.append(UInt8(ascii: "0") + c / 10 % 10)
                    out.append(UInt8(ascii: "0") + c % 10)
                }
            }
            out.append(UInt8(ascii: "."))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The presentation text without the trailing dot (`web`, and `""` for the root).
    public var relativeText: String {
        let text = description
        return text == "." ? "" : String(text.dropLast())
    }

    /// The name with ASCII letters in lower case.
    public func lowercased() -> DNSName {
        DNSName(validated: labels.map { label in
            label.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        })
    }

    /// Whether the names are equal as DNS compares them (ASCII case-insensitively).
    public func isEquivalent(to other: DNSName) -> Bool {
        guard labels.count == other.labels.count else { return false }
        for (a, b) in zip(labels, other.labels) {
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where Self.fold(x) != Self.fold(y) { return false }
        }
        return true
    }

    static func fold(_ c: UInt8) -> UInt8 { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c }
}

// MARK: - Reverse names

extension DNSName {
    /// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa.` for `1.2.3.4`, 32 nibbles
    /// then `ip6.arpa.` for IPv6 (RFC 3596).
    public init(reverseOf address: IPAddress) {
        var labels: [[UInt8]] = []
        switch address {
        case .v4(let a):
            for byte in a.bytes.reversed() { labels.append(Array(String(byte).utf8)) }
            labels.append(Array("in-addr".utf8))
        case .v6(let a):
            let digits = Array("0123456789abcdef".utf8)
            for byte in a.bytes.reversed() {
                labels.append([digits[Int(byte & 0xF)]])
                labels.append([digits[Int(byte >> 4)]])
            }
            labels.append(Array("ip6".utf8))
        }
        labels.append(Array("arpa".utf8))
        self.init(validated: labels)
    }

    /// The address a reverse-lookup name stands for (`4.3.2.1.in-addr.arpa.` → `1.2.3.4`, the
    /// full 32-nibble `ip6.arpa.` form → an IPv6 address); `nil` for any other name, including
    /// partial (network) reverse names. Case-insensitive.
    public var reverseAddress: IPAddress? {
        let name = lowercased()
        let l = name.labels
        if l.count == 6, l[4] == Array("in-addr".utf8), l[5] == Array("arpa".utf8) {
            var bytes: [UInt8] = []
            for label in l[0..<4].reversed() {
                guard let v = IPv4Address.parseOctet(label) else { return nil }
                bytes.append(v)
            }
            return IPAddress(bytes: bytes)
        }
        if l.count == 34, l[32] == Array("ip6".utf8), l[33] == Array("arpa".utf8) {
            var bytes = [UInt8](repeating: 0, count: 16)
            for (i, label) in l[0..<32].enumerated() {
                guard label.count == 1, let nibble = Self.hexValue(label[0]) else { return nil }
                // Label 0 is the low nibble of the last byte.
                let byteIndex = 15 - i / 2
                bytes[byteIndex] |= i % 2 == 0 ? nibble : nibble << 4
            }
            return IPAddress(bytes: bytes)
        }
        return nil
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

extension IPv4Address {
    /// A decimal octet label (`0`–`255`, no leading zeros).
    fileprivate static func parseOctet(_ label: [UInt8]) -> UInt8? {
        guard !label.isEmpty, label.count <= 3 else { return nil }
        if label.count > 1 && label[0] == UInt8(ascii: "0") { return nil }
        var v = 0
        for c in label {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + Int(c - UInt8(ascii: "0"))
        }
        return v <= 255 ? UInt8(v) : nil
    }
}
