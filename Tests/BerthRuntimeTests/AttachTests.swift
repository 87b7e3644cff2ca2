import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem
import Foundation
import Testing

/// The attach protocol's framing, without containers.
@Suite("attach protocol")
struct AttachProtocolTests {
    @Test func framesHaveStdcopyHeaders() {
        #expect(AttachProtocol.frame(kind: 1, payload: Array("hi".utf8)) == [1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69])
        #expect(AttachProtocol.hello(stdout: true, stderr: false, stdin: true) == [3, 0, 0, 0, 0, 0, 0, 1, 0x05])
        #expect(AttachProtocol.resize(rows: 0x0102, cols: 300) == [5, 0, 0, 0, 0, 0, 0, 4, 1, 2, 1, 44])
        #expect(AttachProtocol.stdinClosed() == [4, 0, 0, 0, 0, 0, 0, 0])
        #expect(AttachProtocol.exit(code: -1) == [6, 0, 0, 0, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(AttachProtocol.exitCode([0, 0, 0, 137]) == 137)
        #expect(AttachProtocol.resizeSize([1, 2, 1, 44])! == (0x0102, 300))
        #expect(AttachProtocol.helloFlags([6]) == [.stderr, .stdin])
    }

    @Test func decoderSplitsAStreamFedInPieces() throws {
        let stream = AttachProtocol.frame(kind: 1, payload: Array(repeating: 7, count: 70000))
            + AttachProtocol.stdinClosed() + AttachProtocol.exit(code: 3)
        var d = AttachFrameDecoder()
        var frames: [(kind: UInt8, payload: [UInt8])] = []
        var i = 0
        while i < stream.count {
            let n = min(777, stream.count - i)
            d.append(stream[i..<(i + n)])
            i += n
            while let f = try d.next() { frames.append(f) }
        }
        #expect(frames.map(\.kind) == [1, 4, 6])
        #expect(frames[0].payload.count == 70000)
        #expect(frames[1].payload.isEmpty)
        #expect(AttachProtocol.exitCode(frames[2].payload) == 3)
        #expect(d.buffered == 0)
    }

    @Test func decoderRejectsOversizedAndMalformedFrames() {
        var big = AttachFrameDecoder(maxPayload: 1024)
        big.append(AttachProtocol.header(kind: 0, length: 1025))
        #expect(throws: BerthError.self) { try big.next() }
        var bad = AttachFrameDecoder()
        bad.append([1, 9, 0, 0, 0, 0, 0, 0])
        #expect(throws: BerthError.self) { try bad.next() }
        var partial = AttachFrameDecoder()
        partial.append([1, 0, 0, 0, 0, 0, 0, 5, 1, 2])
        #expect((try? partial.next()) == nil)
        #expect(partial.buffered == 10)
    }
}

/// A test's end of an attach connection: blocking writes, reads with a deadline.
final class AttachTestClient {
    typealias Frame = (kind: UInt8, payload: [UInt8])
    let fd: Int32
    var decoder = AttachFrameDecoder()

    init(path: String) throws { fd = try UnixSocket.connect(path) }
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws { try FD.writeAll(fd, bytes) }

    /// The next frame; nil at EOF. Throws when nothing whole arrives within `timeout`.
    func next(timeout: TimeInterval = 30, chunk: Int = 65536) throws -> Frame? {
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: chunk)
        while true {
            if let f = try decoder.next() { return f }
            let ms = Int32(deadline.timeIntervalSinceNow * 1000)
            guard ms > 0 else { throw BerthError(.internal, "attach: no frame within \(timeout)s") }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, ms) <= 0 { continue }
            let r = read(fd, &buf, buf.count)
            if r == 0 {
                if decoder.buffered > 0 { throw BerthError(.internal, "attach: EOF inside a frame") }
                return nil
            }
            if r < 0 {
                if errno == EINTR { continue }
                throw BerthError.sys("read attach socket")
            }
            decoder.append(buf[0..<r])
        }
    }

    /// Every frame up to EOF.
    func readToEnd(timeout: TimeInterval = 30) throws -> [Frame] {
        var out: [Frame] = []
        while let f = try next(timeout: timeout) { out.append(f) }
        return out
    }

    /// Reads output frames until their text contains `text`; returns all of it.
    func readOutput(until text: String, timeout: TimeInterval = 30) throws -> String {
        var out: [UInt8] = []
        while !String(decoding: out, as: UTF8.self).contains(text) {
            guard let f = try next(timeout: timeout) else { break }
            if f.kind == AttachProtocol.Kind.stdout || f.kind == AttachProtocol.Kind.stderr { out += f.payload }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func text(_ frames: [Frame], kind: UInt8) -> String {
        String(decoding: frames.filter { $0.kind == kind }.flatMap(\.payload), as: UTF8.self)
    }

    static func exitCode(_ frames: [Frame]) -> Int32? {
        guard let last = frames.last, last.kind == AttachProtocol.Kind.exit else { return nil }
        return AttachProtocol.exitCode(last.payload)
    }
}

/// A monitor's attach socket with real containers: stdin, output routing, terminals, exit,
/// flow control; and exec driven through an inherited socket.
@Suite("attach")
struct AttachTests {
    func withHarness(_ body: (RuntimeHarness) throws -> Void) throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        try body(h)
    }

    @Test func stdinReachesCatAndTheExitFrameEndsIt() throws {
        try withHarness { h in
            let b = try h.bundle("cat", args: ["cat"])
            let sock = "\(h.dir)/cat.sock"
            let c = try h.initCmd(["create", "--attach-socket", sock, "--keep-stdin", "--stdin-once", "--bundle", b, "cat"])
            try #require(c.code == 0, "\(c.stderr)")
            // Connectable as soon as create returned.
            let client = try AttachTestClient(path: sock)
            try client.send(AttachProtocol.hello(stdout: true, stderr: false, stdin: true))
            #expect(try h.initCmd(["start", "cat"]).code == 0)
            try client.send(AttachProtocol.stdin(Array("hello\n".utf8)))
            #expect(try client.readOutput(until: "hello\n") == "hello\n")
            try client.send(AttachProtocol.stdin(Array("world\n".utf8)))
            #expect(try client.readOutput(until: "world\n") == "world\n")
            try client.send(AttachProtocol.stdinClosed())
            let rest = try client.readToEnd()
            #expect(rest.map(\.kind) == [AttachProtocol.Kind.exit])
            #expect(AttachTestClient.exitCode(rest) == 0)
            // The exit frame comes after the record is written, and the socket is gone.
            #expect(FileManager.default.fileExists(atPath: "\(h.stateRoot)/cat/exit.json"))
            #expect(try h.waitExit("cat").exitCode == 0)
            #expect(!FileManager.default.fileExists(atPath: sock))
        }
    }

    @Test func streamsGoOnlyToClientsThatAskedForThem() throws {
        try withHarness { h in
            let b = try h.bundle("routes", args: ["sh", "-c", "read x; echo out; echo err >&2; exit 3"])
            let sock = "\(h.dir)/routes.sock"
            let c = try h.initCmd(["create", "--attach-socket", sock, "--keep-stdin", "--bundle", b, "routes"])
            try #require(c.code == 0, "\(c.stderr)")
            let errOnly = try AttachTestClient(path: sock)
            try errOnly.send(AttachProtocol.hello(stdout: false, stderr: true, stdin: false))
            let watcher = try AttachTestClient(path: sock)
            let both = try AttachTestClient(path: sock)
            try both.send(AttachProtocol.hello(stdout: true, stderr: true, stdin: true))
            #expect(try h.initCmd(["start", "routes"]).code == 0)
            // The container prints only after this line, which the monitor reads after the
            // hellos that were sent before it.
            try both.send(AttachProtocol.stdin(Array("go\n".utf8)))

            let all = try both.readToEnd()
            #expect(AttachTestClient.text(all, kind: AttachProtocol.Kind.stdout) == "out\n")
            #expect(AttachTestClient.text(all, kind: AttachProtocol.Kind.stderr) == "err\n")
            #expect(AttachTestClient.exitCode(all) == 3)
            let errs = try errOnly.readToEnd()
            #expect(errs.map(\.kind) == [AttachProtocol.Kind.stderr, AttachProtocol.Kind.exit], "\(errs.map(\.kind))")
            #expect(AttachTestClient.text(errs, kind: AttachProtocol.Kind.stderr) == "err\n")
            #expect(AttachTestClient.exitCode(errs) == 3)
            let watched = try watcher.readToEnd()
            #expect(watched.map(\.kind) == [AttachProtocol.Kind.exit])
            #expect(AttachTestClient.exitCode(watched) == 3)
            #expect(try h.waitExit("routes").exitCode == 3)
        }
    }

    @Test func aWatchOnlyClientGetsTheExitAndEOF() throws {
        try withHarness { h in
            let b = try h.bundle("watch", args: ["sh", "-c", "echo noise; echo more >&2; sleep 0.2; exit 4"])
            let sock = "\(h.dir)/watch.sock"
            // A socket left behind by a monitor that was killed is replaced.
            let stale = try UnixSocket.listen(sock)
            close(stale)
            let log = "\(h.dir)/watch.log"
            let c = try h.initCmd(["create", "--attach-socket", sock, "--log-path", log, "--bundle", b, "watch"])
            try #require(c.code == 0, "\(c.stderr)")
            let watcher = try AttachTestClient(path: sock)
            #expect(try h.initCmd(["start", "watch"]).code == 0)
            let frames = try watcher.readToEnd()
            #expect(frames.map(\.kind) == [AttachProtocol.Kind.exit])
            #expect(AttachTestClient.exitCode(frames) == 4)
            // The output still went to the log.
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(text.contains("noise") && text.contains("more"), "\(text)")
            // After the exit nobody can connect: EOF or ENOENT both mean "read exit.json".
            #expect(throws: BerthError.self) { try UnixSocket.connect(sock) }
        }
    }

    @Test func resizeSetsTheTerminalSize() throws {
        try withHarness { h in
            let b = try h.bundle("tty", args: ["sh", "-c", "read x; stty size; exit 6"]) { $0.process?.terminal = true }
            let sock = "\(h.dir)/tty.sock"
            let c = try h.initCmd(["create", "--attach-socket", sock, "--bundle", b, "tty"])
            try #require(c.code == 0, "\(c.stderr)")
            let client = try AttachTestClient(path: sock)
            try client.send(AttachProtocol.hello(stdout: true, stderr: true, stdin: true))
            try client.send(AttachProtocol.resize(rows: 33, cols: 101))
            #expect(try h.initCmd(["start", "tty"]).code == 0)
            try client.send(AttachProtocol.stdin(Array("go\n".utf8)))
            let frames = try client.readToEnd()
            // A terminal's output is all stdout.
            #expect(!frames.contains { $0.kind == AttachProtocol.Kind.stderr })
            let out = AttachTestClient.text(frames, kind: AttachProtocol.Kind.stdout)
            #expect(out.contains("33 101"), "\(out)")
            #expect(AttachTestClient.exitCode(frames) == 6)
        }
    }

    /// 20 MB through a client that reads slowly: the monitor stops reading the container while
    /// the client is behind (the log stops growing too), and every byte arrives, in order.
    @Test func slowClientsGetBackpressureNotLoss() throws {
        let lines = 20000
        let filler = String(repeating: "abcdefgh", count: 124)
        var expected: [UInt8] = []
        expected.reserveCapacity(lines * 1001)
        for i in 0..<lines {
            var n = String(i)
            n = String(repeating: "0", count: 8 - n.count) + n
            expected += Array((n + filler + "\n").utf8)
        }
        try withHarness { h in
            let script = "read x; awk 'BEGIN { s = \"\"; for (j = 0; j < 124; j++) s = s \"abcdefgh\"; for (i = 0; i < \(lines); i++) printf \"%08d%s\\n\", i, s }'"
            let b = try h.bundle("flood", args: ["sh", "-c", script])
            let sock = "\(h.dir)/flood.sock"
            let log = "\(h.dir)/flood.log"
            let c = try h.initCmd(["create", "--attach-socket", sock, "--keep-stdin", "--log-path", log, "--bundle", b, "flood"])
            try #require(c.code == 0, "\(c.stderr)")
            let client = try AttachTestClient(path: sock)
            try client.send(AttachProtocol.hello(stdout: true, stderr: true, stdin: true))
            #expect(try h.initCmd(["start", "flood"]).code == 0)
            try client.send(AttachProtocol.stdin(Array("go\n".utf8)))

            func logSize() -> Int {
                ((try? FileManager.default.attributesOfItem(atPath: log))?[.size] as? NSNumber)?.intValue ?? 0
            }
            var received: [UInt8] = []
            received.reserveCapacity(expected.count)
            var paused = false
            var exitCode: Int32?
            while let f = try client.next(chunk: 32768) {
                if f.kind == AttachProtocol.Kind.stdout { received += f.payload }
                if f.kind == AttachProtocol.Kind.exit { exitCode = AttachProtocol.exitCode(f.payload) }
                if !paused && received.count > 4_000_000 {
                    paused = true
                    // Stop reading: the monitor must stop reading the container once we are
                    // about 1 MiB behind (plus what the socket buffers hold).
                    usleep(400_000)
                    let a = logSize()
                    usleep(600_000)
                    let b = logSize()
                    #expect(a == b, "the log grew from \(a) to \(b) bytes while the client was stalled")
                    // Each 1001-byte line is about 1090 bytes of json-file log.
                    let logged = Double(b) / 1090 * 1001
                    #expect(logged < Double(received.count) + 4_000_000, "monitor ran \(Int(logged) - received.count) bytes ahead")
                } else {
                    usleep(200)
                }
            }
            #expect(paused)
            #expect(exitCode == 0)
            #expect(received.count == expected.count)
            #expect(received == expected, "output differs from what the container wrote")

            let logged = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line -> [UInt8] in
                let rec = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] ?? [:]
                return Array((rec["log"] ?? "").utf8)
            }.flatMap { $0 }
            #expect(logged.count == expected.count)
            #expect(logged == expected, "the log differs from what the container wrote")
        }
    }

    /// Runs `berth-init exec --attach-fd 3 ARGS` with one end of a socket pair as fd 3.
    func spawnExec(_ h: RuntimeHarness, _ args: [String]) throws -> (pid: pid_t, client: AttachTestClient) {
        let (ours, theirs) = try FD.socketPair(seqpacket: false)
        defer { close(theirs) }
        let pid = try ProcessControl.spawn(
            path: RuntimeHarness.binary,
            args: ["berth-init", "--root", h.stateRoot, "exec", "--attach-fd", "3"] + args,
            env: [], pass: [(child: 3, parent: theirs)])
        return (pid, AttachTestClient(fd: ours))
    }

    @Test func execThroughAnInheritedSocket() throws {
        try withHarness { h in
            let b = try h.bundle("ex", args: ["sleep", "60"])
            let r = try h.initCmd(["run", "--detach", "--bundle", b, "ex"])
            try #require(r.code == 0, "\(r.stderr)")

            // Output and exit code.
            var (pid, client) = try spawnExec(h, ["ex", "sh", "-c", "echo out; echo err >&2; exit 5"])
            var frames = try client.readToEnd()
            #expect(AttachTestClient.text(frames, kind: AttachProtocol.Kind.stdout) == "out\n")
            #expect(AttachTestClient.text(frames, kind: AttachProtocol.Kind.stderr) == "err\n")
            #expect(AttachTestClient.exitCode(frames) == 5)
            #expect(try ProcessControl.wait(pid)?.status == .exited(5))

            // stdin with -i, closed by the client's stdin-closed frame.
            (pid, client) = try spawnExec(h, ["-i", "ex", "cat"])
            try client.send(AttachProtocol.stdin(Array("ping\n".utf8)))
            #expect(try client.readOutput(until: "ping\n") == "ping\n")
            try client.send(AttachProtocol.stdinClosed())
            frames = try client.readToEnd()
            #expect(AttachTestClient.exitCode(frames) == 0)
            #expect(try ProcessControl.wait(pid)?.status == .exited(0))

            // A terminal, resized by the client.
            (pid, client) = try spawnExec(h, ["--tty", "-i", "ex", "sh", "-c", "read x; stty size"])
            try client.send(AttachProtocol.resize(rows: 40, cols: 120))
            try client.send(AttachProtocol.stdin(Array("go\n".utf8)))
            frames = try client.readToEnd()
            #expect(AttachTestClient.text(frames, kind: AttachProtocol.Kind.stdout).contains("40 120"))
            #expect(AttachTestClient.exitCode(frames) == 0)
            #expect(try ProcessControl.wait(pid)?.status == .exited(0))

            // --privileged: every capability the kernel has (the host's bounding set, as root).
            let host = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("CapBnd:") }.map { $0.dropFirst(7).trimmingCharacters(in: .whitespaces) }
            (pid, client) = try spawnExec(h, ["--privileged", "ex", "grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"])
            frames = try client.readToEnd()
            let caps = AttachTestClient.text(frames, kind: AttachProtocol.Kind.stdout)
            #expect(caps.contains("CapEff:\t\(host ?? "?")") && caps.contains("CapBnd:\t\(host ?? "?")"), "\(caps)")
            #expect(try ProcessControl.wait(pid)?.status == .exited(0))

            // A program that is not there: the message as stderr, then 127.
            (pid, client) = try spawnExec(h, ["ex", "/no/such/program"])
            frames = try client.readToEnd()
            #expect(AttachTestClient.text(frames, kind: AttachProtocol.Kind.stderr).contains("/no/such/program"))
            #expect(AttachTestClient.exitCode(frames) == 127)
            #expect(try ProcessControl.wait(pid)?.status == .exited(127))

            #expect(try h.initCmd(["kill", "ex", "KILL"]).code == 0)
            _ = try h.waitExit("ex")
        }
    }

    @Test func aNewNetworkNamespaceHasLoopbackUp() throws {
        try withHarness { h in
            let r = try h.runContainer("lo", ["sh", "-c", "cat /sys/class/net/lo/flags; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok"])
            #expect(r.code == 0, "\(r.stderr)")
            // IFF_UP | IFF_LOOPBACK (and RUNNING, not shown in flags).
            #expect(r.stdout == "0x9\nping-ok\n", "\(r.stdout)")
        }
    }
}
