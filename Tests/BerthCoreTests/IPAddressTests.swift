import Foundation
import Testing
@testable import BerthCore

@Suite("IPv4Address")
struct IPv4AddressTests {
    static let valid: [(String, UInt32)] = [
        ("0.0.0.0", 0),
        ("255.255.255.255", 0xFFFF_FFFF),
        ("10.0.0.1", 0x0A00_0001),
        ("192.168.1.254", 0xC0A8_01FE),
        ("172.16.0.0", 0xAC10_0000),
        ("1.2.3.4", 0x0102_0304),
        ("100.64.0.0", 0x6440_0000),
    ]

    @Test(arguments: valid)
    func parsesAndFormats(_ text: String, _ value: UInt32) {
        let a = IPv4Address(text)
        #expect(a?.value == value)
        #expect(a?.description == text)
        #expect(IPv4Address(value).description == text)
        #expect(IPv4Address(bytes: IPv4Address(value).bytes) == IPv4Address(value))
    }

    static let invalid = [
        "", "1", "1.2.3", "1.2.3.4.5", "256.0.0.0", "1.2.3.256", "1.2.3.-1", "01.2.3.4", "1.2.3.04",
        "00.0.0.0", "1..2.3", ".1.2.3", "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/8", "0x1.2.3.4",
        "1.2.3.a", "١.2.3.4", "1.2.3.4\0", "999.1.1.1", "1.2.3.1000", "1,2,3,4",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(IPv4Address(text) == nil)
        #expect(IPAddress(text) == nil)
    }

    @Test func rejectsIPv6Text() {
        #expect(IPv4Address("::1") == nil)
        #expect(IPAddress("::1") != nil)
    }

    @Test func classification() {
        #expect(IPv4Address("127.0.0.1")!.isLoopback)
        #expect(IPv4Address("169.254.3.4")!.isLinkLocal)
        #expect(IPv4Address("224.0.0.251")!.isMulticast)
        #expect(IPv4Address("0.0.0.0")!.isUnspecified)
        for p in ["10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1"] { #expect(IPv4Address(p)!.isPrivate, "\(p)") }
        for p in ["172.32.0.1", "11.0.0.1", "192.169.0.1", "8.8.8.8"] { #expect(!IPv4Address(p)!.isPrivate, "\(p)") }
        #expect(IPv4Address(10, 0, 0, 1) == IPv4Address("10.0.0.1"))
        #expect(IPv4Address(bytes: [1, 2, 3]) == nil)
    }
}

@Suite("IPv6Address")
struct IPv6AddressTests {
    /// Input, canonical RFC 5952 text.
    static let valid: [(String, String)] = [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // first of two equal runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),  // the longest run wins
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
        ("fe80::1:2", "fe80::1:2"),
        ("fd00:abcd::", "fd00:abcd::"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("::FFFF:192.168.1.1", "::ffff:192.168.1.1"),
        ("0:0:0:0:0:ffff:0a00:0001", "::ffff:10.0.0.1"),
        ("::1.2.3.4", "::102:304"),  // IPv4-compatible is not special (as Go)
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("ff02::fb", "ff02::fb"),
    ]

    @Test(arguments: valid)
    func parsesAndFormats(_ text: String, _ canonical: String) throws {
        let a = try #require(IPv6Address(text))
        #expect(a.description == canonical)
        #expect(IPv6Address(canonical) == a)
        #expect(IPv6Address(bytes: a.bytes) == a)
        #expect(IPv6Address(groups: a.groups) == a)
        #expect(IPAddress(text) == .v6(a))
    }

    static let invalid = [
        "", ":", ":::", "1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "::1::", "1:::2",
        ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::",
        "g::1", "::1%eth0", "fe80::1%1", " ::1", "::1 ", "[::1]", "::1/64", "1:2:3:4:5:6:7:1.2.3.4",
        "::1.2.3", "::1.2.3.4.5", "::256.1.1.1", "1.2.3.4::", "::1.2.3.4:5", "::ffff:01.2.3.4",
        "2001:db8::-1", "2001:db8::+1", "0x1::", String(repeating: "0", count: 50) + "::",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(IPv6Address(text) == nil)
        #expect(IPAddress(text) == nil)
    }

    @Test func classification() throws {
        #expect(try #require(IPv6Address("fe80::1")).isLinkLocal)
        #expect(try #require(IPv6Address("febf::1")).isLinkLocal)
        #expect(try #require(IPv6Address("fec0::1")).isLinkLocal == false)
        #expect(try #require(IPv6Address("fd12::1")).isUniqueLocal)
        #expect(try #require(IPv6Address("fc00::1")).isUniqueLocal)
        #expect(try #require(IPv6Address("fe00::1")).isUniqueLocal == false)
        #expect(try #require(IPv6Address("ff02::1")).isMulticast)
        #expect(IPv6Address.loopback.isLoopback)
        #expect(IPv6Address.any.isUnspecified)
        #expect(IPv6Address(mapping: IPv4Address(10, 0, 0, 1)).description == "::ffff:10.0.0.1")
        #expect(IPv6Address("::ffff:1.2.3.4")?.mappedIPv4 == IPv4Address(1, 2, 3, 4))
        #expect(IPv6Address("::1")?.mappedIPv4 == nil)
    }
}

@Suite("IPAddress")
struct IPAddressTests {
    @Test func familyAndBytes() throws {
        let v4 = try #require(IPAddress("10.1.2.3"))
        #expect(v4.family == .v4)
        #expect(v4.bytes == [10, 1, 2, 3])
        #expect(IPAddress(bytes: [10, 1, 2, 3]) == v4)
        let v6 = try #require(IPAddress("fd00::1"))
        #expect(v6.family == .v6)
        #expect(v6.bytes.count == 16)
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress.Family.v4.bitWidth == 32 && IPAddress.Family.v6.bitWidth == 128)
        // A mapped address stays IPv6.
        #expect(IPAddress("::ffff:10.1.2.3") != v4)
    }

    @Test func ordering() throws {
        let texts = ["fd00::1", "10.0.0.2", "::", "10.0.0.10", "9.255.255.255", "fd00::", "255.255.255.255", "0.0.0.0"]
        let sorted = texts.compactMap(IPAddress.init).sorted().map(\.description)
        #expect(sorted == ["0.0.0.0", "9.255.255.255", "10.0.0.2", "10.0.0.10", "255.255.255.255", "::", "fd00::", "fd00::1"])
        #expect(Set(["10.0.0.1", "10.0.0.1", "::1", "0::1"].compactMap(IPAddress.init)).count == 2)
    }

    @Test func advancing() throws {
        #expect(IPAddress("10.0.0.255")?.advanced(by: 1) == IPAddress("10.0.1.0"))
        #expect(IPAddress("10.0.1.0")?.advanced(by: -1) == IPAddress("10.0.0.255"))
        #expect(IPAddress("255.255.255.255")?.advanced(by: 1) == nil)
        #expect(IPAddress("0.0.0.0")?.advanced(by: -1) == nil)
        #expect(IPAddress("fd00::ffff")?.advanced(by: 1) == IPAddress("fd00::1:0"))
        #expect(IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")?.advanced(by: 1) == nil)
    }

    struct Record: Codable, Equatable {
        var a: IPAddress
        var b: IPv4Address
        var c: IPv6Address
        var net: CIDR
        var list: [CIDR]
    }

    @Test func codableAsStrings() throws {
        let r = Record(a: IPAddress("fd00::1")!, b: IPv4Address(10, 0, 0, 1), c: IPv6Address("::1")!,
                       net: CIDR("10.1.0.0/16")!, list: [CIDR("fd00::/64")!, CIDR("192.168.0.5/24")!])
        let expected = #"{"a":"fd00::1","b":"10.0.0.1","c":"::1","net":"10.1.0.0/16","list":["fd00::/64","192.168.0.5/24"]}"#
        // Ours.
        let ours = String(decoding: try BerthJSONEncoder().encode(r), as: UTF8.self)
        #expect(ours == expected)
        #expect(try BerthJSONDecoder().decode(Record.self, from: Array(expected.utf8)) == r)
        // Foundation's.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let theirs = try JSONDecoder().decode(Record.self, from: try encoder.encode(r))
        #expect(theirs == r)
    }

    @Test func decodingRejectsInvalidText() {
        let bad = #"{"a":"10.0.0.256","b":"10.0.0.1","c":"::1","net":"10.1.0.0/16","list":[]}"#
        #expect(throws: (any Error).self) { try BerthJSONDecoder().decode(Record.self, from: Array(bad.utf8)) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Record.self, from: Data(bad.utf8)) }
        let badCIDR = #"{"a":"10.0.0.1","b":"10.0.0.1","c":"::1","net":"10.1.0.0/33","list":[]}"#
        do {
            _ = try BerthJSONDecoder().decode(Record.self, from: Array(badCIDR.utf8))
            Issue.record("decoded a /33")
        } catch let e as BerthError {
            #expect(e.message.contains("net"), "\(e.message)")
            #expect(e.message.contains("10.1.0.0/33"), "\(e.message)")
        } catch {
            Issue.record("expected a BerthError, got \(error)")
        }
    }
}

@Suite("CIDR")
struct CIDRTests {
    static let valid: [(String, String, String, String)] = [
        // text, network, last, netmask
        ("10.1.0.0/16", "10.1.0.0", "10.1.255.255", "255.255.0.0"),
        ("10.1.2.3/16", "10.1.0.0", "10.1.255.255", "255.255.0.0"),
        ("192.168.1.128/25", "192.168.1.128", "192.168.1.255", "255.255.255.128"),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255", "0.0.0.0"),
        ("1.2.3.4/32", "1.2.3.4", "1.2.3.4", "255.255.255.255"),
        ("172.17.0.1/31", "172.17.0.0", "172.17.0.1", "255.255.255.254"),
        ("fd00::/64", "fd00::", "fd00::ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff::"),
        ("2001:db8::1/48", "2001:db8::", "2001:db8:0:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff::"),
        ("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"),
        ("::1/128", "::1", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ]

    @Test(arguments: valid)
    func parses(_ text: String, _ network: String, _ last: String, _ netmask: String) throws {
        let c = try #require(CIDR(text))
        #expect(c.description == text)
        #expect(c.network.description == network)
        #expect(c.last.description == last)
        #expect(c.netmask.description == netmask)
        #expect(c.masked.description == "\(network)/\(c.prefixLength)")
        #expect(c.isNetwork == (c.address.description == network))
        #expect(c.contains(c.address) && c.contains(c.network) && c.contains(c.last))
        #expect(c.contains(c.masked) && c.masked.contains(c))
    }

    static let invalid = [
        "", "10.0.0.0", "10.0.0.0/", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08",
        "10.0.0.0/8/8", "10.0.0/8", "10.0.0.0 /8", "10.0.0.0/8 ", "fd00::/129", "fd00::/0128", "fd00::/1x",
        "fd00:/64", "10.0.0.0/1000", "::/", "10.0.0.256/8",
    ]

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func broadcastAndSize() throws {
        #expect(CIDR("10.1.0.0/16")?.broadcast == IPAddress("10.1.255.255"))
        #expect(CIDR("10.1.0.0/31")?.broadcast == nil)
        #expect(CIDR("10.1.0.0/32")?.broadcast == nil)
        #expect(CIDR("fd00::/64")?.broadcast == nil)
        #expect(CIDR("10.1.0.0/16")?.size == 65536)
        #expect(CIDR("10.1.0.0/32")?.size == 1)
        #expect(CIDR("0.0.0.0/0")?.size == 1 << 32)
        #expect(CIDR("fd00::/64")?.size == UInt128(1) << 64)
        #expect(CIDR("::/1")?.size == UInt128(1) << 127)
        #expect(CIDR("::/0")?.size == .max)
        #expect(CIDR("10.0.0.0/8")?.hostBits == 24)
        #expect(CIDR(address: IPAddress("10.0.0.0")!, prefixLength: 33) == nil)
        #expect(CIDR(address: IPAddress("::")!, prefixLength: 128) != nil)
        #expect(CIDR(address: IPAddress("::")!, prefixLength: -1) == nil)
    }

    @Test func nthAddress() throws {
        let net = try #require(CIDR("172.18.0.0/16"))
        #expect(net.address(at: 0) == IPAddress("172.18.0.0"))
        #expect(net.address(at: 1) == IPAddress("172.18.0.1"))
        #expect(net.address(at: 256) == IPAddress("172.18.1.0"))
        #expect(net.address(at: 65535) == IPAddress("172.18.255.255"))
        #expect(net.address(at: 65536) == nil)
        #expect(net.address(at: -1) == nil)
        #expect(net.address(at: UInt64.max) == nil)
        #expect(net.offset(of: IPAddress("172.18.1.2")!) == 258)
        #expect(net.offset(of: IPAddress("172.19.0.0")!) == nil)
        // Host bits of the given address do not shift the count.
        #expect(CIDR("10.0.0.77/24")?.address(at: 5) == IPAddress("10.0.0.5"))
        let v6 = try #require(CIDR("fd00:1::/64"))
        #expect(v6.address(at: 1) == IPAddress("fd00:1::1"))
        #expect(v6.address(at: UInt64.max) == IPAddress("fd00:1::ffff:ffff:ffff:ffff"))
        #expect(v6.address(at: UInt128(1) << 64) == nil)
        #expect(CIDR("::/0")?.address(at: UInt128.max) == IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        #expect(CIDR("1.2.3.4/32")?.address(at: 0) == IPAddress("1.2.3.4"))
        #expect(CIDR("1.2.3.4/32")?.address(at: 1) == nil)
    }

    static let containment: [(String, String, Bool)] = [
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "::1", false),
        ("::/0", "10.0.0.1", false),
        ("::/0", "fd00::1", true),
        ("fd00::/8", "fdff:ffff::1", true),
        ("fd00::/8", "fe00::", false),
        ("192.168.1.1/32", "192.168.1.1", true),
        ("192.168.1.1/32", "192.168.1.2", false),
    ]

    @Test(arguments: containment)
    func containsAddress(_ cidr: String, _ address: String, _ expected: Bool) throws {
        #expect(try #require(CIDR(cidr)).contains(try #require(IPAddress(address))) == expected)
    }

    static let overlap: [(String, String, Bool)] = [
        ("10.0.0.0/8", "10.1.0.0/16", true),
        ("10.1.0.0/16", "10.0.0.0/8", true),
        ("10.1.0.0/16", "10.2.0.0/16", false),
        ("172.16.0.0/12", "172.31.255.0/24", true),
        ("172.16.0.0/12", "172.32.0.0/24", false),
        ("192.168.0.0/24", "192.168.0.0/24", true),
        ("192.168.0.0/24", "192.168.1.0/24", false),
        ("192.168.0.5/23", "192.168.1.0/24", true),  // host bits ignored
        ("0.0.0.0/0", "1.2.3.4/32", true),
        ("0.0.0.0/0", "::/0", false),
        ("fd00::/64", "fd00::1/128", true),
        ("fd00::/64", "fd00:0:0:1::/64", false),
    ]

    @Test(arguments: overlap)
    func overlaps(_ a: String, _ b: String, _ expected: Bool) throws {
        let x = try #require(CIDR(a)), y = try #require(CIDR(b))
        #expect(x.overlaps(y) == expected)
        #expect(y.overlaps(x) == expected)
    }

    @Test func containsBlock() throws {
        #expect(CIDR("10.0.0.0/8")!.contains(CIDR("10.1.0.0/16")!))
        #expect(!CIDR("10.1.0.0/16")!.contains(CIDR("10.0.0.0/8")!))
        #expect(!CIDR("10.0.0.0/8")!.contains(CIDR("fd00::/64")!))
    }

    @Test func equalityAndOrder() throws {
        #expect(CIDR("10.0.0.1/24") != CIDR("10.0.0.0/24"))
        #expect(CIDR("10.0.0.1/24")?.masked == CIDR("10.0.0.0/24"))
        let sorted = ["10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8", "fd00::/8"].compactMap(CIDR.init).sorted().map(\.description)
        #expect(sorted == ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "fd00::/8"])
    }
}
