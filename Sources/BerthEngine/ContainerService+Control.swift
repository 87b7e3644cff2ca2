#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem
import Synchronization

extension ContainerService {
    /// Signals a running container's init (checked against its start time, so a recycled pid is
    /// never signalled).
    func signal(_ id: String, _ sig: Int32) throws {
        if let c = try? get(id), Self.isVMIsolated(c.hostConfig) { return try signalVM(id, sig) }
        let runtime = StateStore(root: runtimeRoot)
        guard let r = try? runtime.record(id), runtime.exit(id) == nil,
              StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime) else {
            throw BerthError.conflict("Container \(id) is not running")
        }
        let fd = try ProcessControl.openPidFD(r.pid)
        defer { FD.close(fd) }
        try ProcessControl.signal(pidfd: fd, sig)
        if sig == SIGKILL { thawForKill(id) }
    }

    /// `POST /containers/{id}/kill`.
    public func kill(_ ref: String, signal name: String?) throws {
        let sig: Int32
        if let name, !name.isEmpty {
            guard let n = Signals.number(name) else { throw BerthError.invalid("Invalid signal: \(name)") }
            sig = n
        } else {
            sig = SIGKILL
        }
        let c = try get(ref)
        if cancelRestart(c.id) { publish(c, "kill", ["signal": "\(sig)"]); return }
        guard c.state.isRunning else {
            throw BerthError.conflict("Cannot kill container: \(ref): Container \(c.id) is not running")
        }
        update(c.id) { $0.container.state.stoppedByUser = true }
        do { try signal(c.id, sig) } catch let e as BerthError where e.code == .conflict {
            throw BerthError.conflict("Cannot kill container: \(ref): Container \(c.id) is not running")
        }
        publish(c, "kill", ["signal": "\(sig)"])
    }

    /// `POST /containers/{id}/stop`: the stop signal, `timeout` seconds (-1 = forever), then
    /// SIGKILL. Returns false if the container was not running (HTTP 304).
    public func stop(_ ref: String, timeout: Int?, signal name: String?) async throws -> Bool {
        let c = try get(ref)
        if cancelRestart(c.id) { publish(c, "stop"); return true }
        guard c.state.isRunning else { return false }
        let sigName = name.flatMap { $0.isEmpty ? nil : $0 } ?? c.config.StopSignal.flatMap { $0.isEmpty ? nil : $0 } ?? "SIGTERM"
        guard let sig = Signals.number(sigName) else { throw BerthError.invalid("Invalid signal: \(sigName)") }
        let seconds = timeout ?? c.config.StopTimeout ?? 10
        update(c.id) { $0.container.state.stoppedByUser = true }
        if (try? signal(c.id, sig)) != nil { publish(c, "kill", ["signal": "\(sig)"]) }
        if seconds != 0 {
            let exited = await waitForExit(c.id, seconds: seconds < 0 ? nil : Double(seconds))
            if exited { publish(c, "stop"); return true }
        }
        if (try? signal(c.id, SIGKILL)) != nil { publish(c, "kill", ["signal": "\(SIGKILL)"]) }
        guard await waitForExit(c.id, seconds: 30) else {
            throw BerthError(.internal, "container \(c.id) did not exit 30 s after SIGKILL")
        }
        publish(c, "stop")
        return true
    }

    /// Waits until the container is not running (true) or `seconds` passed (false).
    func waitForExit(_ id: String, seconds: Double?) async -> Bool {
        guard let promise = try? registerWait(id, condition: .notRunning) else { return true }
        guard let seconds else { _ = await promise.value; return true }
        return await withCheckedContinuation { (k: CheckedContinuation<Bool, Never>) in
            let once = OnceFlag()
            let finish: @Sendable (Bool) -> Void = { v in if once.take() { k.resume(returning: v) } }
            // The loser lingers until the exit or the timer; both end.
            Task { _ = await promise.value; finish(true) }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                finish(false)
            }
        }
    }

    /// `POST /containers/{id}/wait`: the exit code once `condition` holds.
    public func wait(_ ref: String, condition: WaitCondition) async throws -> Int {
        try await registerWait(ref, condition: condition).value
    }

    /// Registers a wait now; its promise is fulfilled when `condition` holds.
    public func registerWait(_ ref: String, condition: WaitCondition) throws -> ExitPromise {
        try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            let e = t.entries[id]!
            let stopped = !e.container.state.isRunning && e.busy != "starting"
            if condition == .notRunning && stopped { return ExitPromise(code: e.container.state.exitCode) }
            let p = ExitPromise()
            t.entries[id]!.waiters.append(Waiter(condition: condition, promise: p))
            return p
        }
    }

    /// `DELETE /containers/{id}`.
    public func remove(_ ref: String, force: Bool, volumes: Bool) async throws {
        let c = try get(ref)
        if c.state.isRunning || table.withLock({ $0.entries[c.id]?.busy == "starting" }) {
            guard force else {
                throw BerthError.conflict("cannot remove container \"/\(c.name)\": container is running: stop the container before removing or force remove")
            }
            // Kill it and keep its restart policy from bringing it back; a start in flight
            // (a restart by policy, say) is let finish and then killed.
            _ = update(c.id) { $0.container.state.stoppedByUser = true }
            for _ in 0..<600 {
                _ = cancelRestart(c.id)
                let (running, starting) = table.withLock { t -> (Bool, Bool) in
                    guard let e = t.entries[c.id] else { return (false, false) }
                    return (e.container.state.isRunning, e.busy == "starting")
                }
                if !running && !starting { break }
                if running && !starting {
                    // A start by policy in the meantime cleared the flag: set it again, so the
                    // exit this kill causes schedules no restart.
                    _ = update(c.id) { $0.container.state.stoppedByUser = true }
                    try? signal(c.id, SIGKILL)
                    _ = await waitForExit(c.id, seconds: 10)
                } else {
                    try? await Task.sleep(nanoseconds: 50_000_000)
                }
            }
        }
        _ = cancelRestart(c.id)
        let (entry, proceed): (Entry?, Bool) = try table.withLock { t in
            guard let e = t.entries[c.id] else { return (nil, false) }
            if e.busy == "removing" {
                if force { return (nil, false) }
                throw BerthError.conflict("removal of container \(c.id) is already in progress")
            }
            if e.container.state.isRunning { throw BerthError.conflict("container \(c.id) is still running") }
            t.entries[c.id]!.busy = "removing"
            t.entries[c.id]!.container.state.status = .removing
            return (t.entries[c.id], true)
        }
        guard proceed, let entry else {
            // Being removed already (AutoRemove after the kill): wait for it to be gone.
            if table.withLock({ $0.entries[c.id] != nil }) { _ = try? await wait(c.id, condition: .removed) }
            return
        }
        save(entry.container)
        do {
            try removeFiles(c.id)
        } catch {
            update(c.id) { e in
                e.busy = nil
                e.container.state.status = .dead
                e.container.state.error = "removal failed: \((error as? BerthError)?.message ?? "\(error)")"
            }
            throw error
        }
        let (waiters, pending) = table.withLock { t -> ([Waiter], [PendingAttach]) in
            let w = t.entries[c.id]?.waiters ?? []
            let p = t.entries[c.id]?.pendingAttaches ?? []
            for e in t.entries[c.id]?.execIDs ?? [] { t.execs[e] = nil }
            t.entries[c.id] = nil
            if t.names[c.name] == c.id { t.names[c.name] = nil }
            return (w, p)
        }
        for p in pending { p.continuation.resume(returning: nil) }
        if volumes { removeAnonymousVolumes(entry.container) }
        publish(entry.container, "destroy")
        for w in waiters { w.promise.fulfill(entry.container.state.exitCode) }
    }

    /// `POST /containers/{id}/attach`: runs `body` over a connection to the container's stdio.
    /// Before start (as `docker run` and `docker start -a` do) it waits for the start. `body`
    /// gets nil when the container never started.
    public func attach(_ ref: String, stdin: Bool, stdout: Bool, stderr: Bool,
                       registered: (@Sendable () -> Void)? = nil,
                       body: @escaping @Sendable (AttachConnection?) async throws -> Void) async throws {
        let c = try get(ref)
        let channel: MonitorConnection.Channel?
        if c.state.isRunning && table.withLock({ $0.entries[c.id]?.busy != "starting" }) && Self.isVMIsolated(c.hostConfig) {
            channel = try await attachVM(c.id, stdin: stdin, stdout: stdout, stderr: stderr)
        } else if c.state.isRunning && table.withLock({ $0.entries[c.id]?.busy != "starting" }) {
            channel = try await MonitorConnection.attach(path: attachSocket(c.id), stdin: stdin, stdout: stdout, stderr: stderr)
        } else {
            channel = try await withCheckedThrowingContinuation { (k: CheckedContinuation<MonitorConnection.Channel?, any Error>) in
                let outcome: Result<Void, any Error>? = table.withLock { t in
                    guard let e = t.entries[c.id] else { return .failure(BerthError.notFound("No such container: \(ref)")) }
                    // A stopped container is attached at its next start (`docker start -a`).
                    if e.busy == "removing" || e.container.state.status == .removing || e.container.state.status == .dead {
                        return .failure(BerthError.conflict("container \(c.id) is being removed"))
                    }
                    if e.container.state.isRunning && e.busy != "starting" {
                        return .failure(BerthError.conflict("container \(c.id) is starting; attach again"))
                    }
                    t.nextToken += 1
                    t.entries[c.id]!.pendingAttaches.append(PendingAttach(token: t.nextToken, stdin: stdin, stdout: stdout,
                                                                          stderr: stderr, continuation: k))
                    return nil
                }
                if case .failure(let e) = outcome { k.resume(throwing: e) } else { registered?() }
            }
        }
        publish(c, "attach")
        guard let channel else { try await body(nil); return }
        try await channel.run(tty: c.tty) { conn in try await body(conn) }
    }

    /// Starts a created container with its stdout and stderr going to `output` as they come,
    /// and returns its exit code (a build's RUN step).
    public func startStreaming(_ id: String, output: @escaping @Sendable ([UInt8]) async -> Void) async throws -> Int {
        let exit = try registerWait(id, condition: .nextExit)
        let (attached, signal) = AsyncStream.makeStream(of: Void.self)
        let reader = Task {
            try await attach(id, stdin: false, stdout: true, stderr: true, registered: { signal.yield(); signal.finish() }) { conn in
                guard let conn else { return }
                while let chunk = try await conn.read() { await output(chunk.bytes) }
            }
        }
        for await _ in attached { break }
        do { _ = try await start(id) } catch {
            reader.cancel()
            throw error
        }
        try? await reader.value
        return try await exit.value
    }

    /// `POST /containers/{id}/resize`.
    public func resize(_ ref: String, height: Int, width: Int) async throws {
        let c = try get(ref)
        guard c.state.isRunning else { throw BerthError.conflict("Container \(c.id) is not running") }
        guard height >= 0, width >= 0, height <= 65535, width <= 65535 else {
            throw BerthError.invalid("invalid terminal size \(height)x\(width)")
        }
        guard c.tty else { return }
        if Self.isVMIsolated(c.hostConfig) {
            try resizeVM(c.id, rows: UInt16(height), columns: UInt16(width))
            publish(c, "resize", ["height": "\(height)", "width": "\(width)"])
            return
        }
        let ch = try await MonitorConnection.attach(path: attachSocket(c.id), stdin: false, stdout: false, stderr: false)
        try await ch.run(tty: true) { conn in try await conn.resize(rows: UInt16(height), cols: UInt16(width)) }
        publish(c, "resize", ["height": "\(height)", "width": "\(width)"])
    }
}

/// True for the first caller of `take()` only.
final class OnceFlag: Sendable {
    private let done = Mutex(false)
    func take() -> Bool { done.withLock { d in defer { d = true }; return !d } }
}
