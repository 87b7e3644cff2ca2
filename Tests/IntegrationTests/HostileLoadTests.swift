import BerthTestSupport
import Foundation
import Testing

/// Hostile archives through `docker load`: each is rejected with a clear error (or, for a
/// symlink pointing up, contained), nothing is written outside the store, and the store stays
/// consistent. Then a crash in the middle of a 100 MB load.
@Suite(.serialized)
struct HostileLoadTests {
    static let rejected: [(String, String)] = [
        ("dotdot", "escapes the extraction root"),
        ("symlink-write", "link"),
        ("hardlink-out", "escapes the extraction root"),
        ("hardlink-abs", "hard link"),
        ("sparse", "unsupported tar entry type"),
        ("huge-truncated", "truncated"),
        ("manifest-escape", "is missing"),
        ("manifest-absolute", "is missing"),
        ("wrong-diffid", "diff ID mismatch"),
        ("wrong-digest", "not the one its name says"),
        ("truncated-gzip", "gzip"),
        ("garbage", "invalid tar archive"),
    ]

    @Test func hostileArchivesAreRejected() throws {
        try withDaemon { d in
            let fixtures = d.dir + "/fixtures"
            let sentinel = d.dir + "/sentinel"
            try FileManager.default.createDirectory(atPath: sentinel, withIntermediateDirectories: true)
            let gen = try runCommand(["python3", Paths.repo + "/Tests/IntegrationTests/Fixtures/archives.py", fixtures, sentinel])
            #expect(gen.status == 0, "\(gen.stderr)")
            let passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            for (name, message) in Self.rejected {
                let r = try d.docker("load", "-i", "\(fixtures)/\(name).tar")
                #expect(r.status != 0, "\(name) was accepted")
                #expect((r.stderr + r.stdout).contains(message), "\(name): \(r.stderr) \(r.stdout)")
                #expect(filesUnder(sentinel).isEmpty, "\(name) wrote outside the root")
                #expect(try String(contentsOfFile: "/etc/passwd", encoding: .utf8) == passwd)
            }
            // A symlink that points above the root is followed inside it, as Docker does.
            let contained = try d.docker("load", "-i", "\(fixtures)/symlink-relative.tar")
            #expect(filesUnder(sentinel).isEmpty, "symlink-relative wrote outside the root: \(contained.stdout)")
            // Only the good image (and the contained one) exist; the store is consistent.
            let ids = try d.docker("images", "--format", "{{.Repository}}").stdout.split(separator: "\n")
            #expect(Set(ids).isSubset(of: ["busybox", "hostile"]))
            try verifyStore(d.root)
            // The good image still works after all that.
            #expect(try d.docker("save", "busybox:test", "-o", d.dir + "/ok.tar").status == 0)
        }
    }

    /// kill -9 during a 100 MB load, restart: the image is fully present or absent and the
    /// store is consistent with no temp files.
    @Test func crashDuringLoad() throws {
        let d = try TestDaemon()
        defer { d.cleanup() }
        try d.start()
        let fixtures = d.dir + "/fixtures"
        let gen = try runCommand(["python3", Paths.repo + "/Tests/IntegrationTests/Fixtures/archives.py", fixtures, d.dir + "/s", "112"])
        #expect(gen.status == 0, "\(gen.stderr)")
        let configID = gen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Start the load in the background, kill the daemon once data is flowing in.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["docker", "load", "-i", fixtures + "/large.tar"]
        p.environment = ProcessInfo.processInfo.environment.merging(["DOCKER_HOST": d.host]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let ingest = d.root + "/image/content/ingest"
        for _ in 0..<2000 {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: ingest)) ?? []
            let size = files.compactMap { try? FileManager.default.attributesOfItem(atPath: ingest + "/" + $0)[.size] as? Int }.reduce(0, +)
            if size > 8 << 20 { break }
            usleep(2000)
        }
        d.crash()
        p.waitUntilExitReliably()
        try d.start()
        let ids = try d.docker("images", "-q", "--no-trunc").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ids.isEmpty || ids == configID, "partial image after crash: \(ids)")
        try verifyStore(d.root)
        // The same load then succeeds.
        let again = try d.docker("load", "-i", fixtures + "/large.tar")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try d.docker("images", "-q", "--no-trunc").stdout.contains(configID))
        try verifyStore(d.root)
    }
}
