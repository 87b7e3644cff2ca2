import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `POST /containers/{id}/pause`.
    public func pauseContainer(_ id: String) async throws {
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/pause")
    }

    /// `POST /containers/{id}/unpause`.
    public func unpauseContainer(_ id: String) async throws {
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/unpause")
    }

    /// `POST /containers/{id}/rename?name=…`.
    public func renameContainer(_ id: String, to name: String) async throws {
        _ = try await call("POST", "/containers/\(Self.pathComponent(id))/rename", query: [("name", name)])
    }

    /// `GET /containers/{id}/top[?ps_args=…]`: `Titles` and `Processes` as the server sent them.
    public func topContainer(_ id: String, psArgs: String?) async throws -> JSONValue {
        try await getValue("/containers/\(Self.pathComponent(id))/top", query: psArgs.map { [("ps_args", $0)] } ?? [])
    }

    /// `GET /containers/{id}/changes`: `[{Path, Kind}]` (Kind 0 modified, 1 added, 2 deleted).
    public func containerChanges(_ id: String) async throws -> JSONValue {
        try await getValue("/containers/\(Self.pathComponent(id))/changes")
    }

    /// `GET /containers/{id}/export`: the container's filesystem as a tar stream.
    public func exportContainer(_ id: String) async throws -> ByteStream {
        let r = try await send("GET", "/containers/\(Self.pathComponent(id))/export")
        try await check(r)
        return ByteStream(body: r.body)
    }

    /// `GET /containers/{id}/stats?stream=false`: one reading (with the previous CPU reading the
    /// daemon takes a second apart).
    public func containerStats(_ id: String) async throws -> JSONValue {
        try await getValue("/containers/\(Self.pathComponent(id))/stats", query: [("stream", "false")])
    }

    /// `POST /containers/{id}/update` with `json`, a body of HostConfig resource fields; the
    /// daemon's warnings.
    public func updateContainer(_ id: String, json bytes: [UInt8]) async throws -> [String] {
        let answer = try await call("POST", "/containers/\(Self.pathComponent(id))/update", body: .bytes(bytes),
                                    headers: [("Content-Type", "application/json")])
        let value = try? JSON.parse(answer)
        return value?.objectValue?["Warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// `POST /containers/prune[?filters=…]`: the removed ids and the bytes reclaimed.
    public func pruneContainers(filters: Filters = Filters()) async throws -> (ids: [String], reclaimed: Int64) {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        let answer = try await call("POST", "/containers/prune", query: query)
        let o = (try? JSON.parse(answer))?.objectValue ?? [:]
        let ids = o["ContainersDeleted"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let bytes = o["SpaceReclaimed"].flatMap { v -> Int64? in
            if case .number(let n) = v { return Int64(n) }
            return nil
        } ?? 0
        return (ids, bytes)
    }
}
