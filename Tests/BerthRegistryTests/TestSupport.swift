import BerthTestSupport
import BerthHTTP
import BerthRegistry
import BerthSystem
import Foundation
import struct Crypto.SHA256
#if canImport(Glibc)
import Glibc
#endif

/// A unique temp dir, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        var template = Array("/tmp/berth-registry-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func sha256(_ bytes: [UInt8]) -> String {
    "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

func randomBytes(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// A registry served in-process on 127.0.0.1:<picked port>, over a temp root.
final class RegistryFixture: @unchecked Sendable {
    let dir: TempDir
    var root: String { dir.path + "/root" }
    let storage: RegistryStorage
    let server: HTTPServer
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }
    var hostPort: String { "127.0.0.1:\(port)" }

    init(auth: RegistryAuth = .open, fixedBodyLimit: Int64 = 1 << 20, dir: TempDir? = nil) async throws {
        self.dir = try dir ?? TempDir()
        storage = try RegistryStorage(root: self.dir.path + "/root")
        server = HTTPServer(handler: RegistryServer(storage: storage, auth: auth, fixedBodyLimit: fixedBodyLimit))
        port = try await server.listen(host: "127.0.0.1", port: 0)
    }

    /// Stops the server; `keepRoot` leaves the files for a reopen.
    func stop(keepRoot: Bool = false) async {
        await server.shutdown(timeout: .seconds(2))
        if !keepRoot { dir.cleanup() }
    }

    /// Runs `body` with a fresh registry, always stopping it.
    static func with<T>(auth: RegistryAuth = .open, fixedBodyLimit: Int64 = 1 << 20,
                        _ body: (RegistryFixture) async throws -> T) async throws -> T {
        let fixture = try await RegistryFixture(auth: auth, fixedBodyLimit: fixedBodyLimit)
        do {
            let result = try await body(fixture)
            await fixture.stop()
            return result
        } catch {
            await fixture.stop()
            throw error
        }
    }

    /// `curl` against this registry: `path` is appended to the base URL.
    func curl(_ method: String, _ path: String, headers: [String] = [], body: [UInt8]? = nil,
              extra: [String] = []) async throws -> CurlResult {
        try await BerthRegistryTests.curl(method, base + path, headers: headers, body: body, extra: extra)
    }

    /// Uploads a blob monolithically; returns its digest.
    @discardableResult
    func pushBlob(_ name: String, _ bytes: [UInt8]) async throws -> String {
        let digest = sha256(bytes)
        let r = try await curl("POST", "/v2/\(name)/blobs/uploads/?digest=\(digest)", body: bytes)
        guard r.status == 201 else { throw TestFailure("push blob: \(r.status) \(r.text)") }
        return digest
    }

    /// Puts a manifest; returns the response.
    func putManifest(_ name: String, _ reference: String, _ json: String, mediaType: String) async throws -> CurlResult {
        try await curl("PUT", "/v2/\(name)/manifests/\(reference)", headers: ["Content-Type: \(mediaType)"],
                       body: Array(json.utf8))
    }

    /// Pushes a config and one layer, then an OCI manifest tagged `tag`; returns the manifest
    /// JSON and its digest.
    func pushImage(_ name: String, tag: String, layer: [UInt8] = randomBytes(100)) async throws -> (String, String) {
        let config = Array("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}".utf8)
        let c = try await pushBlob(name, config)
        let l = try await pushBlob(name, layer)
        let manifest = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(c)","size":\(config.count)},\
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(l)","size":\(layer.count)}]}
        """
        let r = try await putManifest(name, tag, manifest, mediaType: "application/vnd.oci.image.manifest.v1+json")
        guard r.status == 201 else { throw TestFailure("put manifest: \(r.status) \(r.text)") }
        return (manifest, sha256(Array(manifest.utf8)))
    }

    /// Files under `blobs/sha256` (committed blobs).
    func committedBlobs() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root + "/blobs/sha256")
    }

    func uploadDirectories() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root + "/uploads")
    }
}

/// What curl got back.
struct CurlResult {
    var status: Int
    /// Header names lower-cased; the last value wins.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body)) }
    /// The first error code of a spec error body.
    var errorCode: String? {
        ((json as? [String: Any])?["errors"] as? [[String: Any]])?.first?["code"] as? String
    }
    subscript(_ header: String) -> String? { headers[header.lowercased()] }
}

/// Runs a program to completion off the cooperative pool (the in-process server needs it).
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         stdin: [UInt8]? = nil) async throws -> (status: Int32, stdout: [UInt8], stderr: String) {
    try await BlockingWork.run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin)) }
        try input.fileHandleForWriting.close()
        // Read both pipes fully before waiting (a full pipe would block the child).
        let errBox = DataBox()
        let errThread = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExitReliably()
        while !errBox.done { usleep(1000) }
        return (p.terminationStatus, [UInt8](o), String(decoding: errBox.data, as: UTF8.self))
    }
}

final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    var data: Data {
        get { lock.withLock { _data } }
        set { lock.withLock { _data = newValue; _done = true } }
    }
    var done: Bool { lock.withLock { _done } }
}

/// `curl -s` with the response head and body captured separately.
func curl(_ method: String, _ url: String, headers: [String] = [], body: [UInt8]? = nil,
          extra: [String] = []) async throws -> CurlResult {
    let dir = try TempDir()
    defer { dir.cleanup() }
    var args = ["-s", "-g", "-o", dir.path + "/body", "-D", dir.path + "/head", "-w", "%{http_code}"]
    if method == "HEAD" { args.append("-I") } else { args += ["-X", method] }
    for h in headers { args += ["-H", h] }
    if let body {
        _ = FileManager.default.createFile(atPath: dir.path + "/in", contents: Data(body))
        args += ["--data-binary", "@" + dir.path + "/in"]
        if !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) {
            args += ["-H", "Content-Type: application/octet-stream"]
        }
    }
    args += extra
    args.append(url)
    let (status, out, err) = try await run("/usr/bin/curl", args)
    guard status == 0, let code = Int(String(decoding: out, as: UTF8.self)) else {
        throw TestFailure("curl \(method) \(url): exit \(status) \(err)")
    }
    var fields: [String: String] = [:]
    let head = (try? String(contentsOfFile: dir.path + "/head", encoding: .utf8)) ?? ""
    for line in head.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = line[..<colon].lowercased()
        fields[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let bytes = (try? Data(contentsOf: URL(fileURLWithPath: dir.path + "/body"))).map { [UInt8]($0) } ?? []
    return CurlResult(status: code, headers: fields, body: bytes)
}

/// A raw TCP connection, to send a request and then drop it halfway.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            off += n
        }
    }

    /// Closes at once with a reset (SO_LINGER 0), like a client that died.
    func abort() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
}

/// Polls `condition` every 20 ms for up to `seconds` (generous: in a full run the cooperative
/// pool the in-process server needs can be starved by synchronous tests for many seconds).
func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

enum Paths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The berth-registry executable built next to the test bundle (or `$BERTH_REGISTRY`).
    static var registryExecutable: String {
        if let e = ProcessInfo.processInfo.environment["BERTH_REGISTRY"] { return e }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path + "/berth-registry"
    }

    /// The busybox test image (OCI layout + docker archive): `$BERTH_TEST_IMAGE`, or this
    /// checkout's `.build/test-image`, or one built now by `scripts/make-test-image` into
    /// `scratch` (reproducible: same digests everywhere).
    static func testImage(scratch: String) async throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["BERTH_TEST_IMAGE"],
                          packageRoot + "/.build/test-image/busybox-test.tar"].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        let r = try await run("/usr/bin/env", ["python3", packageRoot + "/scripts/make-test-image", scratch + "/test-image"])
        guard r.status == 0 else { throw TestFailure("make-test-image: \(r.stderr)") }
        return scratch + "/test-image/busybox-test.tar"
    }
}
