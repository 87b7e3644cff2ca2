import BerthCore
import BerthHTTP
import BerthOCI

/// The OCI Distribution Spec v1.1 API (`/v2/…`) over ``RegistryStorage``, answering as
/// docker/distribution 2.8 does, as a BerthHTTP ``HTTPHandler``. Serve it with
/// `HTTPServer(handler: RegistryServer(storage: …))`.
///
/// Routes: `GET /v2/`; blobs (`HEAD`/`GET`/`DELETE /v2/<name>/blobs/<digest>`, with `Range`);
/// uploads (`POST /v2/<name>/blobs/uploads/` — monolithic with `?digest=`, mount with
/// `?mount=&from=` — then `PATCH`/`PUT`/`GET`/`DELETE` on the upload's location); manifests
/// (`PUT`/`GET`/`HEAD`/`DELETE /v2/<name>/manifests/<reference>`); `GET /v2/<name>/tags/list`;
/// `GET /v2/_catalog`; `GET /v2/<name>/referrers/<digest>`; and the token endpoint
/// (`GET /token`) when bearer auth is configured.
public struct RegistryServer: HTTPHandler {
    /// Where content lives.
    public let storage: RegistryStorage
    /// Who may do what.
    public let auth: RegistryAuth
    /// The path of the token endpoint (default `/token`).
    public let tokenPath: String
    /// Whether `DELETE` of blobs and manifests is allowed (docker/distribution's
    /// `storage.delete.enabled`); when not, it answers `405 UNSUPPORTED`.
    public let deleteEnabled: Bool
    /// Blobs (or ranges) up to this size are answered with a fixed body carrying
    /// `Content-Length`; larger ones stream from disk in chunks (chunked encoding).
    public let fixedBodyLimit: Int64
    /// `https` when served over TLS: the scheme of the token realm in challenges.
    public let scheme: String
    let log: (@Sendable (String) -> Void)?

    /// The largest manifest accepted (docker/distribution's limit).
    public static let maxManifestSize = 4 << 20

    /// Makes the handler.
    public init(storage: RegistryStorage, auth: RegistryAuth = .open, tokenPath: String = "/token",
                deleteEnabled: Bool = true, fixedBodyLimit: Int64 = 1 << 20, tls: Bool = false,
                log: (@Sendable (String) -> Void)? = nil) {
        self.scheme = tls ? "https" : "http"
        self.storage = storage
        self.auth = auth
        self.tokenPath = tokenPath
        self.deleteEnabled = deleteEnabled
        self.fixedBodyLimit = fixedBodyLimit
        self.log = log
    }

    /// A parsed `/v2/` route.
    enum Route: Equatable {
        case ping
        case catalog
        case blob(name: String, digest: String)
        case uploads(name: String)
        case upload(name: String, id: String)
        case manifest(name: String, reference: String)
        case tags(name: String)
        case referrers(name: String, digest: String)

        var name: String? {
            switch self {
            case .ping, .catalog: return nil
            case .blob(let n, _), .uploads(let n), .upload(let n, _), .manifest(let n, _), .tags(let n),
                 .referrers(let n, _):
                return n
            }
        }
    }

    /// Splits `/v2/<name>/<marker>…` at the LAST marker, so nested names (`a/b/c`) and names
    /// containing words like `blobs` still route. Nil when the path is no `/v2/` route.
    static func route(_ path: String) -> Route? {
        guard path.hasPrefix("/v2/") || path == "/v2" else { return nil }
        let rest = path == "/v2" ? "" : String(path.dropFirst(4))
        if rest.isEmpty { return .ping }
        if rest == "_catalog" { return .catalog }
        if rest.hasSuffix("/tags/list") {
            return .tags(name: String(rest.dropLast("/tags/list".count)))
        }
        let markers = ["/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"]
        var best: (marker: String, range: Range<String.Index>)?
        for marker in markers {
            guard let r = rest.ranges(of: marker).last else { continue }
            if let b = best, b.range.lowerBound > r.lowerBound { continue }
            if let b = best, b.range.lowerBound == r.lowerBound, b.marker.count >= marker.count { continue }
            best = (marker, r)
        }
        // `POST /v2/<name>/blobs/uploads` without the trailing slash.
        if rest.hasSuffix("/blobs/uploads") {
            let at = rest.index(rest.endIndex, offsetBy: -"/blobs/uploads".count)
            if best == nil || best!.range.lowerBound <= at {
                return .uploads(name: String(rest[..<at]))
            }
        }
        guard let best else { return nil }
        let name = String(rest[..<best.range.lowerBound])
        let tail = String(rest[best.range.upperBound...])
        switch best.marker {
        case "/blobs/uploads/":
            return tail.isEmpty ? .uploads(name: name) : .upload(name: name, id: tail)
        case "/blobs/":
            return .blob(name: name, digest: tail)
        case "/manifests/":
            return .manifest(name: name, reference: tail)
        default:
            return .referrers(name: name, digest: tail)
        }
    }

    /// Answers one request; never throws (errors become the spec's JSON error bodies).
    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        do {
            return try await dispatch(request)
        } catch let e as RegistryError {
            return e.response()
        } catch let e as RegistryUnauthorized {
            return e.response
        } catch let e as RegistryUnsatisfiable {
            return RegistryError(.rangeInvalid, "requested range not satisfiable", status: 416)
                .response(extraHeaders: [("Content-Range", "bytes */\(e.size)")])
        } catch let e as BerthError {
            log?("registry: \(request.method) \(request.path): \(e)")
            let status = e.code == .invalidArgument ? 400 : e.code == .notFound ? 404 : 500
            var body: JSONObject = ["code": "UNKNOWN", "message": .string(e.message)]
            body["detail"] = .null
            return .bytes(status: status, headers: Self.jsonHeaders, body: JSON.serialize(["errors": .array([.object(body)])]))
        } catch {
            log?("registry: \(request.method) \(request.path): \(error)")
            let body: JSONValue = ["errors": [["code": "UNKNOWN", "message": .string("\(error)"), "detail": .null]]]
            return .bytes(status: 500, headers: Self.jsonHeaders, body: JSON.serialize(body))
        }
    }

    static let apiVersionHeader = ("Docker-Distribution-API-Version", "registry/2.0")
    static let jsonHeaders: HTTPHeaderFields = [("Content-Type", "application/json; charset=utf-8"), apiVersionHeader]

    func dispatch(_ request: HTTPRequest) async throws -> HTTPResponse {
        let path = request.path
        if path == tokenPath && auth.tokenSecret != nil {
            guard request.method == "GET" || request.method == "POST" else { throw Self.methodNotAllowed }
            return try token(request)
        }
        guard let route = Self.route(path) else {
            throw RegistryError(.unsupported, "no such route: \(path)", status: 404)
        }
        if let name = route.name, !RepositoryName.isValid(name) {
            throw RegistryError(.nameInvalid, "invalid repository name", detail: .string(name))
        }
        let method = request.method
        try authorize(request, route: route)
        switch route {
        case .ping:
            guard method == "GET" || method == "HEAD" else { throw Self.methodNotAllowed }
            return .bytes(status: 200, headers: Self.jsonHeaders, body: Array("{}".utf8))
        case .catalog:
            guard method == "GET" else { throw Self.methodNotAllowed }
            return try catalog(request)
        case .tags(let name):
            guard method == "GET" else { throw Self.methodNotAllowed }
            return try tags(request, name: name)
        case .referrers(let name, let digest):
            guard method == "GET" else { throw Self.methodNotAllowed }
            return try referrers(request, name: name, digest: digest)
        case .blob(let name, let digest):
            switch method {
            case "GET", "HEAD": return try getBlob(request, name: name, digest: digest)
            case "DELETE": return try deleteBlob(name: name, digest: digest)
            default: throw Self.methodNotAllowed
            }
        case .uploads(let name):
            guard method == "POST" else { throw Self.methodNotAllowed }
            return try await startUpload(request, name: name)
        case .upload(let name, let id):
            switch method {
            case "GET": return try uploadStatus(name: name, id: id)
            case "PATCH": return try await patchUpload(request, name: name, id: id)
            case "PUT": return try await finishUpload(request, name: name, id: id)
            case "DELETE": return try cancelUpload(name: name, id: id)
            default: throw Self.methodNotAllowed
            }
        case .manifest(let name, let reference):
            switch method {
            case "GET", "HEAD": return try getManifest(request, name: name, reference: reference)
            case "PUT": return try await putManifest(request, name: name, reference: reference)
            case "DELETE": return try deleteManifest(name: name, reference: reference)
            default: throw Self.methodNotAllowed
            }
        }
    }

    static let methodNotAllowed = RegistryError(.unsupported, "the operation is unsupported", status: 405)

    /// Parses a digest from the URL, or throws `DIGEST_INVALID`.
    static func parseDigest(_ text: String) throws -> Digest {
        do { return try Digest(text) } catch {
            throw RegistryError(.digestInvalid, "provided digest did not match uploaded content", detail: .string(text))
        }
    }

    // MARK: pagination

    /// Reads `n` (nil when absent); a bad number is `PAGINATION_NUMBER_INVALID`.
    static func pageSize(_ request: HTTPRequest) throws -> Int? {
        guard let text = request.queryValue("n") else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw RegistryError(.paginationNumberInvalid, "invalid number of results requested", detail: .string(text))
        }
        return n
    }

    /// One page of `all` (sorted) after `last`, and the `Link` header for the next page.
    static func page(_ all: [String], request: HTTPRequest, path: String) throws -> ([String], String?) {
        let n = try pageSize(request)
        var items = all
        if let last = request.queryValue("last"), !last.isEmpty { items = items.filter { $0 > last } }
        guard let n else { return (items, nil) }
        if n == 0 { return ([], nil) }
        guard items.count > n else { return (items, nil) }
        let pageItems = Array(items.prefix(n))
        let last = pageItems[pageItems.count - 1]
        return (pageItems, "<\(path)?last=\(queryEscape(last))&n=\(n)>; rel=\"next\"")
    }

    /// Percent-encodes a query value (keeps unreserved characters and `/`).
    static func queryEscape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let h = Encoding.hex([b]).uppercased()
                out += "%" + h
            }
        }
        return out
    }

    func catalog(_ request: HTTPRequest) throws -> HTTPResponse {
        let (repos, link) = try Self.page(try storage.repositories(), request: request, path: "/v2/_catalog")
        var headers = Self.jsonHeaders
        if let link { headers.add("Link", link) }
        let body: JSONValue = ["repositories": .array(repos.map(JSONValue.string))]
        return .bytes(status: 200, headers: headers, body: JSON.serialize(body))
    }

    func tags(_ request: HTTPRequest, name: String) throws -> HTTPResponse {
        guard storage.repositoryExists(name) else {
            throw RegistryError(.nameUnknown, "repository name not known to registry", detail: ["name": .string(name)])
        }
        let (tags, link) = try Self.page(try storage.tags(name), request: request, path: "/v2/\(name)/tags/list")
        var headers = Self.jsonHeaders
        if let link { headers.add("Link", link) }
        let body: JSONValue = ["name": .string(name), "tags": .array(tags.map(JSONValue.string))]
        return .bytes(status: 200, headers: headers, body: JSON.serialize(body))
    }

    func referrers(_ request: HTTPRequest, name: String, digest: String) throws -> HTTPResponse {
        let subject = try Self.parseDigest(digest)
        var descriptors = try storage.referrers(of: subject, in: name)
        var headers: HTTPHeaderFields = [("Content-Type", MediaType.ociIndex), Self.apiVersionHeader]
        if let filter = request.queryValue("artifactType"), !filter.isEmpty {
            descriptors = descriptors.filter { $0["artifactType"]?.stringValue == filter }
            headers.add("OCI-Filters-Applied", "artifactType")
        }
        let body: JSONValue = [
            "schemaVersion": 2,
            "mediaType": .string(MediaType.ociIndex),
            "manifests": .array(descriptors),
        ]
        return .bytes(status: 200, headers: headers, body: JSON.serialize(body))
    }
}
