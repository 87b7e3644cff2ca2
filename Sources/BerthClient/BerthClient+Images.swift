import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `GET /images/json`: the images, newest first (`all` includes intermediate images).
    public func images(all: Bool = false, digests: Bool = false, filters: Filters = Filters()) async throws -> [ImageSummary] {
        var query: [(String, String)] = []
        if all { query.append(("all", "1")) }
        if digests { query.append(("digests", "1")) }
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        return try await get([ImageSummary].self, "/images/json", query: query)
    }

    /// `GET /images/{name}/json`, as the raw JSON the server sent.
    public func inspectImage(_ name: String) async throws -> JSONValue {
        try await getValue("/images/\(Self.pathComponent(name))/json")
    }

    /// `GET /images/{name}/history`, newest layer first.
    public func imageHistory(_ name: String) async throws -> [ImageHistoryItem] {
        try await get([ImageHistoryItem].self, "/images/\(Self.pathComponent(name))/history")
    }

    /// `POST /images/{name}/tag?repo=…&tag=…`.
    public func tagImage(_ source: String, repository: String, tag: String?) async throws {
        var query = [("repo", repository)]
        if let tag { query.append(("tag", tag)) }
        _ = try await call("POST", "/images/\(Self.pathComponent(source))/tag", query: query)
    }

    /// `DELETE /images/{name}`: what was untagged and deleted.
    public func removeImage(_ name: String, force: Bool = false, noPrune: Bool = false) async throws -> [ImageDeleteResponseItem] {
        var query: [(String, String)] = []
        if force { query.append(("force", "1")) }
        if noPrune { query.append(("noprune", "1")) }
        let bytes = try await call("DELETE", "/images/\(Self.pathComponent(name))", query: query)
        do { return try BerthJSONDecoder().decode([ImageDeleteResponseItem].self, from: bytes) } catch {
            throw BerthClientError.badResponse("image delete: \(error)")
        }
    }

    /// `POST /images/prune`.
    public func pruneImages(filters: Filters = Filters()) async throws -> ImagePruneResponse {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        return try await get(ImagePruneResponse.self, "/images/prune", query: query, method: "POST")
    }

    /// `POST /images/load`: streams the archive from `source` and returns the JSON progress
    /// stream (an `error` member in a message means the load failed).
    public func loadImage(from source: @escaping ByteSource, quiet: Bool = false) async throws -> JSONLineStream<JSONMessage> {
        let r = try await send("POST", "/images/load", query: quiet ? [("quiet", "1")] : [],
                               headers: [("Content-Type", "application/x-tar")], body: Self.streamBody(source))
        try await check(r)
        return Self.messages(r)
    }

    /// `GET /images/get?names=…`: the tar stream of the named images.
    public func saveImages(_ names: [String]) async throws -> ByteStream {
        let r = try await send("GET", "/images/get", query: names.map { ("names", $0) })
        try await check(r)
        return ByteStream(body: r.body)
    }

    /// What `import` applies to the new image.
    public struct ImportOptions: Sendable {
        /// The repository to tag the image with (nil: untagged).
        public var repository: String?
        /// The tag (with `repository`).
        public var tag: String?
        /// Dockerfile instructions applied to the config (`CMD ["sh"]`, `ENV A=b`).
        public var changes: [String]
        /// The history comment.
        public var message: String?
        /// `os/arch[/variant]`.
        public var platform: String?

        /// Options with nothing set.
        public init(repository: String? = nil, tag: String? = nil, changes: [String] = [], message: String? = nil, platform: String? = nil) {
            self.repository = repository; self.tag = tag; self.changes = changes; self.message = message; self.platform = platform
        }
    }

    /// `POST /images/create?fromSrc=-`: imports a root filesystem tarball streamed from `source`.
    /// The progress stream's `status` carries the new image ID.
    public func importImage(from source: @escaping ByteSource, options: ImportOptions) async throws -> JSONLineStream<JSONMessage> {
        var query = [("fromSrc", "-")]
        if let repo = options.repository { query.append(("repo", repo)) }
        if let tag = options.tag { query.append(("tag", tag)) }
        if let message = options.message { query.append(("message", message)) }
        if let platform = options.platform { query.append(("platform", platform)) }
        for c in options.changes { query.append(("changes", c)) }
        let r = try await send("POST", "/images/create", query: query,
                               headers: [("Content-Type", "application/x-tar")], body: Self.streamBody(source))
        try await check(r)
        return Self.messages(r)
    }
}
