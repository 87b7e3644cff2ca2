@testable import BerthCLI
import Testing

struct UnitsTests {
    @Test(arguments: [
        ("512", Int64(512)), ("512b", 512), ("512B", 512), ("1k", 1024), ("32m", 32 << 20), ("32M", 32 << 20),
        ("1g", 1 << 30), ("1G", 1 << 30), ("1.5g", 3 << 29), ("1GiB", 1 << 30), ("1gb", 1 << 30), ("1 MB", 1 << 20),
        ("2t", 2 << 40), ("0", 0),
    ] as [(String, Int64)])
    func ramInBytes(text: String, bytes: Int64) throws {
        #expect(try Units.ramInBytes(text) == bytes)
    }

    @Test(arguments: [
        ("12x", "invalid suffix: 'x'"), ("1mbx", "invalid suffix: 'mbx'"), ("1bb", "invalid suffix: 'bb'"),
        ("m", "invalid size: 'm'"), ("", "invalid size: ''"), ("1mib2", "strconv.ParseFloat: parsing \"1mib2\": invalid syntax"),
    ])
    func ramInBytesRejects(text: String, message: String) {
        #expect(throws: Units.ParseError(message)) { try Units.ramInBytes(text) }
    }

    @Test func swapAcceptsMinusOne() throws {
        #expect(try Units.swapBytes("-1") == -1)
        #expect(try Units.swapBytes("128m") == 128 << 20)
    }

    @Test(arguments: [
        ("0", Int64(0)), ("1s", 1_000_000_000), ("1.5s", 1_500_000_000), ("300ms", 300_000_000), ("1m30s", 90_000_000_000),
        ("1h", 3_600_000_000_000), ("-2m", -120_000_000_000), ("10us", 10_000), ("10µs", 10_000), ("5ns", 5), (".5s", 500_000_000),
    ] as [(String, Int64)])
    func goDuration(text: String, nanos: Int64) throws {
        #expect(try Units.goDuration(text) == nanos)
    }

    @Test(arguments: ["", "x", "10", "1q", "s", "1.s5"])
    func goDurationRejects(text: String) {
        #expect(throws: Units.ParseError.self) { try Units.goDuration(text) }
    }

    @Test(arguments: [
        ("1.5", Int64(1_500_000_000)), ("2", 2_000_000_000), ("0.001", 1_000_000), (".5", 500_000_000),
        ("0.000000001", 1), ("1.0000000000", 1_000_000_000),
    ] as [(String, Int64)])
    func nanoCPUs(text: String, nanos: Int64) throws {
        #expect(try Units.nanoCPUs(text) == nanos)
    }

    @Test func nanoCPUsErrors() {
        #expect(throws: Units.ParseError("value is too precise")) { try Units.nanoCPUs("0.0000000001") }
        #expect(throws: Units.ParseError("failed to parse abc as a rational number")) { try Units.nanoCPUs("abc") }
    }

    @Test func ulimits() throws {
        let a = try Units.ulimit("nofile=1024:2048")
        #expect(a.name == "nofile" && a.soft == 1024 && a.hard == 2048)
        let b = try Units.ulimit("nproc=512")
        #expect(b.soft == 512 && b.hard == 512)
        let c = try Units.ulimit("core=-1")
        #expect(c.soft == -1 && c.hard == -1)
    }

    @Test(arguments: [
        ("nofile", "invalid ulimit argument: nofile"),
        ("bogus=1", "invalid ulimit type: bogus"),
        ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"),
        ("nofile=20:10", "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
    ])
    func ulimitErrors(text: String, message: String) {
        #expect(throws: Units.ParseError(message)) { try Units.ulimit(text) }
    }

    @Test(arguments: [
        ("ctrl-p,ctrl-q", [UInt8(16), 17]), ("ctrl-a,x", [1, 120]), ("ctrl-@", [0]), ("ctrl-\\", [28]), ("ctrl-_", [31]),
        ("DEL", [127]),
    ] as [(String, [UInt8])])
    func detachKeys(text: String, bytes: [UInt8]) throws {
        #expect(try Units.detachKeys(text) == bytes)
    }

    @Test func detachKeysRejectUnknown() {
        #expect(throws: Units.ParseError("Unknown character: 'ctrl-1'")) { try Units.detachKeys("ctrl-1") }
    }
}
