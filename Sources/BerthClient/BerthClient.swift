import BerthAPI
import BerthCore
import BerthHTTP
import Synchronization

/// A typed async client of the Docker Engine API as berthd serves it.
///
/// Lifecycle: make one per process with the daemon's address; the first request negotiates the
/// API version with `GET /_ping` (the lower of ours, ``APIVersion/current``, and the server's
/// `Api-Version` header) and every later request is prefixed with `/v<version>/`. Requests may
/// run concurrently. Failures are ``BerthClientError``s: `cannotConnect` when the socket cannot
/// be reached, `daemon` for an error status (with the server's message).
public final class BerthClient: Sendable {
    /// The address as given (`unix:///run/berth/berth.sock`), for messages.
    public let host: String
    let http: HTTPClient
    let negotiated = Mutex<APIVersion?>(nil)

    /// The default daemon address.
    public static let defaultHost = "unix:///run/berth/berth.sock"

    /// A client for the daemon at `host`: `unix:///path`, a bare absolute path, or
    /// `tcp://host:port`.
    public init(host: String) throws {
        self.host = host
        if host.hasPrefix("unix://") {
            let path = String(host.dropFirst("unix://".count))
            guard !path.isEmpty else { throw BerthClientError.invalidHost(host) }
            http = HTTPClient(unixSocketPath: path)
        } else if host.hasPrefix("/") {
            http = HTTPClient(unixSocketPath: host)
        } else if host.hasPrefix("tcp://") {
            var rest = host.dropFirst("tcp://".count)
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
                throw BerthClientError.invalidHost(host)
            }
            http = HTTPClient(host: String(rest[..<colon]), port: port)
        } else {
            throw BerthClientError.invalidHost(host)
        }
    }

    /// Picks the daemon address as the docker CLI does: the explicit one, else `BERTH_HOST`,
    /// else `DOCKER_HOST` when it is a unix socket, else ``defaultHost``.
    public static func resolveHost(explicit: String?, environment: [String: String]) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let h = environment["BERTH_HOST"], !h.isEmpty { return h }
        if let h = environment["DOCKER_HOST"], h.hasPrefix("unix://") { return h }
        return defaultHost
    }

    /// Closes pooled connections.
    public func shutdown() async { await http.shutdown() }

    // MARK: plumbing

    /// `GET /_ping`; returns the server's advertised API version (nil if it sent none).
    public func ping() async throws -> APIVersion? {
        let r = try await send("GET", "/_ping", versioned: false)
        _ = try await r.collect(upTo: 1 << 16)
        try await check(r)
        return r.headers["Api-Version"].flatMap { APIVersion($0) }
    }

    /// The negotiated API version (pings the daemon the first time).
    public func apiVersion() async throws -> APIVersion {
        if let v = negotiated.withLock({ $0 }) { return v }
        let server = try await ping()
        let v = server.map { min($0, APIVersion.current) } ?? APIVersion.current
        negotiated.withLock { $0 = v }
        return v
    }

    /// Sends a request and returns the response head (the body still streaming); maps
    /// connection failures to ``BerthClientError/cannotConnect(host:)``. Error statuses are not
    /// checked here.
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], headers: HTTPHeaderFields = [],
        body: HTTPClientRequestBody = .none, versioned: Bool = true
    ) async throws -> HTTPClientResponse {
        var full = path
        if versioned { full = "/v\(try await apiVersion())" + path }
        if !query.isEmpty { full += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&") }
        do {
            return try await http.execute(method: method, path: full, headers: headers, body: body)
        } catch let e as BerthError where e.code == .system && e.message.hasPrefix("connect to") {
            throw BerthClientError.cannotConnect(host: host)
        }
    }

    /// Throws ``BerthClientError/daemon(status:message:)`` for a status of 400 or more, reading
    /// the error body.
    func check(_ r: HTTPClientResponse) async throws {
        guard r.status >= 400 else { return }
        let bytes = (try? await r.collect(upTo: 1 << 20)) ?? []
        var message = String(decoding: bytes, as: UTF8.self)
        if let v = try? JSON.parse(bytes), let m = v["message"]?.stringValue { message = m }
        while message.hasSuffix("\n") { message.removeLast() }
        if message.isEmpty { message = "status \(r.status)" }
        throw BerthClientError.daemon(status: r.status, message: message)
    }

    /// A request whose whole (JSON) body is read, after the status was checked.
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], body: HTTPClientRequestBody = .none,
        headers: HTTPHeaderFields = []
    ) async throws -> [UInt8] {
        let r = try await send(method, path, query: query, headers: headers, body: body)
        try await check(r)
        return try await r.collect(upTo: 256 << 20)
    }

    /// A request decoding its JSON answer into `T`.
    func get<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)] = [], method: String = "GET") async throws -> T {
        let bytes = try await call(method, path, query: query)
        do { return try BerthJSONDecoder().decode(T.self, from: bytes) } catch {
            throw BerthClientError.badResponse("\(path): \(error)")
        }
    }

    /// A request answering any JSON value.
    func getValue(_ path: String, query: [(String, String)] = []) async throws -> JSONValue {
        let bytes = try await call("GET", path, query: query)
        do { return try JSON.parse(bytes) } catch { throw BerthClientError.badResponse("\(path): \(error)") }
    }

    /// Turns a ``ByteSource`` into a chunked request body.
    static func streamBody(_ source: @escaping ByteSource) -> HTTPClientRequestBody {
        .stream { writer in
            while let chunk = try await source() {
                try await writer.write(chunk)
            }
        }
    }

    /// Decodes a JSON progress stream.
    static func messages(_ r: HTTPClientResponse) -> JSONLineStream<JSONMessage> {
        JSONLineStream(body: r.body) { line in
            do { return try BerthJSONDecoder().decode(JSONMessage.self, from: line) } catch {
                throw BerthClientError.badResponse("progress stream: \(error)")
            }
        }
    }

    /// Percent-encodes a query component (RFC 3986 unreserved characters pass).
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(hex[Int(b >> 4)])
                out.unicodeScalars.append(hex[Int(b & 15)])
            }
        }
        return out
    }

    /// Path-encodes an object name (keeps `/` and `:`, which Docker's router accepts as is).
    static func pathComponent(_ name: String) -> String {
        percentEncode(name).replacingPercent("%2F", with: "/").replacingPercent("%3A", with: ":")
    }
}

extension String {
    fileprivate func replacingPercent(_ token: String, with replacement: String) -> String {
        split(separator: token, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
