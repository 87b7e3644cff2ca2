import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import Logging

/// The Docker Engine API over the engine: decodes a request, calls the engine, encodes the
/// answer. The only place that knows both the engine and the wire.
public struct APIServer: HTTPHandler {
    let engine: Engine
    let logger: Logger

    public init(engine: Engine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// Headers on every response, as dockerd sends them.
    static let commonHeaders: [(String, String)] = [
        ("Api-Version", APIVersion.current.description),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Server", "Berth/0.3.0 (linux)"),
    ]

    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        var response: HTTPResponse
        do {
            response = try await route(request)
        } catch let e as BerthError {
            if e.code == .internal || e.code == .system || e.code == .corrupt {
                logger.error("request failed", metadata: ["method": "\(request.method)", "uri": "\(request.uri)", "error": "\(e)"])
            }
            response = APIServer.error(e)
        } catch let e as DecodingError {
            response = APIServer.error(BerthError.invalid("invalid JSON: \(e)"))
        } catch {
            logger.error("request failed", metadata: ["uri": "\(request.uri)", "error": "\(error)"])
            response = APIServer.error(BerthError(.internal, "\(error)"))
        }
        for (k, v) in APIServer.commonHeaders where !response.headers.contains(k) { response.headers.add(k, v) }
        return response
    }

    /// The HTTP status for an error code (Docker's errdefs mapping).
    static func status(_ code: BerthError.Code) -> Int {
        switch code {
        case .invalidArgument: return 400
        case .notFound: return 404
        case .conflict: return 409
        case .permissionDenied: return 403
        case .unsupported: return 501
        case .system, .corrupt, .internal: return 500
        }
    }

    /// `{"message": …}` with the mapped status.
    static func error(_ e: BerthError) -> HTTPResponse {
        json(ErrorResponse(message: e.description), status: status(e.code))
    }

    /// A JSON body (with Docker's trailing newline).
    static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        var bytes = (try? BerthJSONEncoder().encode(value)) ?? Array(#"{"message":"internal error: cannot encode the response"}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return .bytes(status: status, headers: [("Content-Type", "application/json")], body: bytes)
    }

    static func encodeLine<T: Encodable>(_ value: T) -> [UInt8] {
        var bytes = (try? BerthJSONEncoder().encode(value)) ?? []
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Version negotiation, then dispatch.
    func route(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (version, path, malformed) = APIVersion.split(path: request.path)
        if malformed { return APIServer.error(BerthError.notFound("page not found")) }
        if let v = version {
            if v > APIVersion.current {
                throw BerthError.invalid("client version \(v) is too new. Maximum supported API version is \(APIVersion.current)")
            }
            if v < APIVersion.minimum {
                throw BerthError.invalid("client version \(v) is too old. Minimum supported API version is \(APIVersion.minimum), please upgrade your client to a newer version")
            }
        }
        let ctx = RequestContext(request: request, path: path, version: version ?? APIVersion.current)
        let m = request.method
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)

        switch (m, segments.first ?? "") {
        case ("GET", "_ping"), ("HEAD", "_ping"):
            return ping(head: m == "HEAD")
        case ("GET", "version") where segments.count == 1:
            return version_()
        case ("GET", "info") where segments.count == 1:
            return info()
        case ("GET", "events") where segments.count == 1:
            return try events(ctx)
        case ("GET", "system") where path == "/system/df":
            return try systemDF(ctx)
        case ("POST", "build") where segments.count == 1:
            return try await build(ctx)
        case ("POST", "build") where path == "/build/prune":
            return try await pruneBuildCache(ctx)
        case ("POST", "auth") where segments.count == 1:
            return try await auth(ctx)
        case ("POST", "commit") where segments.count == 1:
            return try await commit(ctx)
        case ("GET", "distribution") where segments.count >= 3 && segments.last == "json":
            return try await distribution(ctx, name: segments.dropFirst().dropLast().joined(separator: "/"))
        case (_, "images"):
            if let r = try await images(ctx, segments: Array(segments.dropFirst())) { return r }
        case (_, "containers"):
            if let r = try await containers(ctx, segments: Array(segments.dropFirst())) { return r }
        case (_, "exec"):
            if let r = try await exec(ctx, segments: Array(segments.dropFirst())) { return r }
        case (_, "networks"):
            if let r = try await networks(ctx, segments: Array(segments.dropFirst())) { return r }
        case (_, "berth") where segments.count >= 3 && segments[1] == "vms":
            if let r = try await vms(ctx, segments: Array(segments.dropFirst(2))) { return r }
        case (_, "volumes"):
            if let r = try await volumes(ctx, segments: Array(segments.dropFirst())) { return r }
        default:
            break
        }
        throw BerthError.notFound("page not found")
    }
}

/// A request with its negotiated version and the path without the version prefix.
struct RequestContext {
    let request: HTTPRequest
    let path: String
    let version: APIVersion

    func query(_ name: String) -> String? { request.queryValue(name) }
    func queryAll(_ name: String) -> [String] { request.query[name] ?? [] }

    /// A boolean query parameter as Docker reads them (`1`, `true`, `True`; absent/`0`/`false` = false).
    func bool(_ name: String) -> Bool {
        guard let v = query(name)?.lowercased() else { return false }
        return !(v.isEmpty || v == "0" || v == "false" || v == "no")
    }

    func filters() throws -> Filters { try Filters(json: query("filters")) }
}
