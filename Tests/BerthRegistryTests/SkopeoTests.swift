import BerthRegistry
import Foundation
import Testing

/// Real client round trips with skopeo (containers/image): push the busybox test image from an
/// OCI archive, pull it back into an OCI layout, inspect it.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo"), "skopeo is not installed"))
struct SkopeoTests {
    func skopeo(_ args: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try await run("/usr/bin/skopeo", ["--insecure-policy"] + args)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), r.stderr)
    }

    func roundTrip(_ r: RegistryFixture, name: String, user: String? = nil) async throws {
        let creds = user.map { ["--dest-creds", $0] } ?? []
        let srcCreds = user.map { ["--src-creds", $0] } ?? []
        let scratch = try TempDir()
        defer { scratch.cleanup() }
        let image = try await Paths.testImage(scratch: scratch.path)
        let push = try await skopeo(["copy", "--dest-tls-verify=false"] + creds +
                                    ["oci-archive:\(image)", "docker://\(r.hostPort)/\(name):test"])
        #expect(push.status == 0, "\(push.stderr)")
        let pull = try await skopeo(["copy", "--src-tls-verify=false"] + srcCreds +
                                    ["docker://\(r.hostPort)/\(name):test", "oci:\(scratch.path)/out:test"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let inspect = try await skopeo(["inspect", "--tls-verify=false"] + (user.map { ["--creds", $0] } ?? []) + ["docker://\(r.hostPort)/\(name):test"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let info = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        #expect(info["RepoTags"] as? [String] == ["test"])
        #expect(info["Os"] as? String == "linux")
        // The manifest came back byte for byte: the pulled layout's index names the same digest.
        let digest = try #require(info["Digest"] as? String)
        let index = try String(contentsOfFile: "\(scratch.path)/out/index.json", encoding: .utf8)
        #expect(index.contains(digest))
        let layers = try #require(info["Layers"] as? [String])
        for layer in layers {
            #expect(FileManager.default.fileExists(atPath: "\(scratch.path)/out/blobs/sha256/\(layer.dropFirst(7))"))
        }
        if user == nil {
            #expect(try await r.curl("HEAD", "/v2/\(name)/manifests/test")["Docker-Content-Digest"] == digest)
        }
    }

    @Test func pushPullInspect() async throws {
        try await RegistryFixture.with { r in
            try await roundTrip(r, name: "busybox")
            try await roundTrip(r, name: "library/nested/busybox")  // blobs exist elsewhere now: mount or re-push
            let catalog = try await r.curl("GET", "/v2/_catalog")
            #expect(catalog.text == "{\"repositories\":[\"busybox\",\"library/nested/busybox\"]}")
        }
    }

    @Test func pushPullWithTokenAuth() async throws {
        let auth = RegistryAuth(users: ["alice": .plain("wonderland")], tokenSecret: Array("skopeo".utf8))
        try await RegistryFixture.with(auth: auth) { r in
            try await roundTrip(r, name: "busybox", user: "alice:wonderland")
            let scratch = try TempDir()
            defer { scratch.cleanup() }
            let image = try await Paths.testImage(scratch: scratch.path)
            let wrong = try await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "alice:nope",
                                          "oci-archive:\(image)", "docker://\(r.hostPort)/busybox:bad"])
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("401") || wrong.stderr.lowercased().contains("unauthorized"))
        }
    }
}
