import AsyncHTTPClient
import BerthCore
import BerthOCI
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Credentials for one registry (what `docker login` stores and `X-Registry-Auth` carries).
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    /// An OAuth2 refresh token some registries hand out instead of a password.
    public var identityToken: String?

    public init(username: String, password: String, identityToken: String? = nil) {
        self.username = username
        self.password = password
        self.identityToken = identityToken
    }
}

/// What a registry said went wrong, in its words (`errors[0]` of the spec's error body) with
/// the HTTP status; `unauthorized` for 401s after the challenge was answered.
public struct RegistryClientError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    /// The registry's own message (`errors[0].message`), when it sent one.
    public var registryMessage: String?

    public init(status: Int, code: String, message: String, registryMessage: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.registryMessage = registryMessage
    }

    public var description: String { message }
    public var isUnauthorized: Bool { status == 401 }
    public var isNotFound: Bool { status == 404 }
}

/// The image a reference resolves to for one platform: the manifest (fetched through an index
/// when the reference names one) and the digest Docker records as the repo digest (the
/// top-level manifest's or index's).
public struct ResolvedImage: Sendable {
    public var manifest: ImageManifest
    public var manifestDigest: Digest
    /// The digest of what the reference named: the index's for a multi-platform image.
    public var repoDigest: Digest
    /// Where the manifest came from, and so where its blobs are fetched: the reference asked
    /// for, or the same repository on a mirror.
    public var source: Reference
}

/// Where a blob download goes: appended to, told to start over when a registry ignores a
/// range request.
public protocol BlobWriter: AnyObject, Sendable {
    /// Bytes written so far.
    var written: Int64 { get }
    func append(_ bytes: UnsafeRawBufferPointer) throws
    /// Drops what was written (the download restarts from byte 0).
    func restart() throws
}

/// An OCI distribution client (pull side): resolves references to manifests (through an index
/// to the wanted platform), downloads blobs with their digests checked by the writer, resumes a
/// truncated download with a range request, and answers auth challenges — Bearer (the
/// anonymous or credentialed token flow) and Basic. Plain HTTP is used for insecure registries:
/// loopback ones (as Docker) and those configured.
public final class RegistryClient: Sendable {
    let http: AsyncHTTPClient.HTTPClient
    let insecureRegistries: Set<String>
    /// Docker's `certs.d` layout: `<dir>/<host:port>/*.crt` (CAs), `*.cert` + `*.key` (client).
    let certsDirectory: String?
    /// Authorization header values by host + repository + actions.
    let authorizations = Mutex<[String: String]>([:])
    /// The scheme that answered, per insecure registry (see `baseURL`).
    let schemes = Mutex<[String: String]>([:])
    /// TLS configurations per `host:port`, with the mtime of the certs directory they were
    /// built from (-1: none).
    let tlsConfigurations = Mutex<[String: (stamp: Int64, config: TLSConfiguration)]>([:])

    /// One client serves every pull (connections are pooled); credentials come with each call.
    /// `certsDirectory` holds per-registry CAs and client certificates (Docker's
    /// `/etc/docker/certs.d` layout).
    public init(insecureRegistries: Set<String> = [], certsDirectory: String? = nil) {
        self.insecureRegistries = insecureRegistries
        self.certsDirectory = certsDirectory
        var config = AsyncHTTPClient.HTTPClient.Configuration()
        config.redirectConfiguration = .follow(max: 5, allowCycles: false)
        config.timeout = .init(connect: .seconds(15), read: .seconds(60))
        // A refused connection fails the request at once (AsyncHTTPClient would otherwise retry
        // it with backoff until the request's deadline, minutes later); pull and push retry
        // themselves, resuming from what the registry kept.
        config.connectionPool.retryConnectionEstablishment = false
        http = AsyncHTTPClient.HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    deinit { try? http.syncShutdown() }

    /// The host requests go to (`docker.io` is served by `registry-1.docker.io`).
    public static func endpointHost(_ domain: String) -> String {
        domain == Reference.defaultDomain ? "registry-1.docker.io" : domain
    }

    /// Whether plain HTTP is used: loopback registries (127.0.0.0/8, ::1, localhost) and the
    /// configured insecure ones.
    public func isInsecure(_ domain: String) -> Bool {
        if insecureRegistries.contains(domain) { return true }
        var host = domain
        if host.hasPrefix("[") { host = String(host.dropFirst().prefix { $0 != "]" }) }
        else if let colon = host.lastIndex(of: ":"), host.filter({ $0 == ":" }).count == 1 { host = String(host[..<colon]) }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }

    static let manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest]
        .joined(separator: ", ")

    // MARK: pull

    /// Resolves `ref` (tag or digest) to the manifest for `platform`.
    public func resolve(_ ref: Reference, platform: Platform = Platform(architecture: "amd64", os: "linux"),
                        auth: RegistryCredentials? = nil) async throws -> ResolvedImage {
        let top = try await manifest(ref, reference: ref.digest?.description ?? ref.tag ?? "latest", auth: auth)
        if let want = ref.digest, want != top.digest {
            throw RegistryClientError(status: 0, code: "DIGEST_INVALID", message: "manifest digest mismatch: asked for \(want), the registry sent \(top.digest)")
        }
        if MediaType.isIndexType(top.mediaType) {
            let index: ImageIndex
            do { index = try BerthJSONDecoder().decode(ImageIndex.self, from: top.bytes) } catch {
                throw RegistryClientError(status: 0, code: "MANIFEST_INVALID", message: "invalid image index from \(ref.familiar): \(error)")
            }
            guard let d = index.manifest(for: platform) else {
                throw RegistryClientError(status: 404, code: "MANIFEST_UNKNOWN",
                                    message: "no matching manifest for \(platform.os)/\(platform.architecture) in the manifest list entries")
            }
            let inner = try await manifest(ref, reference: d.digest.description, auth: auth)
            guard inner.digest == d.digest else {
                throw RegistryClientError(status: 0, code: "DIGEST_INVALID", message: "manifest digest mismatch: the index names \(d.digest), the registry sent \(inner.digest)")
            }
            return ResolvedImage(manifest: try decodeManifest(inner.bytes, ref), manifestDigest: inner.digest, repoDigest: top.digest, source: ref)
        }
        return ResolvedImage(manifest: try decodeManifest(top.bytes, ref), manifestDigest: top.digest, repoDigest: top.digest, source: ref)
    }

    func decodeManifest(_ bytes: [UInt8], _ ref: Reference) throws -> ImageManifest {
        do {
            let m = try BerthJSONDecoder().decode(ImageManifest.self, from: bytes)
            try m.validate()
            return m
        } catch {
            throw RegistryClientError(status: 0, code: "MANIFEST_INVALID", message: "invalid manifest from \(ref.familiar): \(error)")
        }
    }

    /// A manifest's bytes, media type and computed digest.
    public func manifest(_ ref: Reference, reference: String, auth: RegistryCredentials? = nil) async throws -> (bytes: [UInt8], mediaType: String, digest: Digest) {
        let url = "\(await baseURL(ref.domain))/v2/\(ref.path)/manifests/\(reference)"
        let response = try await send(.GET, url, headers: [("Accept", Self.manifestAccept)], ref: ref, actions: "pull", auth: auth)
        guard response.status == .ok else { throw try await Self.error(response, what: "manifest for \(ref.familiar)") }
        let bytes = Array(try await response.body.collect(upTo: 4 << 20).readableBytesView)
        let digest = Encoding.sha256(bytes)
        var mediaType = response.headers.first(name: "Content-Type")?.split(separator: ";").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        if let obj = try? JSON.parse(bytes), case .object(let o) = obj, case .string(let mt)? = o["mediaType"] { mediaType = mt }
        else if let obj = try? JSON.parse(bytes), case .object(let o) = obj, o["manifests"] != nil { mediaType = MediaType.ociIndex }
        return (bytes, mediaType, digest)
    }

    /// Downloads a blob into `writer`, resuming with a range request when the connection ends
    /// early (up to `retries` times). The writer checks the digest; this checks the size.
    public func fetchBlob(_ ref: Reference, _ d: Descriptor, into writer: any BlobWriter, auth: RegistryCredentials? = nil,
                          retries: Int = 3, progress: @escaping @Sendable (Int64) -> Void = { _ in }) async throws {
        let url = "\(await baseURL(ref.domain))/v2/\(ref.path)/blobs/\(d.digest)"
        var attempt = 0
        while true {
            let offset = writer.written
            var headers: [(String, String)] = []
            if offset > 0 { headers.append(("Range", "bytes=\(offset)-")) }
            do {
                let response = try await send(.GET, url, headers: headers, ref: ref, actions: "pull", auth: auth)
                if response.status == .ok && offset > 0 { try writer.restart() }
                else if response.status != .ok && response.status != .partialContent {
                    throw try await Self.error(response, what: "blob \(d.digest) of \(ref.familiar)")
                }
                for try await chunk in response.body {
                    try chunk.withUnsafeReadableBytes { try writer.append($0) }
                    if writer.written > d.size {
                        throw RegistryClientError(status: 0, code: "SIZE_INVALID", message: "blob \(d.digest) is larger than its descriptor says (\(d.size) bytes)")
                    }
                    progress(writer.written)
                }
                if writer.written == d.size { return }
                throw RegistryClientError(status: 0, code: "TRUNCATED", message: "blob \(d.digest): the download ended at \(writer.written) of \(d.size) bytes")
            } catch let e as RegistryClientError where e.code != "TRUNCATED" && e.status != 0 {
                throw e
            } catch {
                attempt += 1
                if attempt > retries { throw error }
                try await Task.sleep(nanoseconds: UInt64(attempt) * 200_000_000)
            }
        }
    }

    /// A small blob (a config) in memory, its digest and size checked.
    public func blob(_ ref: Reference, _ d: Descriptor, auth: RegistryCredentials? = nil, limit: Int = 4 << 20) async throws -> [UInt8] {
        guard d.size <= Int64(limit) else {
            throw RegistryClientError(status: 0, code: "SIZE_INVALID", message: "blob \(d.digest) is too large to read in memory (\(d.size) bytes)")
        }
        let url = "\(await baseURL(ref.domain))/v2/\(ref.path)/blobs/\(d.digest)"
        let response = try await send(.GET, url, headers: [], ref: ref, actions: "pull", auth: auth)
        guard response.status == .ok else { throw try await Self.error(response, what: "blob \(d.digest) of \(ref.familiar)") }
        let bytes = Array(try await response.body.collect(upTo: limit).readableBytesView)
        guard Int64(bytes.count) == d.size, Encoding.sha256(bytes) == d.digest else {
            throw RegistryClientError(status: 0, code: "DIGEST_INVALID", message: "blob \(d.digest) of \(ref.familiar): content does not match its digest")
        }
        return bytes
    }

    // MARK: auth

    /// `docker login`: checks the credentials against the registry's `/v2/` (answering its
    /// challenge with them). Throws `RegistryClientError` with status 401 when refused.
    public func login(_ domain: String, _ creds: RegistryCredentials) async throws {
        let url = "\(await baseURL(domain))/v2/"
        let first = try await execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        _ = try? await first.body.collect(upTo: 1 << 20)
        if first.status == .ok { return }
        guard first.status == .unauthorized, let challenge = first.headers.first(name: "WWW-Authenticate") else {
            throw RegistryClientError(status: Int(first.status.code), code: "UNKNOWN",
                                      message: "login attempt to \(url) failed with status: \(first.status.code) \(first.status.reasonPhrase)")
        }
        let auth: String
        do {
            auth = try await authorize(challenge, domain: domain, repository: "", actions: "", credentials: creds, scope: "")
        } catch let e as RegistryClientError where e.isUnauthorized {
            throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "login attempt to \(url) failed with status: 401 Unauthorized")
        }
        var r = HTTPClientRequest(url: url)
        r.headers.add(name: "Authorization", value: auth)
        let second = try await execute(r, timeout: .seconds(30))
        _ = try? await second.body.collect(upTo: 1 << 20)
        guard second.status == .ok else {
            throw RegistryClientError(status: Int(second.status.code), code: "UNAUTHORIZED",
                                      message: "login attempt to \(url) failed with status: \(second.status.code) \(second.status.reasonPhrase)")
        }
    }

    /// Sends a request with the authorization known for this host and repository; on a 401
    /// answers the challenge (Bearer token or Basic) and sends it once more.
    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)], ref: Reference, actions: String,
              auth creds: RegistryCredentials?, body: HTTPClientRequest.Body? = nil) async throws -> HTTPClientResponse {
        let key = "\(creds?.username ?? "")@\(ref.domain)/\(ref.path):\(actions)"
        func request() -> HTTPClientRequest {
            var r = HTTPClientRequest(url: url)
            r.method = method
            for (k, v) in headers { r.headers.add(name: k, value: v) }
            if let auth = authorizations.withLock({ $0[key] }) { r.headers.replaceOrAdd(name: "Authorization", value: auth) }
            if let body { r.body = body }
            return r
        }
        let first = try await execute(request(), timeout: .seconds(120))
        guard first.status == .unauthorized, let challenge = first.headers.first(name: "WWW-Authenticate") else { return first }
        _ = try? await first.body.collect(upTo: 1 << 20)
        let auth = try await authorize(challenge, domain: ref.domain, repository: ref.path, actions: actions, credentials: creds)
        authorizations.withLock { $0[key] = auth }
        let second = try await execute(request(), timeout: .seconds(120))
        if second.status == .unauthorized {
            throw try await Self.error(second, what: "\(ref.familiar)")
        }
        return second
    }

    /// The `Authorization` value answering a `WWW-Authenticate` challenge.
    func authorize(_ challenge: String, domain: String, repository: String, actions: String,
                   credentials creds: RegistryCredentials?, scope: String? = nil) async throws -> String {
        let (scheme, params) = Self.parseChallenge(challenge)
        switch scheme.lowercased() {
        case "basic":
            guard let creds else {
                throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "authentication required: log in to \(domain) first")
            }
            return "Basic " + Encoding.base64(Array("\(creds.username):\(creds.password)".utf8))
        case "bearer":
            guard let realm = params["realm"], var components = URLComponents(string: realm) else {
                throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "the registry's Bearer challenge has no realm")
            }
            var items = components.queryItems ?? []
            if let service = params["service"] { items.append(URLQueryItem(name: "service", value: service)) }
            let wanted = scope ?? params["scope"] ?? "repository:\(repository):\(actions)"
            if !wanted.isEmpty { items.append(URLQueryItem(name: "scope", value: wanted)) }
            components.queryItems = items
            guard let url = components.string else { throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "bad token realm \(realm)") }
            var r = HTTPClientRequest(url: url)
            if let creds {
                r.headers.add(name: "Authorization", value: "Basic " + Encoding.base64(Array("\(creds.username):\(creds.password)".utf8)))
            }
            let response = try await execute(r, timeout: .seconds(30))
            guard response.status == .ok else { throw try await Self.error(response, what: "token for \(repository)") }
            let body = try await response.body.collect(upTo: 1 << 20)
            guard case .object(let o)? = try? JSON.parse(Array(body.readableBytesView)),
                  case .string(let token)? = o["token"] ?? o["access_token"] else {
                throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "the token endpoint \(realm) sent no token")
            }
            return "Bearer " + token
        default:
            throw RegistryClientError(status: 401, code: "UNAUTHORIZED", message: "unsupported authentication scheme \(scheme)")
        }
    }

    /// `Bearer realm="…",service="…",scope="…"` → ("Bearer", [realm: …, …]).
    static func parseChallenge(_ header: String) -> (String, [String: String]) {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return (trimmed, [:]) }
        let scheme = String(trimmed[..<space])
        var params: [String: String] = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: eq)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let c = rest.first, c != "\"" {
                    if c == "\\", let n = rest.dropFirst().first { value.append(n); rest = rest.dropFirst(2); continue }
                    value.append(c)
                    rest = rest.dropFirst()
                }
                rest = rest.dropFirst()
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end]).trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            params[key] = value
        }
        return (scheme, params)
    }

    // MARK: helpers

    /// The spec's error body as a `RegistryClientError`.
    static func error(_ response: HTTPClientResponse, what: String) async throws -> RegistryClientError {
        let status = Int(response.status.code)
        let body = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
        var code = "UNKNOWN", message = "\(response.status.code) \(response.status.reasonPhrase)"
        if case .object(let o)? = try? JSON.parse(body), case .array(let errors)? = o["errors"],
           case .object(let first)? = errors.first {
            if case .string(let c)? = first["code"] { code = c }
            if case .string(let m)? = first["message"] { message = m }
        }
        switch status {
        case 401: return RegistryClientError(status: status, code: code, message: "unauthorized: \(message) (\(what))", registryMessage: message)
        case 404: return RegistryClientError(status: status, code: code, message: "\(what): not found: \(message)", registryMessage: message)
        default: return RegistryClientError(status: status, code: code, message: "\(what): \(message)", registryMessage: message)
        }
    }
}

extension MediaType {
    /// An OCI index or a Docker manifest list.
    static func isIndexType(_ m: String) -> Bool { m == MediaType.ociIndex || m == MediaType.dockerManifestList }
}
