#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem

extension ContainerService {
    /// The container's cgroup (the path the spec builder gave it).
    func cgroup(_ c: Container) throws -> Cgroup {
        var parent = c.hostConfig.CgroupParent ?? ""
        if parent.isEmpty { parent = "/berth" } else if !parent.hasPrefix("/") { parent = "/" + parent }
        return try Cgroup(layout: try CgroupLayout.current(), path: "\(parent)/\(c.id)")
    }

    // MARK: pause

    /// `POST /containers/{id}/pause`: freezes every process of the container (cgroup freezer,
    /// v1 or v2).
    public func pause(_ ref: String) async throws {
        let c = try get(ref)
        guard c.state.isRunning else { throw BerthError.conflict("Container \(c.id) is not running") }
        guard c.state.status != .paused else { throw BerthError.conflict("Container \(c.id) is already paused") }
        try Self.rejectVM(c, "pause")
        let cg = try cgroup(c)
        try await BlockingWork.run { try cg.freeze() }
        let updated = update(c.id) { e in
            if e.container.state.status == .running { e.container.state.status = .paused }
        }
        if let updated { publish(updated, "pause") }
    }

    /// `POST /containers/{id}/unpause`.
    public func unpause(_ ref: String) async throws {
        let c = try get(ref)
        guard c.state.status == .paused else { throw BerthError.conflict("Container \(c.id) is not paused") }
        let cg = try cgroup(c)
        try await BlockingWork.run { try cg.thaw() }
        let updated = update(c.id) { e in
            if e.container.state.status == .paused { e.container.state.status = .running }
        }
        if let updated { publish(updated, "unpause") }
    }

    /// A paused container that is being killed is thawed so the signal lands (SIGKILL is only
    /// acted on by a running task), as Docker does for stop and kill.
    func thawForKill(_ id: String) {
        guard let c = try? get(id), c.state.status == .paused, let cg = try? cgroup(c) else { return }
        try? cg.thaw()
        _ = update(id) { e in
            if e.container.state.status == .paused { e.container.state.status = .running }
        }
    }

    // MARK: rename

    /// `POST /containers/{id}/rename`.
    public func rename(_ ref: String, to requested: String) throws {
        var name = requested
        if name.hasPrefix("/") { name.removeFirst() }
        guard !name.isEmpty else { throw BerthError.invalid("Neither old nor new names may be empty") }
        try Self.validate(name: name)
        let (old, updated): (String, Container) = try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            let old = t.entries[id]!.container.name
            if old == name {
                throw BerthError.invalid("Renaming a container with the same name as its current name")
            }
            if let other = t.names[name] {
                throw BerthError.conflict("Conflict. The container name \"/\(name)\" is already in use by container \"\(other)\". You have to remove (or rename) that container to be able to reuse that name.")
            }
            t.names[old] = nil
            t.names[name] = id
            t.entries[id]!.container.name = name
            save(t.entries[id]!.container)
            return (old, t.entries[id]!.container)
        }
        publish(updated, "rename", ["oldName": "/" + old])
    }

    // MARK: top

    /// `GET /containers/{id}/top`: the host's `ps` (default `-ef`) limited to the container's
    /// processes, as Docker does. Returns the titles and one row per process.
    public func top(_ ref: String, psArgs: String?) async throws -> (titles: [String], processes: [[String]]) {
        let c = try get(ref)
        guard c.state.isRunning else { throw BerthError.conflict("Container \(c.id) is not running") }
        try Self.rejectVM(c, "top")
        let args = (psArgs ?? "").isEmpty ? ["-ef"] : (psArgs ?? "").split(separator: " ").map(String.init)
        // ps runs without a shell: the arguments are passed as they are.
        let pids = Set(try cgroup(c).processes())
        let text = try await BlockingWork.run { () throws -> String in
            let out = try FD.pipe(), err = try FD.pipe()
            let pid: pid_t
            do {
                pid = try ProcessControl.spawn(path: Self.psPath, args: ["ps"] + args,
                                               env: ["PATH=/usr/bin:/bin", "LC_ALL=C"], stdio: [1: out.write, 2: err.write])
            } catch {
                FD.close(out.read); FD.close(out.write); FD.close(err.read); FD.close(err.write)
                throw error
            }
            FD.close(out.write); FD.close(err.write)
            defer { FD.close(out.read); FD.close(err.read) }
            let bytes = (try? FileSystem.readAll(fd: out.read, what: "ps output")) ?? []
            let errText = String(decoding: (try? FileSystem.readAll(fd: err.read, what: "ps errors")) ?? [], as: UTF8.self)
            let status = try ProcessControl.wait(pid)?.status
            if status?.code != 0 {
                throw BerthError.invalid("ps: \(errText.berthTrimmed()): exit status \(status?.code ?? -1)")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return try Self.parsePS(text, pids: pids)
    }

    static var psPath: String { ["/usr/bin/ps", "/bin/ps"].first { FileSystem.exists($0) } ?? "/bin/ps" }

    /// Splits `ps` output into titles and rows (the last column keeps its spaces), keeping
    /// rows whose PID is one of `pids`.
    static func parsePS(_ text: String, pids: Set<Int32>) throws -> (titles: [String], processes: [[String]]) {
        let lines = text.split(separator: "\n").map(String.init)
        guard let header = lines.first else { throw BerthError.invalid("ps printed nothing") }
        let titles = header.split(separator: " ").map(String.init)
        guard let pidColumn = titles.firstIndex(of: "PID") else {
            throw BerthError.invalid("Couldn't find PID field in ps output")
        }
        var rows: [[String]] = []
        for line in lines.dropFirst() {
            var fields = line.split(separator: " ", maxSplits: titles.count - 1, omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= pidColumn + 1, let p = Int32(fields[pidColumn]), pids.contains(p) else { continue }
            if fields.count == titles.count { fields[fields.count - 1] = fields[fields.count - 1].berthTrimmed() }
            rows.append(fields)
        }
        return (titles, rows)
    }
}

extension ContainerService {
    // MARK: update

    /// `POST /containers/{id}/update`: new resource limits and restart policy. The limits are
    /// checked as at create, stored, and written to a running container's cgroup at once.
    public func updateResources(_ ref: String, _ u: HostConfig) async throws -> [String] {
        let c = try get(ref)
        var h = c.hostConfig
        if (u.NanoCpus ?? 0) > 0 && ((h.CpuQuota ?? 0) > 0 || (h.CpuPeriod ?? 0) > 0) && (u.CpuQuota ?? 0) == 0 {
            throw BerthError.invalid("Conflicting options: Nano CPUs cannot be updated as CPU Period/Quota has already been set")
        }
        if ((u.CpuQuota ?? 0) > 0 || (u.CpuPeriod ?? 0) > 0) && (h.NanoCpus ?? 0) > 0 && (u.NanoCpus ?? 0) == 0 {
            throw BerthError.invalid("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
        }
        if let m = u.Memory, m != 0, (u.MemorySwap ?? 0) == 0, let s = h.MemorySwap, s > 0, m > s {
            throw BerthError.invalid("Cannot update container \(c.id): Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
        }
        // Zero (or empty) means "unchanged", as the docker CLI sends every field.
        func set<T: BinaryInteger>(_ k: WritableKeyPath<HostConfig, T?>) { if let v = u[keyPath: k], v != 0 { h[keyPath: k] = v } }
        set(\.Memory); set(\.MemorySwap); set(\.MemoryReservation); set(\.NanoCpus); set(\.CpuShares)
        set(\.CpuPeriod); set(\.CpuQuota); set(\.PidsLimit)
        if let v = u.CpusetCpus, !v.isEmpty { h.CpusetCpus = v }
        if let v = u.CpusetMems, !v.isEmpty { h.CpusetMems = v }
        if let p = u.RestartPolicy, (p.Name ?? "") != "" || p.MaximumRetryCount != nil {
            if h.AutoRemove ?? false, p.Name != "no" {
                throw BerthError.invalid("Restart policy cannot be updated because AutoRemove is enabled for the container")
            }
            h.RestartPolicy = p
        }
        var warnings: [String] = []
        try Self.validate(host: &h, warnings: &warnings)
        var updated = c
        updated.hostConfig = h
        if c.state.isRunning {
            var r = ContainerSpecBuilder(container: updated, rootfs: rootfsPath(c.id), directory: directory(c.id),
                                         defaultSeccomp: nil, tiniPath: nil).resources(privileged: h.Privileged ?? false)
            r.devices = nil
            let cg = try cgroup(c), resources = r
            do { try await BlockingWork.run { try cg.update(resources: resources) } } catch let e as BerthError {
                throw BerthError(e.code, "Cannot update container \(c.id): \(e.message)", errno: e.errno)
            }
        }
        let saved = update(c.id) { $0.container.hostConfig = h }
        if let saved { publish(saved, "update") }
        return warnings
    }
}
