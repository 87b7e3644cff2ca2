import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `POST /images/{name}/push?tag=`: the push's JSON progress stream. `registryAuth` is the
    /// `X-Registry-Auth` value (see ``registryAuthHeader(username:password:serverAddress:)``).
    public func pushImage(_ name: String, tag: String?, registryAuth: String?) async throws -> JSONLineStream<JSONMessage> {
        var query: [(String, String)] = []
        if let tag, !tag.isEmpty { query.append(("tag", tag)) }
        let r = try await send("POST", "/images/\(name)/push", query: query, headers: Self.authHeaders(registryAuth))
        try await check(r)
        return Self.messages(r)
    }

    /// `POST /auth`: checks credentials against a registry (through the daemon).
    public func login(username: String, password: String, serverAddress: String) async throws -> AuthResponse {
        var o = JSONObject()
        o["username"] = .string(username)
        o["password"] = .string(password)
        o["serveraddress"] = .string(serverAddress)
        let bytes = try await call("POST", "/auth", body: .bytes(JSON.serialize(.object(o))),
                                   headers: [("Content-Type", "application/json")])
        do { return try BerthJSONDecoder().decode(AuthResponse.self, from: bytes) } catch {
            throw BerthClientError.badResponse("auth: \(error)")
        }
    }

    /// `GET /distribution/{name}/json`: what the registry holds under a reference.
    public func distribution(_ name: String, registryAuth: String?) async throws -> DistributionInspect {
        let r = try await send("GET", "/distribution/\(name)/json", headers: Self.authHeaders(registryAuth))
        try await check(r)
        let bytes = try await r.collect(upTo: 4 << 20)
        do { return try BerthJSONDecoder().decode(DistributionInspect.self, from: bytes) } catch {
            throw BerthClientError.badResponse("distribution: \(error)")
        }
    }

    /// The `X-Registry-Auth` value Docker sends: base64url of `{"username", "password",
    /// "serveraddress"}`.
    public static func registryAuthHeader(username: String, password: String, serverAddress: String) -> String {
        var o = JSONObject()
        o["username"] = .string(username)
        o["password"] = .string(password)
        o["serveraddress"] = .string(serverAddress)
        return Base64.encode(JSON.serialize(.object(o)), url: true)
    }

    static func authHeaders(_ auth: String?) -> HTTPHeaderFields {
        guard let auth, !auth.isEmpty else { return [] }
        return [("X-Registry-Auth", auth)]
    }
}
