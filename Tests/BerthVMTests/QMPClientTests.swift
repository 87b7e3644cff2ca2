import BerthCore
import BerthSystem
import Foundation
import Glibc
import Testing
@testable import BerthVM

/// QMPClient against a fake QMP server on a unix socket.
@Suite("qmp client")
struct QMPClientTests {
    /// Serves one connection: the greeting, `qmp_capabilities` answered, then hangs up.
    static func serveOnceAndHangUp(_ listener: Int32) {
        var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, 5000)
        guard let c = try? UnixSocket.accept(listener) else { return }
        defer { FD.close(c) }
        try? FD.setNonBlocking(c, false)
        try? FD.writeAll(c, #"{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}"# + "\n")
        var got: [UInt8] = []
        while !got.contains(10), let chunk = try? FD.read(c), !chunk.isEmpty { got += chunk }
        try? FD.writeAll(c, #"{"return": {}}"# + "\n")
    }

    /// `from` → `to` carries a byte (no SIGPIPE if `from` was shut down); nil if it does, else
    /// what went wrong.
    static func carries(_ from: Int32, _ to: Int32) -> String? {
        var byte: UInt8 = 7
        if send(from, &byte, 1, Int32(MSG_NOSIGNAL)) != 1 { return "send on \(from): errno \(errno)" }
        var got: UInt8 = 0
        let n = recv(to, &got, 1, Int32(MSG_DONTWAIT))
        if n != 1 { return "recv on \(to): \(n), errno \(errno)" }
        return got == 7 ? nil : "recv on \(to): \(got) instead of 7"
    }

    /// The reader thread closes the socket when QEMU hangs up; a `close()` or a command that
    /// comes later must not touch the descriptor that reused the number (it used to shut it
    /// down: SwiftNIO's UDP socket of the DNS server then spun on an empty readable socket).
    @Test func afterTheServerHungUpNothingTouchesAReusedDescriptor() async throws {
        var template = Array("/tmp/berth-qmp-test-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw BerthError.sys("mkdtemp") }
        let root = String(cString: dir)
        defer { try? FileSystem.removeTree(root) }
        let listener = try UnixSocket.listen(root + "/qmp.sock")
        defer { FD.close(listener) }
        Thread.detachNewThread { Self.serveOnceAndHangUp(listener) }

        let client = try await BlockingWork.run { try QMPClient.connect(path: root + "/qmp.sock", what: "vm t", timeout: 5) }
        var waited = 0
        while !client.isClosed && waited < 500 {
            try await Task.sleep(nanoseconds: 10_000_000)
            waited += 1
        }
        #expect(client.isClosed)
        // New sockets until one has the client's old number (the lowest free numbers are
        // handed out, so that is soon, unless another thread of the test process took it).
        var pairs: [(Int32, Int32)] = []
        defer { for (a, b) in pairs { FD.close(a); FD.close(b) } }
        while pairs.count < 64, !pairs.contains(where: { $0.0 == client.descriptorNumber || $0.1 == client.descriptorNumber }) {
            pairs.append(try FD.socketPair(seqpacket: false))
        }
        await client.close()
        await #expect(throws: BerthError.self) { try await client.execute("query-status") }
        for (a, b) in pairs {
            let broken = Self.carries(a, b) ?? Self.carries(b, a)
            #expect(broken == nil, "socket pair \(a)/\(b), made after the hang-up (the client had \(client.descriptorNumber)): \(broken ?? "")")
        }
    }
}
