import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `GET /networks[?filters=…]`, as the raw JSON objects the server sent.
    public func listNetworks(filters: Filters = Filters()) async throws -> [JSONValue] {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        let bytes = try await call("GET", "/networks", query: query)
        do { return try JSON.parse(bytes).arrayValue ?? [] } catch { throw BerthClientError.badResponse("/networks: \(error)") }
    }

    /// `GET /networks/{id}`, as the raw JSON (for `network inspect`).
    public func inspectNetworkValue(_ ref: String) async throws -> JSONValue {
        try await getValue("/networks/\(Self.pathComponent(ref))")
    }

    /// `POST /networks/create`: the new network's id (and the daemon's warning, if any).
    public func createNetwork(_ request: NetworkCreateRequest) async throws -> NetworkCreateResponse {
        let answer = try await postJSON("/networks/create", request, what: "network create")
        do { return try BerthJSONDecoder().decode(NetworkCreateResponse.self, from: answer) } catch {
            throw BerthClientError.badResponse("/networks/create: \(error)")
        }
    }

    /// `DELETE /networks/{id}`.
    public func removeNetwork(_ ref: String) async throws {
        _ = try await call("DELETE", "/networks/\(Self.pathComponent(ref))")
    }

    /// `POST /networks/{id}/connect`.
    public func connectNetwork(_ ref: String, _ request: NetworkConnectRequest) async throws {
        try await postJSON("/networks/\(Self.pathComponent(ref))/connect", request, what: "network connect")
    }

    /// `POST /networks/{id}/disconnect`.
    public func disconnectNetwork(_ ref: String, _ request: NetworkDisconnectRequest) async throws {
        try await postJSON("/networks/\(Self.pathComponent(ref))/disconnect", request, what: "network disconnect")
    }

    /// `POST /networks/prune[?filters=…]`: unused user-defined networks (filters `until`,
    /// `label`, `label!`).
    public func pruneNetworks(filters: Filters = Filters()) async throws -> NetworkPruneResponse {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        return try await get(NetworkPruneResponse.self, "/networks/prune", query: query, method: "POST")
    }

    /// POSTs `body` as JSON and returns the answer's bytes.
    @discardableResult
    private func postJSON<B: Encodable>(_ path: String, _ body: B, what: String) async throws -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try BerthJSONEncoder().encode(body) } catch {
            throw BerthClientError.badResponse("encoding the \(what) request: \(error)")
        }
        return try await call("POST", path, body: .bytes(bytes), headers: [("Content-Type", "application/json")])
    }
}
