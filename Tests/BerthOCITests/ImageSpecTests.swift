import BerthTestSupport
import BerthCore
import BerthOCI
import Foundation
import Testing

@Suite("digests")
struct DigestTests {
    @Test(arguments: [
        "sha256:" + String(repeating: "a", count: 64),
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha512:" + String(repeating: "f", count: 128),
    ])
    func valid(_ text: String) throws {
        let d = try Digest(text)
        #expect(d.description == text)
        #expect(try BerthJSONDecoder().decode(Digest.self, from: "\"\(text)\"") == d)
    }

    @Test(arguments: [
        "", "sha256", "sha256:", "sha256:abc", "md5:" + String(repeating: "a", count: 32),
        "sha256:" + String(repeating: "A", count: 64),
        "sha256:" + String(repeating: "g", count: 64),
        "sha256:" + String(repeating: "a", count: 65),
        "sha256:../../../../etc/passwd" + String(repeating: "a", count: 40),
        "sha256:" + String(repeating: "a", count: 63) + "/",
    ])
    func invalid(_ text: String) {
        #expect(throws: BerthError.self) { try Digest(text) }
    }
}

@Suite("image spec")
struct ImageSpecTests {
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The busybox:test archive made by scripts/make-test-image, unpacked into a temp directory.
    func unpackedTestImage() throws -> String {
        let archive = "\(Self.repo)/.build/test-image/busybox-test.tar"
        guard FileManager.default.fileExists(atPath: archive) else {
            throw BerthError.notFound("test image missing: run scripts/make-test-image")
        }
        let dir = NSTemporaryDirectory() + "berth-oci-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/tar")
        p.arguments = ["-xf", archive, "-C", dir]
        try p.run()
        p.waitUntilExitReliably()
        try #require(p.terminationStatus == 0)
        return dir
    }

    func sha256(_ path: String) throws -> String {
        let p = Process()
        let out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExitReliably()
        return "sha256:" + String(decoding: data, as: UTF8.self).prefix(64)
    }

    func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func testImageDecodesAndVerifies() throws {
        let dir = try unpackedTestImage()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let decoder = BerthJSONDecoder()
        let index = try decoder.decode(ImageIndex.self, from: read("\(dir)/index.json"))
        #expect(index.schemaVersion == 2)
        #expect(MediaType.isIndex(index.mediaType))
        let entry = try #require(index.manifests.first)
        #expect(entry.annotations?["io.containerd.image.name"] == "docker.io/library/busybox:test")

        func blob(_ d: Digest) -> String { "\(dir)/blobs/\(d.algorithm)/\(d.encoded)" }
        #expect(try sha256(blob(entry.digest)) == entry.digest.description)
        let manifest = try decoder.decode(ImageManifest.self, from: read(blob(entry.digest)))
        try manifest.validate()
        #expect(MediaType.isManifest(manifest.mediaType))
        #expect(manifest.layers.count == 1)
        #expect(MediaType.layerCompression(manifest.layers[0].mediaType) == .gzip)
        for d in [manifest.config] + manifest.layers {
            #expect(try sha256(blob(d.digest)) == d.digest.description)
            let size = try FileManager.default.attributesOfItem(atPath: blob(d.digest))[.size] as? Int64
            #expect(size == d.size)
        }
        let config = try decoder.decode(ImageConfig.self, from: read(blob(manifest.config.digest)))
        try config.validate()
        #expect(config.architecture == "amd64")
        #expect(config.os == "linux")
        #expect(config.config?.Cmd == ["sh"])
        #expect(config.rootfs.diff_ids.count == 1)
    }

    @Test func roundTripKeepsEveryField() throws {
        let d = try Digest("sha256:" + String(repeating: "1", count: 64))
        var m = ImageManifest(config: Descriptor(mediaType: MediaType.ociConfig, digest: d, size: 10),
                              layers: [Descriptor(mediaType: MediaType.ociLayerZstd, digest: d, size: 20,
                                                  annotations: ["a": "b"])],
                              annotations: ["org.opencontainers.image.created": "2024-01-01T00:00:00Z"])
        m.subject = Descriptor(mediaType: MediaType.ociManifest, digest: d, size: 30)
        let bytes = try BerthJSONEncoder().encode(m)
        #expect(try BerthJSONDecoder().decode(ImageManifest.self, from: bytes) == m)
        // Foundation reads what we write, and we read what Foundation writes.
        let viaFoundation = try JSONDecoder().decode(ImageManifest.self, from: Data(bytes))
        #expect(viaFoundation == m)
        let back = try BerthJSONDecoder().decode(ImageManifest.self, from: [UInt8](try JSONEncoder().encode(m)))
        #expect(back == m)
    }

    @Test func platformSelection() throws {
        let d = try Digest("sha256:" + String(repeating: "2", count: 64))
        let e = try Digest("sha256:" + String(repeating: "3", count: 64))
        let index = ImageIndex(manifests: [
            Descriptor(mediaType: MediaType.ociManifest, digest: d, size: 1, platform: Platform(architecture: "arm64", os: "linux", variant: "v8")),
            Descriptor(mediaType: MediaType.ociManifest, digest: e, size: 1, platform: Platform(architecture: "amd64", os: "linux")),
        ])
        #expect(index.manifest(for: Platform(architecture: "amd64", os: "linux"))?.digest == e)
        #expect(index.manifest(for: Platform(architecture: "arm64", os: "linux"))?.digest == d)
        #expect(index.manifest(for: Platform(architecture: "s390x", os: "linux")) == nil)
    }

    @Test func badDocumentsAreRejectedWithTheField() throws {
        let bad = #"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:nothex","size":1},"layers":[]}"#
        do {
            _ = try BerthJSONDecoder().decode(ImageManifest.self, from: bad)
            Issue.record("accepted a bad digest")
        } catch let e as BerthError {
            #expect(e.message.contains("config.digest"), "\(e.message)")
        }
        let config = ImageConfig(rootfs: .init(diffIDs: []), history: [.init(createdBy: "RUN x")])
        #expect(throws: BerthError.self) { try config.validate() }
    }
}
