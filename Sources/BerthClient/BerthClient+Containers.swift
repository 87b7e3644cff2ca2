import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `POST /containers/create[?name=…&platform=…]`.
    public func createContainer(
        name: String? = nil, platform: String? = nil, _ request: ContainerCreateRequest
    ) async throws -> ContainerCreateResponse {
        var query: [(String, String)] = []
        if let name, !name.isEmpty { query.append(("name", name)) }
        if let platform, !platform.isEmpty { query.append(("platform", platform)) }
        let body: [UInt8]
        do { body = try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the create request: \(error)")
        }
        let bytes = try await call("POST", "/containers/create", query: query, body: .bytes(body),
                                   headers: [("Content-Type", "application/json")])
        return try Self.decode(ContainerCreateResponse.self, bytes, "/containers/create")
    }

    /// `POST /containers/{id}/start`.
    public func startContainer(_ id: String, detachKeys: String? = nil) async throws {
        var query: [(String, String)] = []
        if let detachKeys, !detachKeys.isEmpty { query.append(("detachKeys", detachKeys)) }
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/start", query: query)
    }

    /// `POST /containers/{id}/stop[?t=…&signal=…]`: `t` seconds before SIGKILL (nil: the
    /// container's StopTimeout, else 10).
    public func stopContainer(_ id: String, t: Int? = nil, signal: String? = nil) async throws {
        var query: [(String, String)] = []
        if let signal, !signal.isEmpty { query.append(("signal", signal)) }
        if let t { query.append(("t", String(t))) }
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/stop", query: query)
    }

    /// `POST /containers/{id}/restart[?t=…&signal=…]`.
    public func restartContainer(_ id: String, t: Int? = nil, signal: String? = nil) async throws {
        var query: [(String, String)] = []
        if let signal, !signal.isEmpty { query.append(("signal", signal)) }
        if let t { query.append(("t", String(t))) }
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/restart", query: query)
    }

    /// `POST /containers/{id}/kill[?signal=…]` (default SIGKILL). Names (`HUP`, `SIGHUP`) and
    /// numbers are accepted.
    public func killContainer(_ id: String, signal: String? = nil) async throws {
        var query: [(String, String)] = []
        if let signal, !signal.isEmpty { query.append(("signal", signal)) }
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/kill", query: query)
    }

    /// `DELETE /containers/{id}[?force=1&v=1&link=1]`.
    public func removeContainer(_ id: String, force: Bool = false, volumes: Bool = false, link: Bool = false) async throws {
        var query: [(String, String)] = []
        if force { query.append(("force", "1")) }
        if volumes { query.append(("v", "1")) }
        if link { query.append(("link", "1")) }
        _ = try await call("DELETE", "/containers/\(Self.pathComponent(id))", query: query)
    }

    /// A `POST /containers/{id}/wait` the daemon has accepted: the condition is registered on
    /// the server once this value exists, so a container started afterwards cannot exit unseen.
    public struct PendingWait: Sendable {
        let response: HTTPClientResponse
        let path: String

        /// Waits for the container to reach the condition.
        public func result() async throws -> ContainerWaitResponse {
            let bytes = try await response.collect(upTo: 1 << 20)
            return try BerthClient.decode(ContainerWaitResponse.self, bytes, path)
        }
    }

    /// Sends `POST /containers/{id}/wait?condition=…` and returns once the daemon answered the
    /// head (docker's daemon registers the wait, then flushes the head). `condition`:
    /// `not-running` (default), `next-exit`, `removed`.
    public func beginWait(_ id: String, condition: String? = nil) async throws -> PendingWait {
        var query: [(String, String)] = []
        if let condition, !condition.isEmpty { query.append(("condition", condition)) }
        let path = "/containers/\(Self.pathComponent(id))/wait"
        let r = try await send("POST", path, query: query)
        try await check(r)
        return PendingWait(response: r, path: path)
    }

    /// `POST /containers/{id}/wait?condition=…`, until the condition is met.
    public func waitContainer(_ id: String, condition: String? = nil) async throws -> ContainerWaitResponse {
        try await beginWait(id, condition: condition).result()
    }

    /// `GET /containers/{id}/json[?size=1]`.
    public func inspectContainer(_ id: String, size: Bool = false) async throws -> ContainerInspect {
        let path = "/containers/\(Self.pathComponent(id))/json"
        let bytes = try await call("GET", path, query: size ? [("size", "1")] : [])
        return try Self.decode(ContainerInspect.self, bytes, path)
    }

    /// `GET /containers/{id}/json[?size=1]`, as the raw JSON the server sent (for `inspect`).
    public func inspectContainerValue(_ id: String, size: Bool = false) async throws -> JSONValue {
        try await getValue("/containers/\(Self.pathComponent(id))/json", query: size ? [("size", "1")] : [])
    }

    /// `GET /containers/json`: running containers (all with `all`), newest first; `limit` > 0
    /// returns the last `limit` created in any state; `size` fills SizeRw/SizeRootFs.
    public func containers(all: Bool = false, limit: Int? = nil, size: Bool = false, filters: Filters = Filters()) async throws -> [ContainerSummary] {
        var query: [(String, String)] = []
        if all { query.append(("all", "1")) }
        if let limit, limit > 0 { query.append(("limit", String(limit))) }
        if size { query.append(("size", "1")) }
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        return try await get([ContainerSummary].self, "/containers/json", query: query)
    }

    /// What `GET /containers/{id}/logs` should send.
    public struct LogsOptions: Sendable {
        public var follow = false
        public var stdout = true
        public var stderr = true
        /// Unix seconds (`1700000000` or `1700000000.123456789`); the CLI converts dates and
        /// durations.
        public var since: String?
        public var until: String?
        public var timestamps = false
        /// A number of lines, or `all`.
        public var tail: String?
        public var details = false
        public init() {}
    }

    /// `GET /containers/{id}/logs`: the raw body, stdcopy-framed unless the container has a TTY.
    public func containerLogs(_ id: String, options: LogsOptions) async throws -> ByteStream {
        var query: [(String, String)] = []
        if options.stdout { query.append(("stdout", "1")) }
        if options.stderr { query.append(("stderr", "1")) }
        if let since = options.since, !since.isEmpty { query.append(("since", since)) }
        if let until = options.until, !until.isEmpty { query.append(("until", until)) }
        if options.timestamps { query.append(("timestamps", "1")) }
        if options.follow { query.append(("follow", "1")) }
        if let tail = options.tail, !tail.isEmpty { query.append(("tail", tail)) }
        if options.details { query.append(("details", "1")) }
        let r = try await send("GET", "/containers/\(Self.pathComponent(id))/logs", query: query)
        try await check(r)
        return ByteStream(body: r.body)
    }

    /// `POST /containers/{id}/resize?h=…&w=…`.
    public func resizeContainer(_ id: String, height: Int, width: Int) async throws {
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/resize",
                           query: [("h", String(height)), ("w", String(width))])
    }

    /// `POST /images/create?fromImage=…&tag=…`: pulls `reference` (`name[:tag]` or
    /// `name@digest`) and returns the JSON progress stream.
    public func pullImage(_ reference: String, platform: String? = nil, registryAuth: String? = nil) async throws -> JSONLineStream<JSONMessage> {
        var name = reference
        var tag: String?
        if let at = reference.firstIndex(of: "@") {
            name = String(reference[..<at])
            tag = String(reference[reference.index(after: at)...])
        } else if let colon = reference.lastIndex(of: ":"), !reference[colon...].contains("/") {
            name = String(reference[..<colon])
            tag = String(reference[reference.index(after: colon)...])
        }
        var query = [("fromImage", name)]
        if let tag { query.append(("tag", tag)) }
        if let platform, !platform.isEmpty { query.append(("platform", platform)) }
        let r = try await send("POST", "/images/create", query: query, headers: Self.authHeaders(registryAuth))
        try await check(r)
        return Self.messages(r)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
        do { return try BerthJSONDecoder().decode(T.self, from: bytes) } catch {
            throw BerthClientError.badResponse("\(what): \(error)")
        }
    }
}
