import BerthAPI
import BerthCore

extension BerthClient {
    /// `GET /version`, as the raw JSON (so fields other servers add survive).
    public func version() async throws -> JSONValue { try await getValue("/version") }

    /// `GET /info`, as the raw JSON.
    public func info() async throws -> JSONValue { try await getValue("/info") }

    /// `GET /system/df`.
    public func diskUsage() async throws -> SystemDataUsage { try await get(SystemDataUsage.self, "/system/df") }

    /// `GET /events`: past events from `since`, then live ones until `until` (or until the
    /// consumer stops iterating). Times are what the API accepts: Unix seconds (with an
    /// optional fraction), RFC 3339, or a Go duration meaning "that long ago".
    /// Each element is the event as the server sent it.
    public func events(since: String? = nil, until: String? = nil, filters: Filters = Filters()) async throws -> JSONLineStream<JSONValue> {
        var query: [(String, String)] = []
        if let since { query.append(("since", since)) }
        if let until { query.append(("until", until)) }
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        let r = try await send("GET", "/events", query: query)
        try await check(r)
        return JSONLineStream(body: r.body) { line in
            do { return try JSON.parse(line) } catch { throw BerthClientError.badResponse("event stream: \(error)") }
        }
    }
}
