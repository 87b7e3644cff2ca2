import BerthCore
import BerthHTTP
import BerthSystem

extension RegistryServer {
    /// The access a route needs: nil for the ping (any authenticated client may ping).
    static func requiredAccess(_ route: Route, method: String) -> RegistryAuth.Access? {
        switch route {
        case .ping: return nil
        case .catalog: return RegistryAuth.Access(type: "registry", name: "catalog", actions: ["*"])
        default:
            let name = route.name ?? ""
            switch method {
            case "GET", "HEAD": return RegistryAuth.Access(type: "repository", name: name, actions: ["pull"])
            case "DELETE":
                if case .upload = route { return RegistryAuth.Access(type: "repository", name: name, actions: ["pull", "push"]) }
                return RegistryAuth.Access(type: "repository", name: name, actions: ["delete"])
            default: return RegistryAuth.Access(type: "repository", name: name, actions: ["pull", "push"])
            }
        }
    }

    /// Whether the request's credentials allow every action of `need` (nil: just authenticated).
    /// Returns nil when allowed, else the reason to put in the challenge (`invalid_token`,
    /// `insufficient_scope`, or empty for no credentials).
    func denial(_ request: HTTPRequest, need: RegistryAuth.Access?) -> String? {
        guard auth.isEnabled else { return nil }
        let header = request.headers["Authorization"]
        if auth.tokenSecret != nil {
            guard let header, header.lowercased().hasPrefix("bearer ") else { return "" }
            guard let granted = auth.verifyToken(header.dropFirst(7).trimmingSpaces()) else { return "invalid_token" }
            guard let need else { return nil }
            let ok = need.actions.allSatisfy { action in
                granted.contains { $0.type == need.type && $0.name == need.name && $0.covers(action) }
            }
            return ok ? nil : "insufficient_scope"
        }
        if let basic = auth.checkBasic(header) { return basic.ok ? nil : "invalid_credentials" }
        if auth.anonymous == .pull, need == nil || need!.actions == ["pull"] { return nil }
        return ""
    }

    /// Throws `401 UNAUTHORIZED` with a challenge unless the request may use `route`.
    func authorize(_ request: HTTPRequest, route: Route) throws {
        let need = Self.requiredAccess(route, method: request.method)
        guard let reason = denial(request, need: need) else { return }
        throw unauthorized(request, need: need, reason: reason)
    }

    func unauthorized(_ request: HTTPRequest, need: RegistryAuth.Access?, reason: String) -> RegistryUnauthorized {
        let challenge: String
        if auth.tokenSecret != nil {
            let realm = auth.realm ?? "\(scheme)://\(request.headers["Host"] ?? "127.0.0.1")\(tokenPath)"
            var c = "Bearer realm=\"\(realm)\",service=\"\(auth.service)\""
            if let need {
                let actions = need.actions == ["pull", "push"] ? "pull,push" : need.actions.joined(separator: ",")
                c += ",scope=\"\(need.type):\(need.name):\(actions)\""
            }
            if !reason.isEmpty && reason != "invalid_credentials" { c += ",error=\"\(reason)\"" }
            challenge = c
        } else {
            challenge = "Basic realm=\"\(auth.service)\""
        }
        var detail: JSONValue = .null
        if let need {
            detail = .array([["Type": .string(need.type), "Name": .string(need.name),
                              "Action": .string(need.actions.joined(separator: ","))]])
        }
        let error = RegistryError(.unauthorized, "authentication required", detail: detail)
        return RegistryUnauthorized(error: error, challenge: challenge)
    }

    /// `GET /token?service=&scope=…`: checks Basic credentials (or grants anonymous access),
    /// returns `{"token": …, "access_token": …, "expires_in": …, "issued_at": …}`.
    func token(_ request: HTTPRequest) throws -> HTTPResponse {
        var user: String?
        if let basic = auth.checkBasic(request.headers["Authorization"]) {
            guard basic.ok else {
                throw RegistryUnauthorized(
                    error: RegistryError(.unauthorized, "authentication required", detail: .string("invalid username or password")),
                    challenge: "Basic realm=\"\(auth.service)\"")
            }
            user = basic.user
        } else if !auth.users.isEmpty && auth.anonymous == .none {
            throw RegistryUnauthorized(
                error: RegistryError(.unauthorized, "authentication required"),
                challenge: "Basic realm=\"\(auth.service)\"")
        }
        var requested: [RegistryAuth.Access] = []
        for scope in request.query["scope"] ?? [] {
            for one in scope.split(separator: " ") {
                if let access = RegistryAuth.Access(scope: String(one)) { requested.append(access) }
            }
        }
        let granted = auth.grant(requested, user: user)
        let now = WallClock.now()
        guard let token = auth.issueToken(subject: user ?? "", access: granted, now: now.seconds) else {
            throw RegistryError(.unsupported, "token authentication is not configured", status: 404)
        }
        let body: JSONValue = [
            "token": .string(token),
            "access_token": .string(token),
            "expires_in": JSONValue(auth.tokenLifetime),
            "issued_at": .string(now.rfc3339Nano),
        ]
        return .bytes(status: 200, headers: [("Content-Type", "application/json")], body: JSON.serialize(body))
    }
}

/// A `401` carrying its `WWW-Authenticate` challenge.
struct RegistryUnauthorized: Error {
    var error: RegistryError
    var challenge: String

    var response: HTTPResponse { error.response(extraHeaders: [("WWW-Authenticate", challenge)]) }
}
