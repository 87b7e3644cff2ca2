@testable import BerthRegistry
import Testing

struct NameAndRouteTests {
    @Test(arguments: [
        ("busybox", true), ("library/busybox", true), ("a/b/c/d", true), ("my-app", true), ("my--app", true),
        ("my_app", true), ("my__app", true), ("my.app", true), ("a1/b2", true), ("0", true),
        ("", false), ("Busybox", false), ("my___app", false), ("-app", false), ("app-", false), ("a//b", false),
        ("/a", false), ("a/", false), ("my..app", false), ("my._app", false), ("a b", false), ("a:b", false),
        ("_catalog", false), (String(repeating: "a", count: 256), false), (String(repeating: "a", count: 255), true),
    ])
    func repositoryNames(name: String, valid: Bool) {
        #expect(RepositoryName.isValid(name) == valid)
    }

    @Test(arguments: [
        ("latest", true), ("v1.2.3-rc_1", true), ("_x", true), ("A", true), (".x", false), ("-x", false),
        ("a:b", false), ("", false), (String(repeating: "t", count: 128), true), (String(repeating: "t", count: 129), false),
    ])
    func tags(tag: String, valid: Bool) {
        #expect(RepositoryName.isValidTag(tag) == valid)
    }

    @Test func routesSplitAtTheLastMarker() {
        typealias R = RegistryServer.Route
        let d = "sha256:" + String(repeating: "a", count: 64)
        let cases: [(String, R?)] = [
            ("/v2/", .ping), ("/v2", .ping), ("/v2/_catalog", .catalog),
            ("/v2/busybox/tags/list", .tags(name: "busybox")),
            ("/v2/a/b/c/tags/list", .tags(name: "a/b/c")),
            ("/v2/a/blobs/\(d)", .blob(name: "a", digest: d)),
            ("/v2/x/blobs/y/blobs/\(d)", .blob(name: "x/blobs/y", digest: d)),
            ("/v2/a/b/blobs/uploads/", .uploads(name: "a/b")),
            ("/v2/a/b/blobs/uploads", .uploads(name: "a/b")),
            ("/v2/a/blobs/uploads/1234", .upload(name: "a", id: "1234")),
            ("/v2/blobs/blobs/uploads/1234", .upload(name: "blobs", id: "1234")),
            ("/v2/x/manifests/y/manifests/latest", .manifest(name: "x/manifests/y", reference: "latest")),
            ("/v2/manifests/blobs/\(d)", .blob(name: "manifests", digest: d)),
            ("/v2/a/referrers/\(d)", .referrers(name: "a", digest: d)),
            ("/v3/a/tags/list", nil), ("/v2/a/other", nil),
        ]
        for (path, want) in cases {
            #expect(RegistryServer.route(path) == want, "\(path)")
        }
    }

    @Test func base64RoundTrips() {
        for n in 0..<20 {
            let bytes = (0..<n).map { UInt8(($0 * 37 + 11) & 255) }
            #expect(Encoding.base64Decode(Encoding.base64(bytes)) == bytes)
            #expect(Encoding.base64Decode(Encoding.base64(bytes, url: true)) == bytes)
        }
        #expect(Encoding.base64(Array("user:pass".utf8)) == "dXNlcjpwYXNz")
        #expect(Encoding.base64Decode("not base64!") == nil)
    }

    @Test func rangeHeaders() throws {
        #expect(try RegistryServer.byteRange("bytes=0-9", size: 100) == 0...9)
        #expect(try RegistryServer.byteRange("bytes=90-", size: 100) == 90...99)
        #expect(try RegistryServer.byteRange("bytes=-10", size: 100) == 90...99)
        #expect(try RegistryServer.byteRange("bytes=50-1000", size: 100) == 50...99)
        #expect(try RegistryServer.byteRange(nil, size: 100) == nil)
        for bad in ["bytes=100-", "bytes=5-1", "items=0-1", "bytes=0-1,3-4", "bytes=-0", "bytes=x-y"] {
            #expect(throws: RegistryUnsatisfiable.self) { try RegistryServer.byteRange(bad, size: 100) }
        }
    }

    @Test func tokensAreSignedScopedAndExpire() {
        let auth = RegistryAuth(users: ["alice": .plain("pw")], tokenSecret: Array("secret".utf8))
        let access = [RegistryAuth.Access(type: "repository", name: "a/b", actions: ["pull", "push"])]
        let token = auth.issueToken(subject: "alice", access: access, now: 1000)!
        #expect(auth.verifyToken(token, now: 1001) == access)
        #expect(auth.verifyToken(token, now: 1000 + auth.tokenLifetime) == nil)  // expired
        let other = RegistryAuth(users: [:], tokenSecret: Array("other".utf8))
        #expect(other.verifyToken(token, now: 1001) == nil)  // wrong key
        var tampered = Array(token.utf8)
        tampered[3] = tampered[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(auth.verifyToken(String(decoding: tampered, as: UTF8.self), now: 1001) == nil)
        #expect(RegistryAuth.Access(scope: "repository:a/b:pull,push") == access[0])
        #expect(RegistryAuth.Access(scope: "repository:host:5000/a:pull")?.name == "host:5000/a")
    }

    @Test func usersFile() throws {
        let hash = String(repeating: "0", count: 63) + "1"
        let users = try RegistryAuth.parseUsers("# comment\nalice:secret\n\nbob:\(hash)\ncarol:a:b\n")
        #expect(users == ["alice": .plain("secret"), "bob": .sha256(hash), "carol": .plain("a:b")])
        #expect(throws: (any Error).self) { try RegistryAuth.parseUsers("nocolon\n") }
    }
}
