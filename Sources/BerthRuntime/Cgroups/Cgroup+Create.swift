#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

extension Cgroup {
    /// The v2 controllers enabled for containers on unified hosts (those the root offers), so
    /// limits and stats files exist even for a container without limits.
    static let unifiedControllers = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"]

    /// Makes the cgroup in every hierarchy and applies `resources`.
    ///
    /// Makes the directory (and missing parents) in each used v1 hierarchy (`cpuset` ones get
    /// their parent's cpus/mems, as v1 refuses tasks without), in the v2 tree on hybrid hosts,
    /// and on unified hosts enables the controllers in every ancestor's `cgroup.subtree_control`.
    /// Then writes the limits (see `apply`). Invalid resources fail before anything is made; a
    /// failed write fails with the file and value named, and every directory made is removed.
    public mutating func create(resources: RuntimeSpec.Resources?) throws {
        try Cgroup.validate(resources, layout: layout)
        var made: [String] = []
        do {
            let wanted = wantedUnifiedControllers(resources)
            for d in directories {
                let first = made.count
                try makePath(d.path, under: d.hierarchy.mountPoint, made: &made)
                let new = Array(made[first...])
                if d.hierarchy.controllers.contains("cpuset") && !d.hierarchy.isUnified {
                    try populateCpuset(new, mount: d.hierarchy.mountPoint)
                }
                if d.hierarchy.isUnified && !wanted.isEmpty {
                    try enableControllers(wanted, along: d.path, mount: d.hierarchy.mountPoint, made: new)
                }
            }
            if let resources { try apply(resources, fresh: Set(made)) }
        } catch {
            for dir in made.reversed() { _ = FileSystem.removeDirectory(dir) }
            throw error
        }
        created = made
    }

    /// Applies new limits to an existing cgroup (`docker update`): the same writes as `create`,
    /// ordered for changes (v1 memory and memory+swap, cpu period and quota). v2 device rules
    /// cannot be replaced (the eBPF program is attached once, at create).
    public func update(resources: RuntimeSpec.Resources) throws {
        try Cgroup.validate(resources, layout: layout)
        if resources.devices?.isEmpty == false, directory(for: "devices") == nil {
            throw BerthError(.unsupported, "cgroup: device rules cannot be changed on cgroup v2 after create")
        }
        try apply(resources, fresh: [])
    }

    /// The v2 controllers to enable along the path: on unified hosts every standard one the root
    /// offers; on hybrid hosts only those the resources need that v1 does not carry.
    func wantedUnifiedControllers(_ r: RuntimeSpec.Resources?) -> [String] {
        guard let v2 = layout.unified else { return [] }
        switch layout.mode {
        case .legacy: return []
        case .unified: return Cgroup.unifiedControllers.filter { v2.controllers.contains($0) }
        case .hybrid:
            guard let r else { return [] }
            return Cgroup.requestedControllers(r).filter { layout.usesUnified(for: $0) }
        }
    }

    /// The controllers a resources value writes to.
    static func requestedControllers(_ r: RuntimeSpec.Resources) -> [String] {
        var out: [String] = []
        if let m = r.memory, m.limit != nil || m.reservation != nil || m.swap != nil || m.swappiness != nil
            || m.disableOOMKiller == true { out.append("memory") }
        if let c = r.cpu {
            if c.shares != nil || c.quota != nil || c.period != nil || c.burst != nil || c.idle != nil
                || c.realtimePeriod != nil || c.realtimeRuntime != nil { out.append("cpu") }
            if c.cpus?.isEmpty == false || c.mems?.isEmpty == false { out.append("cpuset") }
        }
        if r.pids != nil { out.append("pids") }
        if r.blockIO != nil { out.append("io") }
        if r.hugepageLimits?.isEmpty == false { out.append("hugetlb") }
        for key in (r.unified ?? [:]).keys {
            if let c = key.split(separator: ".").first.map(String.init), c != "cgroup", !out.contains(c) { out.append(c) }
        }
        return out
    }

    // MARK: mkdir

    /// mkdir -p of `dir` below `mount`, appending what it made (parents first) to `made`. A
    /// parent removed meanwhile by another container's `destroy` (ENOENT) is made again.
    func makePath(_ dir: String, under mount: String, made: inout [String]) throws {
        do {
            for _ in 0..<5 {
                do {
                    if try FileSystem.makeDirectory(dir) { made.append(dir) }
                    return
                } catch let e as BerthError where e.errno == ENOENT {
                    // Make the missing ancestors, top first, then try the leaf again.
                    var missing: [String] = []
                    var p = FileSystem.parentDirectory(of: dir)
                    while p.count > mount.count && !FileSystem.isDirectory(p) {
                        missing.append(p)
                        p = FileSystem.parentDirectory(of: p)
                    }
                    guard !missing.isEmpty else { throw e }
                    for m in missing.reversed() {
                        do {
                            if try FileSystem.makeDirectory(m) { made.append(m) }
                        } catch let e as BerthError where e.errno == ENOENT {
                            break  // raced with a removal above: start over
                        }
                    }
                }
            }
            throw BerthError(.system, "mkdir \(dir): parent directories keep disappearing")
        } catch let e as BerthError {
            throw e.context("cgroup")
        }
    }

    /// v1 cpuset: gives each directory made the cpus and mems of its parent (a new cpuset is
    /// empty and refuses tasks). Only the closest pre-existing parent is read.
    func populateCpuset(_ new: [String], mount: String) throws {
        guard let first = new.first else { return }
        let (cpus, mems) = try ensureCpuset(FileSystem.parentDirectory(of: first), mount: mount)
        for dir in new {
            try write(dir, "cpuset.cpus", cpus)
            try write(dir, "cpuset.mems", mems)
        }
    }

    /// The cpus and mems of an existing cpuset directory, filling them from its parent first if
    /// they are empty (a parent someone made and never populated).
    func ensureCpuset(_ dir: String, mount: String) throws -> (cpus: String, mems: String) {
        let cpus = try read(dir, "cpuset.cpus"), mems = try read(dir, "cpuset.mems")
        if (!cpus.isEmpty && !mems.isEmpty) || dir.count <= mount.count { return (cpus, mems) }
        let parent = try ensureCpuset(FileSystem.parentDirectory(of: dir), mount: mount)
        if cpus.isEmpty { try write(dir, "cpuset.cpus", parent.cpus) }
        if mems.isEmpty { try write(dir, "cpuset.mems", parent.mems) }
        return (cpus.isEmpty ? parent.cpus : cpus, mems.isEmpty ? parent.mems : mems)
    }

    /// v2: makes `wanted` available to the leaf: enabled in the subtree_control of the closest
    /// pre-existing ancestor (and above it as far as needed), and of every ancestor made now.
    func enableControllers(_ wanted: [String], along leaf: String, mount: String, made new: [String]) throws {
        // The closest ancestor that existed: above the first directory made (or the leaf's parent).
        try enable(wanted, in: FileSystem.parentDirectory(of: new.first ?? leaf), mount: mount)
        let line = wanted.map { "+" + $0 }.joined(separator: " ")
        for dir in new where dir != leaf {
            try write(dir, "cgroup.subtree_control", line)
        }
    }

    /// Enables controllers in a pre-existing directory's subtree_control: one read when they are
    /// already on; otherwise the parent is fixed first when it does not offer them.
    func enable(_ wanted: [String], in dir: String, mount: String) throws {
        let enabled = try read(dir, "cgroup.subtree_control").split(separator: " ").map(String.init)
        let missing = wanted.filter { !enabled.contains($0) }
        if missing.isEmpty { return }
        if dir.count > mount.count {
            let available = try read(dir, "cgroup.controllers").split(separator: " ").map(String.init)
            let absent = missing.filter { !available.contains($0) }
            if !absent.isEmpty { try enable(absent, in: FileSystem.parentDirectory(of: dir), mount: mount) }
        }
        try write(dir, "cgroup.subtree_control", missing.map { "+" + $0 }.joined(separator: " "))
    }

    // MARK: destroy

    /// Removes the cgroup: its directory in every hierarchy (with any child cgroups the
    /// container made), then the parents `create` made, if now empty. Retries briefly on EBUSY
    /// while the last processes exit (call `killAll` first). Parents that existed before, or
    /// that other containers still use, stay.
    public func destroy() throws {
        var failures: [String] = []
        for d in directories {
            let e = Cgroup.removeTree(d.path)
            if e != 0 { failures.append("\(d.path): \(errnoDescription(e))") }
        }
        let leaves = Set(directories.map(\.path))
        for dir in created.reversed() where !leaves.contains(dir) {
            _ = FileSystem.removeDirectory(dir)  // EBUSY: still in use by another container
        }
        if !failures.isEmpty {
            throw BerthError(.system, "cgroup: remove \(failures.joined(separator: ", "))")
        }
    }

    /// rmdir of a cgroup directory and its child cgroups, retrying on EBUSY for up to ~1 s.
    /// Returns 0 or the errno of the last failure.
    static func removeTree(_ dir: String) -> Int32 {
        var delay: UInt32 = 100
        var e: Int32 = 0
        for _ in 0..<120 {
            e = FileSystem.removeDirectory(dir)
            if e == 0 || e == ENOENT { return 0 }
            guard e == EBUSY || e == ENOTEMPTY else { return e }
            if let kids = try? FileSystem.listDirectories(dir), !kids.isEmpty {
                for k in kids { _ = removeTree(dir + "/" + k) }
                continue
            }
            usleep(delay)
            delay = min(delay * 2, 10_000)
        }
        return e
    }
}
