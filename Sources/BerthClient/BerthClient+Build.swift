import BerthAPI
import BerthCore

extension BerthClient {
    /// `POST /build`'s parameters (the classic builder's).
    public struct BuildOptions: Sendable {
        public var dockerfile = "Dockerfile"
        public var tags: [String] = []
        public var buildArgs: [String: String] = [:]
        public var labels: [String: String] = [:]
        public var noCache = false
        public var target: String?
        public var network: String?
        public var quiet = false
        public var remove = true
        public var forceRemove = false
        public var extraHosts: [String] = []
        public var platform: String?
        public init() {}
    }

    /// `POST /build` with the context tar from `context`: the JSON message stream (`stream`
    /// lines, `aux` with the image ID, `errorDetail` on failure).
    public func build(context: @escaping ByteSource, options o: BuildOptions) async throws -> JSONLineStream<JSONMessage> {
        var query: [(String, String)] = [("dockerfile", o.dockerfile)]
        for t in o.tags { query.append(("t", t)) }
        if !o.buildArgs.isEmpty {
            query.append(("buildargs", String(decoding: JSON.serialize(.object(JSONObject(o.buildArgs.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))), as: UTF8.self)))
        }
        if !o.labels.isEmpty {
            query.append(("labels", String(decoding: JSON.serialize(.object(JSONObject(o.labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))), as: UTF8.self)))
        }
        if o.noCache { query.append(("nocache", "1")) }
        if let t = o.target { query.append(("target", t)) }
        if let n = o.network { query.append(("networkmode", n)) }
        if o.quiet { query.append(("q", "1")) }
        query.append(("rm", o.remove ? "1" : "0"))
        if o.forceRemove { query.append(("forcerm", "1")) }
        if !o.extraHosts.isEmpty { query.append(("extrahosts", o.extraHosts.joined(separator: ","))) }
        if let p = o.platform { query.append(("platform", p)) }
        let r = try await send("POST", "/build", query: query,
                               headers: [("Content-Type", "application/x-tar")], body: Self.streamBody(context))
        try await check(r)
        return Self.messages(r)
    }
}

extension BerthClient {
    /// `POST /commit`: a container's changes as a new image; returns its ID.
    public func commit(container: String, repository: String?, tag: String?, comment: String?, author: String?,
                       changes: [String], pause: Bool) async throws -> String {
        var query: [(String, String)] = [("container", container), ("pause", pause ? "1" : "0")]
        if let repository { query.append(("repo", repository)) }
        if let tag { query.append(("tag", tag)) }
        if let comment { query.append(("comment", comment)) }
        if let author { query.append(("author", author)) }
        for c in changes { query.append(("changes", c)) }
        return try await get(IDResponse.self, "/commit", query: query, method: "POST").Id
    }
}
