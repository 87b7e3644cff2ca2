import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// What `POST /containers/{id}/attach` should connect.
    public struct AttachOptions: Sendable {
        public var stream = true
        public var stdin = false
        public var stdout = true
        public var stderr = true
        /// Replay the log before streaming.
        public var logs = false
        /// `ctrl-p,ctrl-q` form; nil: the daemon's default.
        public var detachKeys: String?
        public init() {}
    }

    /// `POST /containers/{id}/attach` with `Upgrade: tcp`: the container's streams.
    public func attachContainer(_ id: String, options: AttachOptions) async throws -> AttachedStream {
        var query: [(String, String)] = []
        if options.stream { query.append(("stream", "1")) }
        if options.stdin { query.append(("stdin", "1")) }
        if options.stdout { query.append(("stdout", "1")) }
        if options.stderr { query.append(("stderr", "1")) }
        if options.logs { query.append(("logs", "1")) }
        if let keys = options.detachKeys, !keys.isEmpty { query.append(("detachKeys", keys)) }
        return try await hijack("/containers/\(Self.pathComponent(id))/attach", query: query,
                                headers: [("Content-Type", "text/plain")], body: [])
    }

    /// `POST /containers/{id}/exec`: creates an exec instance.
    public func execCreate(_ container: String, _ request: ExecCreateRequest) async throws -> IDResponse {
        let body: [UInt8]
        do { body = try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the exec request: \(error)")
        }
        let path = "/containers/\(Self.pathComponent(container))/exec"
        let bytes = try await call("POST", path, body: .bytes(body), headers: [("Content-Type", "application/json")])
        return try Self.decode(IDResponse.self, bytes, path)
    }

    /// `POST /exec/{id}/start` with `Detach: true`: starts the process and returns at once.
    public func execStartDetached(_ id: String, tty: Bool = false, consoleSize: [Int]? = nil) async throws {
        var request = ExecStartRequest(Detach: true, Tty: tty)
        request.ConsoleSize = consoleSize
        let body = try Self.encodeStart(request)
        _ = try await call("POST", "/exec/\(Self.pathComponent(id))/start", body: .bytes(body),
                           headers: [("Content-Type", "application/json")])
    }

    /// `POST /exec/{id}/start` with `Upgrade: tcp`: starts the process and returns its streams.
    public func execStart(_ id: String, tty: Bool = false, consoleSize: [Int]? = nil) async throws -> AttachedStream {
        var request = ExecStartRequest(Detach: false, Tty: tty)
        request.ConsoleSize = consoleSize
        return try await hijack("/exec/\(Self.pathComponent(id))/start", query: [],
                                headers: [("Content-Type", "application/json")], body: try Self.encodeStart(request))
    }

    /// `POST /exec/{id}/resize?h=…&w=…`.
    public func execResize(_ id: String, height: Int, width: Int) async throws {
        _ = try await call("POST", "/exec/\(Self.pathComponent(id))/resize",
                           query: [("h", String(height)), ("w", String(width))])
    }

    /// `GET /exec/{id}/json`. Docker omits empty `ProcessConfig` members (`user`,
    /// `privileged`), so missing ones read as empty.
    public func execInspect(_ id: String) async throws -> ExecInspect {
        let path = "/exec/\(Self.pathComponent(id))/json"
        let bytes = try await call("GET", path)
        guard case .object(var top)? = try? JSON.parse(bytes), case .object(var process)? = top["ProcessConfig"] else {
            return try Self.decode(ExecInspect.self, bytes, path)
        }
        let defaults: [(String, JSONValue)] = [
            ("privileged", .bool(false)), ("user", .string("")), ("tty", .bool(false)), ("entrypoint", .string("")),
            ("arguments", .array([])),
        ]
        for (key, value) in defaults where process[key]?.isNull ?? true { process.updateValue(value, forKey: key) }
        top.updateValue(.object(process), forKey: "ProcessConfig")
        return try Self.decode(ExecInspect.self, JSON.serialize(.object(top)), path)
    }

    static func encodeStart(_ request: ExecStartRequest) throws -> [UInt8] {
        do { return try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the exec start request: \(error)")
        }
    }

    /// A POST with `Connection: Upgrade`, `Upgrade: tcp`; errors as the other requests.
    func hijack(_ path: String, query: [(String, String)], headers: HTTPHeaderFields, body: [UInt8]) async throws -> AttachedStream {
        var full = "/v\(try await apiVersion())" + path
        if !query.isEmpty { full += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&") }
        do {
            let (response, stream) = try await http.upgrade(method: "POST", path: full, headers: headers, body: body)
            return AttachedStream(stream: stream, contentType: response.headers["Content-Type"])
        } catch let e as HTTPUpgradeRefused {
            var message = String(decoding: e.body, as: UTF8.self)
            if let v = try? JSON.parse(e.body), let m = v["message"]?.stringValue { message = m }
            while message.hasSuffix("\n") { message.removeLast() }
            if message.isEmpty { message = "status \(e.status)" }
            throw BerthClientError.daemon(status: e.status, message: message)
        } catch let e as BerthError where e.code == .system && e.message.hasPrefix("connect to") {
            throw BerthClientError.cannotConnect(host: host)
        }
    }
}
