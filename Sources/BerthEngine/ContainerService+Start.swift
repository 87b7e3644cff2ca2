#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthOCI
import BerthRuntime
import BerthSystem

extension ContainerService {
    /// What `start` did.
    public enum StartOutcome: Sendable { case started, alreadyRunning }

    /// `POST /containers/{id}/start`, step by step:
    /// 1. mount the overlay rootfs (image layers + the container's upper dir);
    /// 2. write the OCI spec (users are looked up in the mounted rootfs);
    /// 3. spawn `berth-init create`: its monitor sets the container up, listens on the attach
    ///    socket and holds the init before exec;
    /// 4. connect the attaches that arrived before start (`docker run` attaches first), and a
    ///    watch connection whose end means the container exited;
    /// 5. release the init through the exec fifo.
    /// A failure undoes the mount and leaves the container created, with the error recorded.
    public func start(_ ref: String) async throws -> StartOutcome {
        let c: Container? = try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            let e = t.entries[id]!
            if e.container.state.isRunning { return nil }
            if let busy = e.busy { throw BerthError.conflict("container \(e.container.name) is \(busy)") }
            t.entries[id]!.busy = "starting"
            t.entries[id]!.exitPending = false
            return e.container
        }
        guard let c else { return .alreadyRunning }
        let id = c.id
        do {
            if Self.isVMIsolated(c.hostConfig) { try await launchVM(c) } else { try await launch(c) }
        } catch {
            let message = (error as? BerthError)?.message ?? "\(error)"
            let code = Self.startFailureCode(message)
            let (pending, waiters, autoRemove) = table.withLock { t -> ([PendingAttach], [Waiter], Bool) in
                guard t.entries[id] != nil else { return ([], [], false) }
                t.entries[id]!.busy = nil
                t.entries[id]!.container.state.error = message
                t.entries[id]!.container.state.exitCode = code
                let p = t.entries[id]!.pendingAttaches
                t.entries[id]!.pendingAttaches = []
                let w = t.entries[id]!.waiters.filter { $0.condition != .removed }
                t.entries[id]!.waiters.removeAll { $0.condition != .removed }
                return (p, w, t.entries[id]!.container.hostConfig.AutoRemove ?? false)
            }
            if let updated = update(id, { _ in }) { publish(updated, "die", ["exitCode": "\(code)"]) }
            for p in pending { p.continuation.resume(returning: nil) }
            for w in waiters { w.promise.fulfill(code) }
            if autoRemove { try? await remove(id, force: true, volumes: true) }
            throw error
        }
        return .started
    }

    /// Docker's exit codes for a container that could not start.
    static func startFailureCode(_ message: String) -> Int {
        if message.contains("permission denied") { return 126 }
        if message.contains("executable file not found") || message.contains("no such file or directory") { return 127 }
        return 128
    }

    private func launch(_ c: Container) async throws {
        let id = c.id
        let dir = directory(id)
        let rootfs = rootfsPath(id)
        var marks: [(String, WallClock)] = [("begin", WallClock.now())]
        try mountRootfs(c)
        var mounted = true
        defer {
            if mounted {
                releaseVolumes(c)
                try? Mounts.unmount(rootfs, detach: true)
            }
        }
        try mountVolumes(c, rootfs: rootfs)

        marks.append(("mount", WallClock.now()))
        var joinNetwork: String?
        if let mode = c.hostConfig.NetworkMode, mode.hasPrefix("container:") {
            let other = try get(String(mode.dropFirst("container:".count)))
            guard other.state.isRunning, other.state.pid > 0 else {
                throw BerthError.conflict("cannot join network namespace of a non running container: \(other.id)")
            }
            joinNetwork = "/proc/\(other.state.pid)/ns/net"
        }
        let c = try prepareNetwork(c)
        var wired = false
        defer { if !wired { unwireNetwork(c.id) } }
        _ = update(id) { $0.container.endpoints = c.endpoints; $0.container.ports = c.ports }
        let spec = try ContainerSpecBuilder(container: c, rootfs: rootfs, directory: dir, defaultSeccomp: defaultSeccomp,
                                            tiniPath: tiniPath, networkNamespace: joinNetwork).build()
        var enc = BerthJSONEncoder()
        enc.options = []
        try FileSystem.writeAtomically("\(dir)/config.json", try enc.encode(spec), mode: 0o600, durable: false)

        let runtime = StateStore(root: runtimeRoot)
        try? FileSystem.removeTree(runtime.directory(id))
        marks.append(("spec", WallClock.now()))
        var args = [initBinary, "--root", runtimeRoot, "create", "--bundle", dir, "--log-path", logPath(id),
                    "--attach-socket", attachSocket(id)]
        if c.config.OpenStdin ?? false { args.append("--keep-stdin") }
        if c.config.StdinOnce ?? false { args.append("--stdin-once") }
        args.append(id)
        let binary = initBinary
        let argv = args
        try await BlockingWork.run {
            let err = try FD.pipe()
            let pid: pid_t
            do {
                pid = try ProcessControl.spawn(path: binary, args: argv, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                               stdio: [2: err.write])
            } catch {
                FD.close(err.read); FD.close(err.write)
                throw error
            }
            FD.close(err.write)
            defer { FD.close(err.read) }
            let status = try ProcessControl.wait(pid)?.status
            if status?.code != 0 {
                var text = String(decoding: (try? FileSystem.readAll(fd: err.read, what: "berth-init stderr")) ?? [], as: UTF8.self)
                text = text.berthTrimmed()
                if text.hasPrefix("berth-init: ") { text.removeFirst("berth-init: ".count) }
                if text.isEmpty { text = "berth-init exited with \(status.map { "\($0)" } ?? "unknown status")" }
                throw BerthError.invalid("failed to create task for container: OCI runtime create failed: \(text): unknown")
            }
        }

        marks.append(("berth-init create", WallClock.now()))
        if c.endpoints?.isEmpty == false {
            do {
                guard let pid = try? runtime.record(id).pid else { throw BerthError(.internal, "no runtime record after create") }
                try wireNetwork(c, pid: pid)
            } catch {
                if let r = try? runtime.record(id), let fd = try? ProcessControl.openPidFD(r.pid) {
                    try? ProcessControl.signal(pidfd: fd, SIGKILL)
                    FD.close(fd)
                }
                throw BerthError(.system, "failed to set up container networking: \((error as? BerthError)?.message ?? "\(error)")")
            }
            marks.append(("network", WallClock.now()))
        }
        // The monitor is listening: hand the early attaches their connections.
        let pending = table.withLock { t -> [PendingAttach] in
            let p = t.entries[id]?.pendingAttaches ?? []
            t.entries[id]?.pendingAttaches = []
            return p
        }
        let socket = attachSocket(id)
        for p in pending {
            do {
                let ch = try await MonitorConnection.attach(path: socket, stdin: p.stdin, stdout: p.stdout, stderr: p.stderr)
                p.continuation.resume(returning: ch)
            } catch {
                p.continuation.resume(throwing: error)
            }
        }
        marks.append(("attach", WallClock.now()))
        let watching = await MonitorConnection.watch(path: socket) { [self] in self.monitorClosed(id) }
        do {
            let runtimeRoot = self.runtimeRoot
            try await BlockingWork.run { try Runtime.start(id: id, stateRoot: runtimeRoot) }
        } catch {
            // Never released: tear the half-made container down.
            if let r = try? runtime.record(id), let fd = try? ProcessControl.openPidFD(r.pid) {
                try? ProcessControl.signal(pidfd: fd, SIGKILL)
                FD.close(fd)
            }
            throw error
        }
        marks.append(("watch+release", WallClock.now()))
        if logger.logLevel <= .debug { logger.debug("start \(id.prefix(12)): \(Self.describe(marks))") }
        mounted = false
        wired = true
        let record = try? runtime.record(id)
        let (updated, exitPending) = markRunning(id, pid: record?.pid ?? 0, healthChecks: true)
        if let updated {
            publish(updated, "start")
            startHealthMonitor(id)
        }
        if exitPending || !watching { monitorClosed(id) }
    }

    /// Records a started container as running (its pid, the last run's exit fields cleared, the
    /// start time; a fresh health state when `healthChecks` and it has a check), persists it
    /// and ends its busy state. Returns it (nil if removed meanwhile) and whether its exit
    /// arrived while it was starting.
    func markRunning(_ id: String, pid: Int32, healthChecks: Bool) -> (Container?, Bool) {
        table.withLock { t -> (Container?, Bool) in
            guard t.entries[id] != nil else { return (nil, false) }
            var s = t.entries[id]!.container.state
            s.status = .running
            s.pid = pid
            s.exitCode = 0
            s.error = ""
            s.oomKilled = false
            s.stoppedByUser = false
            if healthChecks { s.health = Self.healthcheck(t.entries[id]!.container) == nil ? nil : HealthState() }
            s.startedAt = WallClock.now().rfc3339Nano
            t.entries[id]!.container.state = s
            t.entries[id]!.busy = nil
            save(t.entries[id]!.container)
            return (t.entries[id]!.container, t.entries[id]!.exitPending)
        }
    }

    /// `step=12.3ms …` from consecutive timing marks (the debug log of a start).
    static func describe(_ marks: [(String, WallClock)]) -> String {
        var text = ""
        for i in marks.indices.dropFirst() {
            let a = marks[i - 1].1, b = marks[i].1
            let ms = Double(b.seconds - a.seconds) * 1000 + Double(Int(b.nanoseconds) - Int(a.nanoseconds)) / 1e6
            text += "\(marks[i].0)=\(Int(ms * 10) / 10)ms "
        }
        return text
    }

    /// Mounts the image's layers and the container's upper dir at `rootfs`.
    func mountRootfs(_ c: Container) throws {
        let dir = directory(c.id)
        guard let record = images.store.record(c.image) else {
            throw BerthError.notFound("No such image: \(c.image)")
        }
        var lower: [String] = []
        if let top = record.layers.last?.chainID {
            lower = try images.store.snapshots.lowerDirs(top)
        }
        if lower.isEmpty {
            try FileSystem.makeDirectories("\(dir)/empty", mode: 0o755)
            lower = ["\(dir)/empty"]
        }
        let data = "lowerdir=\(lower.joined(separator: ":")),upperdir=\(dir)/diff,workdir=\(dir)/work"
        guard data.utf8.count < 4000 else {
            throw BerthError.unsupported("image \(c.imageName) has too many layers (\(lower.count)) for one overlay mount")
        }
        try FileSystem.makeDirectories("\(dir)/rootfs", mode: 0o755)
        do {
            try Mounts.mount(source: "overlay", target: "\(dir)/rootfs", type: "overlay", data: data)
        } catch let e as BerthError {
            throw BerthError(e.code, "mount container rootfs: \(e.message)")
        }
    }

    /// The watch connection ended: the monitor recorded the exit (or died). Handles it off the
    /// event loop.
    func monitorClosed(_ id: String) {
        Task { [self] in await self.handleExit(id) }
    }

    /// Records the exit, cleans up, wakes waiters, publishes `die`, removes an AutoRemove
    /// container.
    func handleExit(_ id: String) async {
        guard claimExit(id) else { return }
        let runtime = StateStore(root: runtimeRoot)
        let exit = runtime.exit(id)
        if exit == nil, let r = try? runtime.record(id), StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime) {
            // The watch connection broke but the container lives on: watch it again.
            logger.warning("lost the watch on a running container; reconnecting", metadata: ["id": "\(id)"])
            try? await Task.sleep(nanoseconds: 100_000_000)
            let ok = await MonitorConnection.watch(path: attachSocket(id)) { [self] in self.monitorClosed(id) }
            if ok { return }
            if runtime.exit(id) == nil, StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime) {
                logger.error("cannot watch a running container: its monitor does not answer", metadata: ["id": "\(id)"])
                return
            }
        }
        var exitRecord = exit ?? runtime.exit(id)
        if exitRecord == nil, let r = try? runtime.record(id) {
            // The init is gone but its monitor may still be finishing (reaping, removing the
            // cgroup) before it writes the exit record: wait for it rather than guess.
            var waited = 0
            while exitRecord == nil, StateStore.monitorAlive(r), waited < 300 {
                try? await Task.sleep(nanoseconds: 50_000_000)
                waited += 1
                exitRecord = runtime.exit(id)
            }
            if exitRecord == nil { exitRecord = runtime.exit(id) }
        }
        try? FileSystem.removeTree(runtime.directory(id))
        try? Mounts.unmount(rootfsPath(id), detach: true)
        if let c = try? get(id) { releaseVolumes(c) }
        unwireNetwork(id)
        if let exit = exitRecord {
            await recordExit(id, code: Int(exit.exitCode), oomKilled: exit.oomKilled, finishedAt: exit.finishedAt, error: exit.error)
        } else {
            await recordExit(id, code: 255, error: "the container's monitor exited without recording the exit")
        }
    }

    /// Whether an exit may be handled now: not while the container is still starting (the
    /// start finishes it, `exitPending`), nor twice.
    func claimExit(_ id: String) -> Bool {
        table.withLock { t -> Bool in
            guard let e = t.entries[id] else { return false }
            if e.busy == "starting" { t.entries[id]!.exitPending = true; return false }
            return e.container.state.isRunning
        }
    }

    /// Records a running container's exit (status, code, time, error; its execs end), saves it,
    /// publishes `oom`/`die`, wakes waiters, then removes an AutoRemove container or applies
    /// the restart policy. Shared by the runtime and the VM paths.
    func recordExit(_ id: String, code: Int, oomKilled: Bool = false, finishedAt: String? = nil, error: String?) async {
        let (updated, waiters, autoRemove) = table.withLock { t -> (Container?, [Waiter], Bool) in
            guard t.entries[id] != nil else { return (nil, [], false) }
            var s = t.entries[id]!.container.state
            guard s.isRunning else { return (nil, [], false) }
            s.status = .exited
            s.pid = 0
            s.exitCode = code
            s.oomKilled = oomKilled
            s.finishedAt = finishedAt ?? WallClock.now().rfc3339Nano
            if let error { s.error = error }
            t.entries[id]!.container.state = s
            let w = t.entries[id]!.waiters.filter { $0.condition != .removed }
            t.entries[id]!.waiters.removeAll { $0.condition != .removed }
            for e in t.entries[id]!.execIDs { t.execs[e]?.running = false }
            save(t.entries[id]!.container)
            return (t.entries[id]!.container, w, t.entries[id]!.container.hostConfig.AutoRemove ?? false)
        }
        guard let updated else { return }
        if updated.state.oomKilled { publish(updated, "oom") }
        publish(updated, "die", ["exitCode": "\(updated.state.exitCode)"])
        for w in waiters { w.promise.fulfill(updated.state.exitCode) }
        if autoRemove { try? await remove(id, force: true, volumes: true) } else { scheduleRestart(id) }
    }
}

