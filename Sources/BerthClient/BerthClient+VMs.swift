import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    static func vmPath(_ name: String, _ rest: String = "") -> String {
        "/berth/vms/\(pathComponent(name))" + rest
    }

    /// `POST /berth/vms/create?name=`: the new VM's id and name.
    public func createVM(name: String?, _ request: VMCreateRequest) async throws -> VMCreateResponse {
        let body: [UInt8]
        do { body = try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the vm create request: \(error)")
        }
        let bytes = try await call("POST", "/berth/vms/create", query: name.map { [("name", $0)] } ?? [],
                                   body: .bytes(body), headers: [("Content-Type", "application/json")])
        return try Self.decode(VMCreateResponse.self, bytes, "/berth/vms/create")
    }

    /// `GET /berth/vms/json`: every VM.
    public func listVMs() async throws -> [VMInspectResponse] {
        try await get([VMInspectResponse].self, "/berth/vms/json")
    }

    /// `GET /berth/vms/{name}/json`.
    public func inspectVM(_ name: String) async throws -> VMInspectResponse {
        try await get(VMInspectResponse.self, Self.vmPath(name, "/json"))
    }

    /// `GET /berth/vms/{name}/json`, as the raw JSON the server sent.
    public func inspectVMValue(_ name: String) async throws -> JSONValue {
        try await getValue(Self.vmPath(name, "/json"))
    }

    /// `POST /berth/vms/{name}/start`.
    public func startVM(_ name: String) async throws { _ = try await call("POST", Self.vmPath(name, "/start")) }

    /// `POST /berth/vms/{name}/stop[?t=]`: ACPI power-off, killed after `t` seconds (default 10).
    public func stopVM(_ name: String, timeout: Double? = nil) async throws {
        _ = try await call("POST", Self.vmPath(name, "/stop"), query: timeout.map { [("t", "\($0)")] } ?? [])
    }

    /// `POST /berth/vms/{name}/kill`.
    public func killVM(_ name: String) async throws { _ = try await call("POST", Self.vmPath(name, "/kill")) }

    /// `POST /berth/vms/{name}/pause`.
    public func pauseVM(_ name: String) async throws { _ = try await call("POST", Self.vmPath(name, "/pause")) }

    /// `POST /berth/vms/{name}/resume`.
    public func resumeVM(_ name: String) async throws { _ = try await call("POST", Self.vmPath(name, "/resume")) }

    /// `DELETE /berth/vms/{name}[?force=1]`.
    public func removeVM(_ name: String, force: Bool = false) async throws {
        _ = try await call("DELETE", Self.vmPath(name), query: force ? [("force", "1")] : [])
    }

    /// `GET /berth/vms/{name}/stats`.
    public func vmStats(_ name: String) async throws -> VMStatsResponse {
        try await get(VMStatsResponse.self, Self.vmPath(name, "/stats"))
    }

    /// `GET /berth/vms/{name}/logs`: everything the guest printed on its console so far.
    public func vmConsoleLog(_ name: String) async throws -> [UInt8] {
        try await call("GET", Self.vmPath(name, "/logs"))
    }

    /// `POST /berth/vms/{name}/console`: the serial console, raw bytes both ways.
    public func attachVMConsole(_ name: String, detachKeys: String? = nil, logs: Bool = false) async throws -> AttachedStream {
        var query: [(String, String)] = []
        if let detachKeys { query.append(("detachKeys", detachKeys)) }
        if logs { query.append(("logs", "1")) }
        return try await hijack(Self.vmPath(name, "/console"), query: query, headers: [], body: [])
    }

    /// `POST /berth/vms/{name}/snapshots?name=`: a live snapshot.
    public func createVMSnapshot(_ name: String, snapshot: String) async throws {
        _ = try await call("POST", Self.vmPath(name, "/snapshots"), query: [("name", snapshot)])
    }

    /// `GET /berth/vms/{name}/snapshots`.
    public func vmSnapshots(_ name: String) async throws -> [VMSnapshotResponse] {
        try await get([VMSnapshotResponse].self, Self.vmPath(name, "/snapshots"))
    }

    /// `POST /berth/vms/{name}/snapshots/{snap}/restore`.
    public func restoreVMSnapshot(_ name: String, snapshot: String) async throws {
        _ = try await call("POST", Self.vmPath(name, "/snapshots/\(Self.pathComponent(snapshot))/restore"))
    }

    /// `DELETE /berth/vms/{name}/snapshots/{snap}`.
    public func removeVMSnapshot(_ name: String, snapshot: String) async throws {
        _ = try await call("DELETE", Self.vmPath(name, "/snapshots/\(Self.pathComponent(snapshot))"))
    }

    /// `GET /berth/vms/{name}/export`: the stopped VM as one tar.
    public func exportVM(_ name: String) async throws -> ByteStream {
        let r = try await send("GET", Self.vmPath(name, "/export"))
        try await check(r)
        return ByteStream(body: r.body)
    }

    /// `POST /berth/vms/import?name=&networks=`: creates a VM from an export streamed from `source`.
    public func importVM(from source: @escaping ByteSource, name: String?, networks: [String] = []) async throws -> VMCreateResponse {
        var query: [(String, String)] = []
        if let name { query.append(("name", name)) }
        for n in networks { query.append(("networks", n)) }
        let bytes = try await call("POST", "/berth/vms/import", query: query, body: Self.streamBody(source),
                                   headers: [("Content-Type", "application/x-tar")])
        return try Self.decode(VMCreateResponse.self, bytes, "/berth/vms/import")
    }
}

extension BerthClient {
    /// `POST /berth/vms/incoming`: asks this daemon to take a VM by live migration (see
    /// ``VMIncomingRequest``); answers the URI the source's QEMU sends to.
    public func prepareIncomingVM(_ request: VMIncomingRequest) async throws -> VMIncomingResponse {
        let body: [UInt8]
        do { body = try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the incoming vm request: \(error)")
        }
        let bytes = try await call("POST", "/berth/vms/incoming", body: .bytes(body), headers: [("Content-Type", "application/json")])
        return try Self.decode(VMIncomingResponse.self, bytes, "/berth/vms/incoming")
    }

    /// `POST /berth/vms/{name}/migrate?to=`: moves a running VM to the daemon at `to`
    /// (`unix:///other/berth.sock`); returns once it runs there and is gone here.
    public func migrateVM(_ name: String, to destination: String) async throws -> VMMigrateResponse {
        let bytes = try await call("POST", Self.vmPath(name, "/migrate"), query: [("to", destination)])
        return try Self.decode(VMMigrateResponse.self, bytes, "/berth/vms/migrate")
    }
}
