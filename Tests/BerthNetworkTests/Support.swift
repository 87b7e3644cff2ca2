import BerthCore
import BerthSystem
import Glibc
import Testing
@testable import BerthNetwork

// MARK: - Deterministic randomness

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so a failing fuzz case can be
/// replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// MARK: - Small builders

extension DNSName {
    /// A name from presentation text known to be valid (tests only).
    static func t(_ text: String) -> DNSName {
        // swiftlint:disable:next force_try
        try! DNSName(text)
    }
}

extension IPAddress {
    static func t(_ text: String) -> IPAddress { IPAddress(text)! }
}

/// Big-endian 16-bit value as two bytes.
func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

/// A DNS header: id, flags, then the four section counts.
func header(id: Int = 0x1234, flags: Int = 0x0100, qd: Int = 0, an: Int = 0, ns: Int = 0, ar: Int = 0) -> [UInt8] {
    be16(id) + be16(flags) + be16(qd) + be16(an) + be16(ns) + be16(ar)
}

/// An uncompressed wire name from dotted text (`""` is the root).
func wireName(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in text.split(separator: ".") {
        out.append(UInt8(label.utf8.count))
        out += Array(label.utf8)
    }
    return out + [0]
}

/// Expects `body` to throw a `BerthError` with `code`, and returns it.
@discardableResult
func expectBerthError<T>(
    _ code: BerthError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T
) -> BerthError? {
    do {
        let value = try body()
        Issue.record("expected a \(code) error, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let e as BerthError {
        #expect(e.code == code, "\(e)", sourceLocation: sourceLocation)
        return e
    } catch {
        Issue.record("expected a BerthError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

// MARK: - Plain sockets (the test's side of the wire, independent of NIO)

enum TestSocketError: Error, CustomStringConvertible {
    case call(String, Int32)
    case timeout(String)
    case closed

    var description: String {
        switch self {
        case .call(let what, let e): "\(what): \(String(cString: strerror(e)))"
        case .timeout(let what): "\(what): timed out"
        case .closed: "connection closed early"
        }
    }
}

func loopback(port: UInt16) -> sockaddr_in {
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_port = port.bigEndian
    sa.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return sa
}

/// A socket with a receive timeout; closed by `close()`.
final class TestSocket: @unchecked Sendable {
    let fd: Int32

    init(udp: Bool, timeoutMilliseconds: Int = 3000) throws {
        fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestSocketError.call("socket", errno) }
        var tv = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { _ = Glibc.close(fd) }

    /// Binds 127.0.0.1:`port` (0: any) and returns the port bound.
    func bindLoopback(port: UInt16 = 0) throws -> UInt16 {
        var sa = loopback(port: port)
        let r = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard r == 0 else { throw TestSocketError.call("bind 127.0.0.1:\(port)", errno) }
        return try localPort()
    }

    func localPort() throws -> UInt16 {
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let r = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard r == 0 else { throw TestSocketError.call("getsockname", errno) }
        return UInt16(bigEndian: sa.sin_port)
    }

    func connectLoopback(port: UInt16) throws {
        var sa = loopback(port: port)
        let r = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard r == 0 else { throw TestSocketError.call("connect 127.0.0.1:\(port)", errno) }
    }

    func sendTo(port: UInt16, _ bytes: [UInt8]) throws {
        var sa = loopback(port: port)
        let n = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard n == bytes.count else { throw TestSocketError.call("sendto 127.0.0.1:\(port)", errno) }
    }

    /// One datagram (or whatever a stream read returns), with the sender's port.
    func receive(max: Int = 65536) throws -> (bytes: [UInt8], port: UInt16) {
        var buffer = [UInt8](repeating: 0, count: max)
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buffer.withUnsafeMutableBytes { buf in
            withUnsafeMutablePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, buf.baseAddress, buf.count, 0, $0, &len)
                }
            }
        }
        if n < 0 {
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK { throw TestSocketError.timeout("receive") }
            throw TestSocketError.call("receive", e)
        }
        return (Array(buffer.prefix(n)), UInt16(bigEndian: sa.sin_port))
    }

    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSocketError.call("send", errno) }
            offset += n
        }
    }

    func receiveExactly(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            let (chunk, _) = try receive(max: count - out.count)
            if chunk.isEmpty { throw TestSocketError.closed }
            out += chunk
        }
        return out
    }
}

/// Sends `query` to 127.0.0.1:`port` over UDP and returns the decoded answer.
func udpExchange(_ query: DNSMessage, port: Int, timeoutMilliseconds: Int = 5000) throws -> DNSMessage {
    try DNSMessage(decoding: udpExchange(raw: query.encoded(), port: port, timeoutMilliseconds: timeoutMilliseconds))
}

/// Sends raw bytes over UDP and returns the raw answer.
func udpExchange(raw: [UInt8], port: Int, timeoutMilliseconds: Int = 5000) throws -> [UInt8] {
    let s = try TestSocket(udp: true, timeoutMilliseconds: timeoutMilliseconds)
    defer { s.close() }
    try s.sendTo(port: UInt16(port), raw)
    return try s.receive().bytes
}

/// Sends `query` over a fresh TCP connection (2-byte length prefix) and returns the answer.
func tcpExchange(_ query: DNSMessage, port: Int, timeoutMilliseconds: Int = 5000) throws -> DNSMessage {
    let s = try TestSocket(udp: false, timeoutMilliseconds: timeoutMilliseconds)
    defer { s.close() }
    try s.connectLoopback(port: UInt16(port))
    let bytes = try query.encoded()
    try s.sendAll(be16(bytes.count) + bytes)
    let prefix = try s.receiveExactly(2)
    let length = Int(prefix[0]) << 8 | Int(prefix[1])
    return try DNSMessage(decoding: s.receiveExactly(length))
}

// MARK: - Running programs (tests may shell out)

/// What a program printed and how it ended.
struct Ran {
    var status: BerthSystem.ExitStatus
    var stdout: String
    var stderr: String
    var ok: Bool { status == .exited(0) }
}

/// The path of an installed program, nil when missing.
func installed(_ program: String) -> String? {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map { "\($0)/\(program)" }.first { access($0, X_OK) == 0 }
}

/// Runs a program with posix_spawn (the signal mask is cleared in the child, unlike Foundation's
/// Process from a dispatch thread), bounded by `timeout -s KILL`.
@discardableResult
func runProgram(_ args: [String], seconds: Int = 30) throws -> Ran {
    guard let timeout = installed("timeout") else { throw BerthError.unsupported("timeout not installed") }
    let out = try FD.pipe()
    let err = try FD.pipe()
    var fds = [out.read, out.write, err.read, err.write]
    defer { for fd in fds { FD.close(fd) } }
    let pid = try ProcessControl.spawn(
        path: timeout, args: ["timeout", "-s", "KILL", "\(seconds)"] + args,
        env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"], stdio: [1: out.write, 2: err.write])
    FD.close(out.write)
    FD.close(err.write)
    fds.removeAll { $0 == out.write || $0 == err.write }
    let o = try FileSystem.readAll(fd: out.read, what: "stdout")
    let e = try FileSystem.readAll(fd: err.read, what: "stderr")
    let status = try ProcessControl.wait(pid)?.status ?? .exited(-1)
    return Ran(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs a program and throws unless it exits 0.
@discardableResult
func mustRun(_ args: [String]) throws -> String {
    let r = try runProgram(args)
    guard r.ok else {
        throw BerthError(.system, "\(args.joined(separator: " ")) failed (\(r.status)): \(r.stderr)")
    }
    return r.stdout
}
