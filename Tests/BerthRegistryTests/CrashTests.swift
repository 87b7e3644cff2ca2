@testable import BerthRegistry
import BerthTestSupport
import BerthSystem
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A registry stopped or killed mid-upload never shows a partial blob, and the upload resumes.
struct CrashTests {
    /// The storage is reopened (a new server over the same root) after a partial upload and a
    /// torn write past the recorded offset.
    @Test func reopenedStorageMidUpload() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let blob = randomBytes(50_000)
        let digest = sha256(blob)
        let first = try await RegistryFixture(dir: dir)
        let location = try #require(try await first.curl("POST", "/v2/app/blobs/uploads/")["Location"])
        let id = String(location.split(separator: "/").last!)
        #expect(try await first.curl("PATCH", location, body: Array(blob[0..<20_000])).status == 202)
        await first.stop(keepRoot: true)
        // A crash in the middle of the next chunk: bytes on disk past the recorded offset.
        let data = FileHandle(forWritingAtPath: first.root + "/uploads/\(id)/data")!
        data.seekToEndOfFile()
        data.write(Data(repeating: 0xee, count: 7777))
        try data.close()

        let second = try await RegistryFixture(dir: dir)
        do {
            try await resumeAfterReopen(second, location: location, blob: blob, digest: digest)
            await second.stop(keepRoot: true)
        } catch {
            await second.stop(keepRoot: true)
            throw error
        }
    }

    func resumeAfterReopen(_ second: RegistryFixture, location: String, blob: [UInt8], digest: String) async throws {
        #expect(try await second.curl("HEAD", "/v2/app/blobs/\(digest)").status == 404)
        #expect(try second.committedBlobs().isEmpty)
        let status = try await second.curl("GET", location)
        #expect(status.status == 204)
        #expect(status["Range"] == "0-19999")
        #expect(try await second.curl("PATCH", location, headers: ["Content-Range: 20000-49999"], body: Array(blob[20_000...])).status == 202)
        #expect(try await second.curl("PUT", "\(location)?digest=\(digest)").status == 201)
        #expect(try await second.curl("GET", "/v2/app/blobs/\(digest)").body == blob)
    }

    @Test func staleAndHalfCreatedUploadsArePurged() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let storage = try RegistryStorage(root: dir.path)
        let old = try storage.startUpload(repository: "app", now: 1000)
        let fresh = try storage.startUpload(repository: "app")
        try FileSystem.makeDirectories(dir.path + "/uploads/.tmp-half-made")
        try FileSystem.writeAtomically(dir.path + "/blobs/sha256/.tmp-crashed", [1, 2, 3])
        // Reopening removes what can never finish; committed content is left alone.
        let reopened = try RegistryStorage(root: dir.path)
        #expect(throws: RegistryError.self) { try reopened.upload(old.id, repository: "app") }
        #expect(try reopened.upload(fresh.id, repository: "app").offset == 0)
        #expect(!FileSystem.exists(dir.path + "/uploads/.tmp-half-made"))
        #expect(!FileSystem.exists(dir.path + "/blobs/sha256/.tmp-crashed"))
        #expect(try reopened.purgeUploads(olderThan: 60, now: WallClock.now().seconds + 3600) == 1)
        #expect(throws: RegistryError.self) { try reopened.upload(fresh.id, repository: "app") }
        // An upload belongs to its repository.
        let other = try reopened.startUpload(repository: "app")
        #expect(throws: RegistryError.self) { try reopened.upload(other.id, repository: "other") }
    }

    /// `berth-registry serve` killed with SIGKILL in the middle of a PATCH and of a monolithic
    /// POST: after a restart nothing partial is visible and the chunked upload resumes.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Paths.registryExecutable)))
    func killedServerMidUpload() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let blob = randomBytes(400_000)
        let digest = sha256(blob)

        var server = try await RegistryProcess.start(root: dir.path + "/root")
        let location = try #require(try await curl("POST", server.base + "/v2/app/blobs/uploads/")["Location"])
        let id = String(location.split(separator: "/").last!)
        let patch = try RawConnection(port: server.port)
        try patch.send(Array("PATCH \(location) HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n".utf8) + Array(blob[0..<150_000]))
        let mono = try RawConnection(port: server.port)
        try mono.send(Array("POST /v2/app/blobs/uploads/?digest=\(digest) HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n".utf8)
                      + Array(blob[0..<150_000]))
        let written = try await eventually {
            let size = (try? FileManager.default.attributesOfItem(atPath: dir.path + "/root/uploads/\(id)/data")[.size] as? Int) ?? 0
            return size == 150_000
        }
        #expect(written)
        server.kill()
        patch.abort()
        mono.abort()

        server = try await RegistryProcess.start(root: dir.path + "/root")
        defer { server.kill() }
        #expect(try await curl("HEAD", server.base + "/v2/app/blobs/\(digest)").status == 404)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/root/blobs/sha256").isEmpty)
        let status = try await curl("GET", server.base + location)
        #expect(status.status == 204)
        // Killed before the PATCH ended, so no offset was recorded: the torn bytes are dropped.
        let range = try #require(status["Range"])
        let offset = range == "0-0" ? 0 : Int(range.split(separator: "-")[1])! + 1
        let rest = try await curl("PATCH", server.base + location, headers: ["Content-Range: \(offset)-399999"], body: Array(blob[offset...]))
        #expect(rest.status == 202)
        #expect(try await curl("PUT", server.base + "\(location)?digest=\(digest)").status == 201)
        #expect(try await curl("GET", server.base + "/v2/app/blobs/\(digest)").body == blob)
    }

    /// Bad TLS flags are refused before anything is created or bound (serving HTTPS is
    /// covered by IntegrationTests' RegistryTLSTests, with real certificates).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: Paths.registryExecutable)))
    func executableValidatesTLSFlags() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let root = dir.path + "/root"
        let notPEM = dir.path + "/not.pem"
        try "hello".write(toFile: notPEM, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--tls-cert", notPEM], "--tls-cert and --tls-key go together"),
            (["--tls-client-ca", notPEM], "--tls-client-ca needs --tls-cert and --tls-key"),
            (["--tls-cert", notPEM, "--tls-key", notPEM], "tls certificate \(notPEM): not a PEM certificate"),
            (["--tls-cert", dir.path + "/missing.pem", "--tls-key", notPEM], "tls certificate \(dir.path)/missing.pem"),
        ]
        for (flags, message) in cases {
            let r = try await run(Paths.registryExecutable, ["serve", "--addr", "127.0.0.1:0", "--root", root] + flags)
            #expect(r.status != 0, "\(flags)")
            #expect(r.stderr.contains(message), "\(flags): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: root))
    }
}

/// `berth-registry serve --addr 127.0.0.1:0` as a child process.
struct RegistryProcess {
    let process: Process
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    static func start(root: String, extra: [String] = []) async throws -> RegistryProcess {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.registryExecutable)
        p.arguments = ["serve", "--addr", "127.0.0.1:0", "--root", root] + extra
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = try await BlockingWork.run { () -> String in
            var bytes: [UInt8] = []
            while true {
                let d = out.fileHandleForReading.readData(ofLength: 1)
                if d.isEmpty || d.first == UInt8(ascii: "\n") { break }
                bytes += d
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard line.hasPrefix("listening on "), let colon = line.lastIndex(of: ":"),
              let port = Int(line[line.index(after: colon)...]) else {
            p.terminate()
            throw TestFailure("berth-registry did not start: \(line)")
        }
        return RegistryProcess(process: p, port: port)
    }

    /// SIGKILL, and reap.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExitReliably()
    }
}
