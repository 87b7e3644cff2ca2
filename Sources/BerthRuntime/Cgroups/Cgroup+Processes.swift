#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Processes in the cgroup: joining, listing, signalling, freezing.
extension Cgroup {
    /// Moves a process into the cgroup: its pid written to `cgroup.procs` in every hierarchy
    /// (each v1 hierarchy and the v2 tree on hybrid hosts; the one directory on v2).
    public func addProcess(pid: Int32) throws {
        let value = String(pid)
        for d in directories { try write(d.path, "cgroup.procs", value) }
    }

    /// The directory whose `cgroup.procs` lists the container's processes: the v2 one when
    /// there is one (hybrid hosts track every container there), else a v1 one.
    var trackingDirectory: String? {
        unifiedDirectory ?? directory(for: "pids") ?? directory(for: "freezer") ?? directories.first?.path
    }

    /// The pids in the cgroup and (with `recursive`) in the child cgroups the container made.
    public func processes(recursive: Bool = true) throws -> [Int32] {
        guard let dir = trackingDirectory else { return [] }
        var out: [Int32] = []
        func collect(_ dir: String) throws {
            let text: String
            do {
                text = String(decoding: try FileSystem.read(dir + "/cgroup.procs"), as: UTF8.self)
            } catch let e as BerthError where e.errno == ENOENT {
                return  // removed meanwhile
            }
            out += text.split(separator: "\n").compactMap { Int32($0) }
            if recursive {
                for k in (try? FileSystem.listDirectories(dir)) ?? [] { try collect(dir + "/" + k) }
            }
        }
        try collect(dir)
        return out
    }

    /// Signals every process in the cgroup. For SIGKILL it waits until the cgroup is empty
    /// (about 1 s at most): v2's `cgroup.kill` when the kernel has it (hybrid hosts included),
    /// else rounds of reading `cgroup.procs` and killing what is listed, so children forked
    /// meanwhile die too. Other signals are sent once to each process listed.
    public func killAll(signal: Int32 = SIGKILL) throws {
        if signal == SIGKILL, let v2 = unifiedDirectory, FileSystem.exists(v2 + "/cgroup.kill") {
            try write(v2, "cgroup.kill", "1")
        }
        var delay: UInt32 = 100
        for _ in 0..<120 {
            let pids = try processes()
            if pids.isEmpty { return }
            for p in pids { try? ProcessControl.signal(p, signal) }  // ESRCH: gone already
            if signal != SIGKILL { return }
            usleep(delay)
            delay = min(delay * 2, 10_000)
        }
        throw BerthError(.system, "cgroup: processes still running in \(path) after SIGKILL")
    }

    // MARK: freezer

    /// Freezes every process (for `pause`): v1 `freezer.state` = FROZEN, waiting until the
    /// kernel reports FROZEN; v2 `cgroup.freeze` = 1, waiting for `frozen 1` in cgroup.events.
    /// Gives up after about 2 s, thawing again.
    public func freeze() throws {
        let (dir, v1) = try freezerDirectory()
        let file = v1 ? "freezer.state" : "cgroup.freeze"
        let on = v1 ? "FROZEN" : "1"
        try write(dir, file, on)
        var delay: UInt32 = 50
        for round in 1...250 {
            if try isFrozen(dir, v1: v1) { return }
            usleep(delay)
            delay = min(delay * 2, 10_000)
            // A task in a vfork or an uninterruptible sleep can stall v1's FREEZING: ask again.
            if v1 && round % 25 == 0 { try write(dir, file, on) }
        }
        try? write(dir, file, v1 ? "THAWED" : "0")
        throw BerthError(.conflict, "cgroup: could not freeze \(dir): processes did not stop")
    }

    /// Thaws the cgroup (for `unpause`).
    public func thaw() throws {
        let (dir, v1) = try freezerDirectory()
        try write(dir, v1 ? "freezer.state" : "cgroup.freeze", v1 ? "THAWED" : "0")
    }

    /// Whether the cgroup is frozen.
    public func isFrozen() throws -> Bool {
        let (dir, v1) = try freezerDirectory()
        return try isFrozen(dir, v1: v1)
    }

    private func isFrozen(_ dir: String, v1: Bool) throws -> Bool {
        if v1 { return try read(dir, "freezer.state") == "FROZEN" }
        return try readKeyed(dir, "cgroup.events")["frozen"] == 1
    }

    /// The v1 freezer hierarchy, else the v2 directory (whose freezer is always there).
    private func freezerDirectory() throws -> (String, Bool) {
        if layout.mode != .unified, let dir = directory(for: "freezer") { return (dir, true) }
        if let dir = unifiedDirectory { return (dir, false) }
        throw BerthError(.unsupported, "cgroup: no freezer (v1 freezer not mounted, no cgroup v2)")
    }
}
