import BerthCore
import BerthSystem
import struct Crypto.SHA256
import struct Crypto.HMAC
import struct Crypto.SymmetricKey

/// Who may use the registry, and how they prove it.
///
/// - No users and no token secret: open (no authentication).
/// - Users, no token secret: HTTP Basic on every `/v2/` request; a failed check answers
///   `401 UNAUTHORIZED` with `WWW-Authenticate: Basic realm="…"`.
/// - A token secret: bearer tokens (the Docker token flow). `/v2/` answers `401` with
///   `WWW-Authenticate: Bearer realm="…/token",service="…",scope="repository:<name>:pull,push"`;
///   the token endpoint (``RegistryServer``, `GET /token?service=&scope=`) checks Basic
///   credentials (or grants anonymous access, see ``anonymous``) and issues an HMAC-SHA256
///   signed token with an expiry and the granted scopes.
///
/// There are no per-repository ACLs: an authenticated user gets every action it asks for.
public struct RegistryAuth: Sendable {
    /// How a user's password is kept.
    public enum Secret: Sendable, Equatable {
        /// The password itself.
        case plain(String)
        /// Lower-case hex SHA-256 of the password.
        case sha256(String)

        func matches(_ password: String) -> Bool {
            switch self {
            case .plain(let p): return Encoding.constantTimeEqual(Array(p.utf8), Array(password.utf8))
            case .sha256(let h):
                let actual = Encoding.hex(SHA256.hash(data: Array(password.utf8)))
                return Encoding.constantTimeEqual(Array(h.utf8), Array(actual.utf8))
            }
        }
    }

    /// What anonymous clients (no credentials) may do when users are configured.
    public enum Anonymous: Sendable, Equatable {
        /// Nothing.
        case none
        /// Pull only.
        case pull
    }

    /// Users by name.
    public var users: [String: Secret]
    /// The HMAC key for bearer tokens; nil disables the token flow.
    public var tokenSecret: [UInt8]?
    /// The `service` named in challenges and required in tokens.
    public var service: String
    /// The token endpoint URL for challenges; nil means `http(s)://<Host header>/token`
    /// (https when the server is served over TLS).
    public var realm: String?
    /// Anonymous access when users exist (with no users at all, anyone may do anything).
    public var anonymous: Anonymous
    /// Lifetime of issued tokens, in seconds.
    public var tokenLifetime: Int64

    /// No authentication at all.
    public static let open = RegistryAuth(users: [:])

    /// Makes a configuration.
    public init(users: [String: Secret], tokenSecret: [UInt8]? = nil, service: String = "berth-registry",
                realm: String? = nil, anonymous: Anonymous = .none, tokenLifetime: Int64 = 300) {
        self.users = users
        self.tokenSecret = tokenSecret
        self.service = service
        self.realm = realm
        self.anonymous = anonymous
        self.tokenLifetime = tokenLifetime
    }

    /// Whether requests must authenticate at all.
    public var isEnabled: Bool { !users.isEmpty || tokenSecret != nil }

    /// Parses a users file: one `user:secret` per line; a secret of exactly 64 lower-case hex
    /// digits is the SHA-256 of the password, anything else is the password itself. Empty lines
    /// and lines starting with `#` are skipped.
    public static func parseUsers(_ text: String) throws -> [String: Secret] {
        var users: [String: Secret] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw BerthError.invalid("users file line \(number + 1): want user:password or user:sha256hex")
            }
            let user = String(line[..<colon])
            let secret = String(line[line.index(after: colon)...])
            let isHash = secret.utf8.count == 64 && secret.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66)
            }
            users[user] = isHash ? .sha256(secret) : .plain(secret)
        }
        return users
    }

    /// Checks `Authorization: Basic …`: nil when absent or malformed, else whether it is right.
    func checkBasic(_ header: String?) -> (user: String, ok: Bool)? {
        guard let header, header.lowercased().hasPrefix("basic ") else { return nil }
        let encoded = header.dropFirst(6).trimmingSpaces()
        guard let bytes = Encoding.base64Decode(encoded), let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            return nil
        }
        let user = String(decoding: bytes[..<colon], as: UTF8.self)
        let password = String(decoding: bytes[(colon + 1)...], as: UTF8.self)
        guard let secret = users[user] else { return (user, false) }
        return (user, secret.matches(password))
    }

    // MARK: tokens

    /// One granted (or required) access: `repository:<name>:pull,push` style.
    public struct Access: Sendable, Equatable {
        /// `repository` or `registry`.
        public var type: String
        /// The repository name (or `catalog`).
        public var name: String
        /// `pull`, `push`, `delete` or `*`.
        public var actions: [String]

        /// Makes an access entry.
        public init(type: String, name: String, actions: [String]) {
            self.type = type
            self.name = name
            self.actions = actions
        }

        /// Parses `type:name:actions` (the name may contain `:` only before the last one).
        public init?(scope: String) {
            guard let first = scope.firstIndex(of: ":"), let last = scope.lastIndex(of: ":"), first < last else {
                return nil
            }
            type = String(scope[..<first])
            name = String(scope[scope.index(after: first)..<last])
            actions = scope[scope.index(after: last)...].split(separator: ",").map(String.init)
        }

        /// The scope string.
        public var scope: String { "\(type):\(name):\(actions.joined(separator: ","))" }

        func covers(_ action: String) -> Bool { actions.contains(action) || actions.contains("*") }
    }

    /// Issues a token for `subject` with `access`, valid for ``tokenLifetime`` seconds.
    public func issueToken(subject: String, access: [Access], now: Int64 = WallClock.now().seconds) -> String? {
        guard let tokenSecret else { return nil }
        let payload: JSONValue = [
            "iss": .string(service),
            "sub": .string(subject),
            "aud": .string(service),
            "iat": JSONValue(now),
            "exp": JSONValue(now + tokenLifetime),
            "access": .array(access.map {
                ["type": .string($0.type), "name": .string($0.name), "actions": .array($0.actions.map(JSONValue.string))]
            }),
        ]
        let body = Encoding.base64(JSON.serialize(payload), url: true)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: tokenSecret))
        return body + "." + Encoding.base64(Array(mac), url: true)
    }

    /// Verifies a token's signature, audience and expiry; returns its access list.
    public func verifyToken(_ token: String, now: Int64 = WallClock.now().seconds) -> [Access]? {
        guard let tokenSecret else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Encoding.base64Decode(String(parts[1])) else { return nil }
        let expected = HMAC<SHA256>.authenticationCode(for: Array(parts[0].utf8), using: SymmetricKey(data: tokenSecret))
        guard Encoding.constantTimeEqual(Array(expected), mac),
              let payloadBytes = Encoding.base64Decode(String(parts[0])),
              let payload = try? JSON.parse(payloadBytes),
              payload["aud"]?.stringValue == service,
              let exp = payload["exp"]?.int64Value, exp > now
        else { return nil }
        var access: [Access] = []
        for entry in payload["access"]?.arrayValue ?? [] {
            guard let type = entry["type"]?.stringValue, let name = entry["name"]?.stringValue else { continue }
            access.append(Access(type: type, name: name, actions: (entry["actions"]?.arrayValue ?? []).compactMap(\.stringValue)))
        }
        return access
    }

    /// What the token endpoint grants `user` (nil for anonymous) of what was asked.
    func grant(_ requested: [Access], user: String?) -> [Access] {
        requested.compactMap { want in
            var granted = want
            if user == nil && !users.isEmpty {
                granted.actions = anonymous == .pull ? want.actions.filter { $0 == "pull" } : []
            }
            return granted.actions.isEmpty ? nil : granted
        }
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
