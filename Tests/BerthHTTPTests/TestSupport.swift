import BerthHTTP
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A unique temp dir removed on `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        var template = Array("/tmp/berth-http-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Starts a server on a fresh unix socket, runs `body`, shuts down and cleans up.
func withServer<T>(
    _ handler: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse,
    _ body: (HTTPServer, String) async throws -> T
) async throws -> T {
    let dir = try TempDir()
    defer { dir.cleanup() }
    let socket = dir.path + "/berth.sock"
    let server = HTTPServer(handler: HTTPClosureHandler(handler))
    do {
        try await server.listen(unixPath: socket)
        let result = try await body(server, socket)
        await server.shutdown(timeout: .seconds(2))
        return result
    } catch {
        await server.shutdown(timeout: .seconds(2))
        throw error
    }
}

/// A blocking unix-socket connection for byte-exact tests. The receive timeout is long (120 s):
/// synchronous integration tests running beside these can hold every cooperative thread for a
/// while, and the server under test needs one to answer.
final class RawSocket {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var tv = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func send(_ s: String) { send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads once; empty at EOF or timeout.
    func readSome() -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buf[0..<n]) : []
    }

    /// Reads until `text` contains `needle` (or EOF/timeout).
    func read(until needle: String) -> String {
        var text = ""
        while !text.contains(needle) {
            let chunk = readSome()
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    /// Reads everything to EOF.
    func readToEnd() -> String {
        var text = ""
        while true {
            let chunk = readSome()
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    func close() { Glibc.close(fd) }
}

/// Resident set size of this process in KiB.
func residentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    return 0
}

/// A one-shot signal between a handler and a test.
final class Signal: Sendable {
    let stream: AsyncStream<String>
    let continuation: AsyncStream<String>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
    }

    func fire(_ value: String = "") { continuation.yield(value) }

    func wait() async -> String? {
        var it = stream.makeAsyncIterator()
        return await it.next()
    }
}

/// A thread-safe boolean.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set(_ v: Bool) { value.withLock { $0 = v } }
    var isSet: Bool { value.withLock { $0 } }
}
