import BerthAPI
@testable import BerthCLI
import BerthClient
import BerthCore
import Testing

struct StdcopyDemuxerTests {
    static let stream: [UInt8] =
        StdStream.frame(StdStream.stdout, Array("hello\n".utf8)) + StdStream.frame(StdStream.stderr, Array("oops\n".utf8))
        + StdStream.frame(StdStream.stdout, []) + StdStream.frame(StdStream.stdin, Array("in".utf8))

    static let expected = [
        StdcopyDemuxer.Frame(stream: StdStream.stdout, payload: Array("hello\n".utf8)),
        StdcopyDemuxer.Frame(stream: StdStream.stderr, payload: Array("oops\n".utf8)),
        StdcopyDemuxer.Frame(stream: StdStream.stdout, payload: []),
        StdcopyDemuxer.Frame(stream: StdStream.stdout, payload: Array("in".utf8)),
    ]

    /// Whatever the chunking, the same frames come out.
    @Test(arguments: [1, 2, 3, 7, 8, 9, 13, 1000])
    func chunked(size: Int) throws {
        var d = StdcopyDemuxer()
        var frames: [StdcopyDemuxer.Frame] = []
        var i = 0
        while i < Self.stream.count {
            frames += try d.feed(Self.stream[i..<min(i + size, Self.stream.count)])
            i += size
        }
        #expect(frames == Self.expected)
        try d.finish()
    }

    @Test func truncatedFrameIsReported() throws {
        var d = StdcopyDemuxer()
        #expect(try d.feed(Self.stream.prefix(10)).isEmpty)
        #expect(d.hasPartialFrame)
        #expect(throws: StdcopyDemuxer.FormatError.self) { try d.finish() }
    }

    @Test func unknownStreamIsAnError() {
        var d = StdcopyDemuxer()
        #expect(throws: StdcopyDemuxer.FormatError.self) { try d.feed([9, 0, 0, 0, 0, 0, 0, 1, 65]) }
    }

    @Test func systemErrorStreamCarriesTheMessage() {
        var d = StdcopyDemuxer()
        #expect(throws: StdcopyDemuxer.FormatError.self) { try d.feed(StdStream.frame(3, Array("boom".utf8))) }
    }

    @Test func largeFrame() throws {
        let payload = [UInt8](repeating: 7, count: 200_000)
        var d = StdcopyDemuxer()
        let framed = StdStream.frame(StdStream.stderr, payload)
        var out: [StdcopyDemuxer.Frame] = []
        for start in stride(from: 0, to: framed.count, by: 65536) {
            out += try d.feed(framed[start..<min(start + 65536, framed.count)])
        }
        #expect(out == [StdcopyDemuxer.Frame(stream: StdStream.stderr, payload: payload)])
    }
}

struct DetachWatcherTests {
    @Test(arguments: [
        ([[16, 17]], true), ([[16], [17]], true), ([[1, 16, 16, 17]], true), ([[16, 1, 17]], false), ([[17, 16]], false),
    ] as [([[UInt8]], Bool)])
    func defaultKeys(chunks: [[UInt8]], seen: Bool) {
        let w = DetachWatcher(keys: [16, 17])
        for c in chunks { w.observe(c) }
        #expect(w.seen == seen)
    }

    @Test func noKeysNeverDetach() {
        let w = DetachWatcher(keys: [])
        w.observe([16, 17])
        #expect(!w.seen)
    }
}

struct ArgumentRewriterTests {
    @Test(arguments: [
        (["run", "--sig-proxy=false", "busybox"], ["run", "--no-sig-proxy", "busybox"]),
        (["run", "--rm=true", "-d=false", "busybox", "--rm=false"], ["run", "--rm", "busybox", "--rm=false"]),
        (["-H", "unix:///s", "container", "run", "--rm=false", "-e", "--rm=false", "img"],
         ["-H", "unix:///s", "container", "run", "-e", "--rm=false", "img"]),
        (["run", "-it", "--name", "x", "busybox", "sh", "--sig-proxy=false"], ["run", "-it", "--name", "x", "busybox", "sh", "--sig-proxy=false"]),
        (["attach", "--sig-proxy=false", "c"], ["attach", "--no-sig-proxy", "c"]),
        (["exec", "-i=true", "c", "ls"], ["exec", "-i", "c", "ls"]),
        (["ps", "--no-trunc=false"], ["ps", "--no-trunc=false"]),
        (["run", "--help"], ["help", "run"]),
        (["container", "exec", "-i", "--help"], ["help", "container", "exec"]),
        (["run", "busybox", "--help"], ["run", "busybox", "--help"]),
    ])
    func rewrites(args: [String], expected: [String]) {
        #expect(ArgumentRewriter.rewrite(args) == expected)
    }
}

struct TimeArgTests {
    static let now: Int64 = 1_700_000_000 * 1_000_000_000

    @Test(arguments: [
        ("42m", "1699997480"), ("1h30m", "1699994600"), ("1700000000", "1700000000"), ("1700000000.5", "1700000000.5"),
        ("2013-01-02T13:23:37Z", "1357133017.000000000"), ("2013-01-02", "1357084800.000000000"),
        ("2013-01-02T13:23", "1357132980.000000000"), ("2013-01-02T13:23:37.123456789Z", "1357133017.123456789"),
        ("2013-01-02T13:23:37+01:00", "1357129417.000000000"), ("0", "0"),
    ])
    func timestamps(value: String, expected: String) throws {
        #expect(try TimeArg.timestamp(value, nowNanos: Self.now) == expected)
    }
}

struct TemplateCallTests {
    @Test func labelCallsLookUpTheHiddenTable() throws {
        let row: JSONValue = .object(["Names": "web", "Label()": .object(["a.b": "c"])])
        #expect(try Template("{{.Names}} {{.Label \"a.b\"}} [{{.Label \"x\"}}]").render(row) == "web c []")
        #expect(try Template("{{.Size}}").uses("Size"))
        #expect(try !Template("{{.Names}}").uses("Size"))
    }

    /// docker's template `json` and inspect output do not escape HTML characters.
    @Test func jsonIsNotHTMLEscaped() {
        #expect(Format.compactJSON(.string("a>b&c")) == "\"a>b&c\"")
        #expect(Format.indentedJSON(.array([.string("<x>")])) == "[\n    \"<x>\"\n]")
    }
}

struct ImageReferenceTests {
    @Test(arguments: [
        ("busybox", "busybox:latest"), ("busybox:1.36", "busybox:1.36"), ("docker.io/library/busybox", "busybox:latest"),
        ("docker.io/foo/bar:2", "foo/bar:2"), ("localhost:5000/x", "localhost:5000/x:latest"), ("reg.io:443/a/b:c", "reg.io:443/a/b:c"),
        ("x@sha256:abc", "x@sha256:abc"),
    ])
    func familiar(image: String, expected: String) {
        #expect(ContainerCreation.familiarTagged(image) == expected)
    }

    @Test func idsAreNotPulled() {
        #expect(ContainerCreation.familiarTagged("sha256:7d80cc26767f200fd5aa2f89042678f0990684e46d075fb0053ce146189b2228") == nil)
        #expect(ContainerCreation.familiarTagged("7d80cc26767f200fd5aa2f89042678f0990684e46d075fb0053ce146189b2228") == nil)
    }

    @Test(arguments: [
        ("exec: \"nonexist\": executable file not found in $PATH: unknown", Int32(127)),
        ("exec: \"/x\": no such file or directory", 127),
        ("exec: \"/etc\": permission denied: unknown", 126),
        ("No such image: x", 125),
    ])
    func runExitCodes(message: String, code: Int32) {
        guard case .status(let text, let c) = ContainerCreation.statusError(CLIError.message(message), command: "run") else {
            Issue.record("not a status error")
            return
        }
        #expect(c == code)
        #expect(text == "berth: \(message)\n\nRun 'berth run --help' for more information")
    }
}
