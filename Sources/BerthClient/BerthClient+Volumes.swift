import BerthAPI
import BerthCore
import BerthHTTP

extension BerthClient {
    /// `GET /volumes[?filters=…]`: the volumes (filters `dangling`, `name`, `label`, `driver`).
    public func listVolumes(filters: Filters = Filters()) async throws -> VolumeListResponse {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        let bytes = try await call("GET", "/volumes", query: query)
        let value: JSONValue
        do { value = try JSON.parse(bytes) } catch { throw BerthClientError.badResponse("/volumes: \(error)") }
        // Docker writes `"Volumes": null` for none and `"Labels": null` for a volume without labels.
        var object = value.objectValue ?? [:]
        let volumes = (object["Volumes"]?.arrayValue ?? []).map(Self.normalizedVolume)
        object.updateValue(.array(volumes), forKey: "Volumes")
        do { return try BerthJSONDecoder().decode(VolumeListResponse.self, from: .object(object)) } catch {
            throw BerthClientError.badResponse("/volumes: \(error)")
        }
    }

    /// `GET /volumes/{name}`, typed.
    public func inspectVolume(_ name: String) async throws -> Volume {
        let path = "/volumes/\(Self.pathComponent(name))"
        let value = try await getValue(path)
        do { return try BerthJSONDecoder().decode(Volume.self, from: Self.normalizedVolume(value)) } catch {
            throw BerthClientError.badResponse("\(path): \(error)")
        }
    }

    /// `GET /volumes/{name}`, as the raw JSON the server sent (for `volume inspect`).
    public func inspectVolumeValue(_ name: String) async throws -> JSONValue {
        try await getValue("/volumes/\(Self.pathComponent(name))")
    }

    /// `POST /volumes/create`: the new volume, or the existing one of that name (an empty or
    /// nil name makes the daemon generate one).
    public func createVolume(_ request: VolumeCreateRequest) async throws -> Volume {
        let body: [UInt8]
        do { body = try BerthJSONEncoder().encode(request) } catch {
            throw BerthClientError.badResponse("encoding the volume create request: \(error)")
        }
        let bytes = try await call("POST", "/volumes/create", body: .bytes(body), headers: [("Content-Type", "application/json")])
        let value: JSONValue
        do { value = try JSON.parse(bytes) } catch { throw BerthClientError.badResponse("/volumes/create: \(error)") }
        do { return try BerthJSONDecoder().decode(Volume.self, from: Self.normalizedVolume(value)) } catch {
            throw BerthClientError.badResponse("/volumes/create: \(error)")
        }
    }

    /// `DELETE /volumes/{name}[?force=1]`; with `force` a missing volume is not an error.
    public func removeVolume(_ name: String, force: Bool = false) async throws {
        _ = try await call("DELETE", "/volumes/\(Self.pathComponent(name))", query: force ? [("force", "1")] : [])
    }

    /// `POST /volumes/prune[?filters=…]`: unused anonymous volumes (every unused one with the
    /// filter `all=true`); filters `label`, `label!`.
    public func pruneVolumes(filters: Filters = Filters()) async throws -> VolumePruneResponse {
        var query: [(String, String)] = []
        if !filters.values.isEmpty { query.append(("filters", filters.json)) }
        return try await get(VolumePruneResponse.self, "/volumes/prune", query: query, method: "POST")
    }

    /// A volume object with Docker's `null`s for empty maps replaced by what ``Volume`` expects
    /// (`Labels` is not optional there).
    static func normalizedVolume(_ v: JSONValue) -> JSONValue {
        guard var obj = v.objectValue else { return v }
        if obj["Labels"] == nil || obj["Labels"] == .null { obj.updateValue(.object([:]), forKey: "Labels") }
        if obj["Scope"] == nil || obj["Scope"] == .null { obj.updateValue(.string("local"), forKey: "Scope") }
        return .object(obj)
    }
}
