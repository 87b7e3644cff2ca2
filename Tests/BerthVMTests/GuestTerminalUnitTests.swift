#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import Testing
@testable import BerthVM

/// `-t`, /etc files and stats of `--isolation vm` without a boot: the spec's new fields, the
/// control port's line format, the host's reading of a VMM process.
@Suite("guest terminal units")
struct GuestTerminalUnitTests {
    @Test func terminalAndEtcFilesRoundTripThroughTheSpec() throws {
        var spec = GuestRunSpec(args: ["sh"], env: ["PATH=/bin"])
        spec.tty = true
        spec.stdin = true
        spec.consoleRows = 21
        spec.consoleColumns = 77
        spec.etcFiles = ["hosts": "127.0.0.1\tlocalhost\n10.1.2.3\textra\n", "hostname": "h\n", "resolv.conf": "nameserver 10.0.0.1\n"]
        let decoded = try GuestRunSpec.decode(try spec.encoded())
        #expect(decoded == spec)
        #expect(decoded.etcFiles["hosts"]?.contains("10.1.2.3\textra") == true)
    }

    @Test(arguments: [
        ("resize 33 111", true, UInt16(33), UInt16(111)),
        ("resize 0 0", true, 0, 0),
        ("resize 33", false, 0, 0),
        ("resize 33 111 1", false, 0, 0),
        ("resize -1 80", false, 0, 0),
        ("resize 70000 80", false, 0, 0),
        ("size 33 111", false, 0, 0),
        ("", false, 0, 0),
    ])
    func controlLinesParseOnlyWhenWellFormed(line: String, ok: Bool, rows: UInt16, cols: UInt16) {
        let size = GuestRunSpec.parseResize(line)
        #expect((size != nil) == ok)
        if let size { #expect(size.rows == rows && size.columns == cols) }
    }

    @Test func resizeLineIsWhatTheAgentParses() {
        let line = GuestRunSpec.resizeLine(rows: 40, columns: 132)
        #expect(line == "resize 40 132\n")
        let size = GuestRunSpec.parseResize(line.dropLast())
        #expect(size?.rows == 40 && size?.columns == 132)
    }

    @Test func processUsageOfALiveProcessAndAMissingOne() throws {
        let me = try VMProcessUsage.read(pid: getpid())
        #expect(me.residentBytes > 0)
        // Spin a little so this process has some CPU time on the clock.
        var x: UInt64 = 0
        for i in 0..<20_000_000 { x &+= UInt64(i) ^ x }
        #expect(x != 1)
        let later = try VMProcessUsage.read(pid: getpid())
        #expect(later.userNanoseconds + later.systemNanoseconds > 0)
        #expect(throws: BerthError.self) { try VMProcessUsage.read(pid: Int32.max) }
    }
}
