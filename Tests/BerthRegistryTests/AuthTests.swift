@testable import BerthRegistry
import Foundation
import Testing

/// Basic and bearer-token authentication, driven with curl.
struct AuthTests {
    static let users: [String: RegistryAuth.Secret] = [
        "alice": .plain("wonderland"),
        // The users file form: hex SHA-256 of the password "builder".
        "bob": .sha256(String(sha256(Array("builder".utf8)).dropFirst(7))),
    ]

    @Test func basicAuth() async throws {
        try await RegistryFixture.with(auth: RegistryAuth(users: Self.users)) { r in
            let none = try await r.curl("GET", "/v2/")
            #expect(none.status == 401)
            #expect(none.errorCode == "UNAUTHORIZED")
            #expect(none["WWW-Authenticate"] == "Basic realm=\"berth-registry\"")
            let wrong = try await r.curl("GET", "/v2/", extra: ["-u", "alice:nope"])
            #expect(wrong.status == 401)
            let stranger = try await r.curl("GET", "/v2/", extra: ["-u", "mallory:wonderland"])
            #expect(stranger.status == 401)
            #expect(try await r.curl("GET", "/v2/", extra: ["-u", "alice:wonderland"]).status == 200)
            #expect(try await r.curl("GET", "/v2/", extra: ["-u", "bob:builder"]).status == 200)
            #expect(try await r.curl("GET", "/v2/_catalog", extra: ["-u", "bob:builder"]).status == 200)
            let push = try await r.curl("POST", "/v2/app/blobs/uploads/", extra: ["-u", "alice:wonderland"])
            #expect(push.status == 202)
            #expect(try await r.curl("POST", "/v2/app/blobs/uploads/").status == 401)
        }
    }

    @Test func bearerTokenFlow() async throws {
        let auth = RegistryAuth(users: Self.users, tokenSecret: Array("test secret".utf8))
        try await RegistryFixture.with(auth: auth) { r in
            let ping = try await r.curl("GET", "/v2/")
            #expect(ping.status == 401)
            #expect(ping["WWW-Authenticate"] == "Bearer realm=\"http://\(r.hostPort)/token\",service=\"berth-registry\"")
            let tags = try await r.curl("GET", "/v2/app/tags/list")
            #expect(tags["WWW-Authenticate"] ==
                    "Bearer realm=\"http://\(r.hostPort)/token\",service=\"berth-registry\",scope=\"repository:app:pull\"")
            let upload = try await r.curl("POST", "/v2/app/blobs/uploads/")
            #expect(upload["WWW-Authenticate"]?.hasSuffix("scope=\"repository:app:pull,push\"") == true)

            // The token endpoint: wrong password and anonymous are refused.
            let wrong = try await r.curl("GET", "/token?service=berth-registry&scope=repository:app:pull", extra: ["-u", "alice:nope"])
            #expect(wrong.status == 401)
            #expect(try await r.curl("GET", "/token?service=berth-registry&scope=repository:app:pull").status == 401)

            func token(_ scope: String) async throws -> String {
                let res = try await r.curl("GET", "/token?service=berth-registry&scope=\(scope)", extra: ["-u", "alice:wonderland"])
                #expect(res.status == 200)
                let json = try #require(res.json as? [String: Any])
                #expect(json["token"] as? String == json["access_token"] as? String)
                #expect(json["expires_in"] as? Int == 300)
                return try #require(json["token"] as? String)
            }
            let pull = try await token("repository:app:pull")
            #expect(try await r.curl("GET", "/v2/", headers: ["Authorization: Bearer \(pull)"]).status == 200)
            // Authorized, so the answer is the registry's own 404.
            #expect(try await r.curl("GET", "/v2/app/tags/list", headers: ["Authorization: Bearer \(pull)"]).errorCode == "NAME_UNKNOWN")
            // Pull-only token: push is refused with an insufficient_scope challenge.
            let denied = try await r.curl("POST", "/v2/app/blobs/uploads/", headers: ["Authorization: Bearer \(pull)"])
            #expect(denied.status == 401)
            #expect(denied["WWW-Authenticate"]?.contains("error=\"insufficient_scope\"") == true)
            // Another repository is not covered either.
            #expect(try await r.curl("GET", "/v2/other/tags/list", headers: ["Authorization: Bearer \(pull)"]).status == 401)

            let push = try await token("repository:app:pull,push")
            let blob = Array("layer".utf8)
            let pushed = try await r.curl("POST", "/v2/app/blobs/uploads/?digest=\(sha256(blob))",
                                          headers: ["Authorization: Bearer \(push)"], body: blob)
            #expect(pushed.status == 201)
            let forged = try await r.curl("GET", "/v2/", headers: ["Authorization: Bearer \(push.dropLast(2))xx"])
            #expect(forged.status == 401)
            #expect(forged["WWW-Authenticate"]?.contains("error=\"invalid_token\"") == true)
            #expect(try await r.curl("GET", "/v2/", extra: ["-u", "alice:wonderland"]).status == 401)  // Basic is not a token
        }
    }

    @Test func anonymousPullGetsPullOnly() async throws {
        let auth = RegistryAuth(users: Self.users, tokenSecret: Array("k".utf8), anonymous: .pull)
        try await RegistryFixture.with(auth: auth) { r in
            let res = try await r.curl("GET", "/token?scope=repository:app:pull,push")
            #expect(res.status == 200)
            let token = try #require((res.json as? [String: Any])?["token"] as? String)
            let access = try #require(auth.verifyToken(token))
            #expect(access == [RegistryAuth.Access(type: "repository", name: "app", actions: ["pull"])])
        }
    }
}
