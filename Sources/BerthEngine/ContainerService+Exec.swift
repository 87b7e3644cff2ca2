#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthRuntime
import BerthSystem

extension ContainerService {
    /// `POST /containers/{id}/exec`: records an exec instance (in memory, as Docker).
    public func execCreate(_ ref: String, settings: ExecSettings) throws -> String {
        guard let first = settings.cmd.first, !first.isEmpty else { throw BerthError.invalid("No exec command specified") }
        if let w = settings.workingDir.isEmpty ? nil : settings.workingDir, !w.hasPrefix("/") {
            throw BerthError.invalid("the working directory '\(w)' is invalid, it needs to be an absolute path")
        }
        let execID = Self.randomID()
        let c: Container = try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            let c = t.entries[id]!.container
            guard c.state.isRunning, t.entries[id]!.busy != "starting" else {
                throw BerthError.conflict("container \(c.id) is not running")
            }
            if c.state.status == .paused { throw BerthError.conflict("container \(c.id) is paused, unpause the container before exec") }
            try Self.rejectVM(c, "exec")
            t.execs[execID] = ExecInstance(id: execID, containerID: id, config: settings)
            t.entries[id]!.execIDs.append(execID)
            return c
        }
        publish(c, "exec_create: " + settings.cmd.joined(separator: " "), ["execID": execID])
        return execID
    }

    /// An exec instance.
    public func execInspect(_ id: String) throws -> ExecInstance {
        guard let e = table.withLock({ $0.execs[id] }) else { throw BerthError.notFound("No such exec instance: \(id)") }
        return e
    }

    /// `POST /exec/{id}/start`: spawns `berth-init exec` in the container's namespaces and
    /// cgroup. Detached, it returns once the process runs; otherwise `body` gets the process's
    /// stdio (as an attach connection) and the exit code is recorded when it ends.
    public func execStart(_ id: String, detach: Bool, body: @escaping @Sendable (AttachConnection?) async throws -> Void) async throws {
        let (exec, c): (ExecInstance, Container) = try table.withLock { t in
            guard let e = t.execs[id] else { throw BerthError.notFound("No such exec instance: \(id)") }
            if e.started { throw BerthError.conflict("Exec command \(id) has already run") }
            guard let entry = t.entries[e.containerID], entry.container.state.isRunning else {
                throw BerthError.conflict("container \(e.containerID) is not running")
            }
            t.execs[id]!.started = true
            t.execs[id]!.running = true
            return (e, entry.container)
        }
        let s = exec.config
        var args = [initBinary, "--root", runtimeRoot, "exec"]
        if s.tty { args.append("--tty") }
        if s.attachStdin && !detach { args.append("--keep-stdin") }
        if s.privileged { args.append("--privileged") }
        if !s.workingDir.isEmpty { args += ["--cwd", s.workingDir] }
        for e in s.env { args += ["--env", e] }
        do {
            let user = try UserLookup.resolve(s.user.isEmpty ? (c.config.User ?? "") : s.user, groupAdd: [], rootfs: rootfsPath(c.id))
            args += ["--user", "\(user.uid):\(user.gid)"]
        } catch {
            table.withLock { $0.execs[id]?.running = false; $0.execs[id]?.exitCode = 126 }
            throw error
        }
        let binary = initBinary
        publish(c, "exec_start: " + s.cmd.joined(separator: " "), ["execID": id])

        if detach {
            let argv = args + ["--detach", c.id] + s.cmd
            let status = try await BlockingWork.run { () -> ExitStatus? in
                let pid = try ProcessControl.spawn(path: binary, args: argv, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
                return try ProcessControl.wait(pid)?.status
            }
            table.withLock { $0.execs[id]?.running = false }
            if status?.code != 0 {
                throw BerthError(.internal, "exec failed to start in container \(c.id)")
            }
            return
        }

        let argv = args + ["--attach-fd", "3", c.id] + s.cmd
        let (ours, theirs) = try FD.socketPair(seqpacket: false)
        let pid: pid_t
        do {
            pid = try ProcessControl.spawn(path: binary, args: argv, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                                           pass: [(3, theirs)])
        } catch {
            FD.close(ours); FD.close(theirs)
            table.withLock { $0.execs[id]?.running = false }
            throw error
        }
        FD.close(theirs)
        table.withLock { $0.execs[id]?.pid = pid }
        let reaped = Task { try await BlockingWork.run { try ProcessControl.wait(pid)?.status } }
        var connectionCode: Int32?
        do {
            let channel = try await MonitorConnection.adopt(fd: ours)
            connectionCode = try await channel.run(tty: s.tty) { conn -> Int32? in
                execConnections.withLock { $0[id] = conn }
                defer { _ = execConnections.withLock { $0.removeValue(forKey: id) } }
                if let size = s.consoleSize { try? await conn.resize(rows: size.rows, cols: size.cols) }
                try await body(conn)
                return conn.exitCode
            }
        } catch {
            _ = try? await reaped.value
            table.withLock { $0.execs[id]?.running = false }
            throw error
        }
        let status = try? await reaped.value
        let code = Int(connectionCode ?? status?.code ?? 126)
        table.withLock { t in
            t.execs[id]?.running = false
            t.execs[id]?.exitCode = code
            t.execs[id]?.pid = 0
        }
        publish(c, "exec_die", ["execID": id, "exitCode": "\(code)"])
    }

    /// `POST /exec/{id}/resize`.
    public func execResize(_ id: String, height: Int, width: Int) async throws {
        let e = try execInspect(id)
        guard height >= 0, width >= 0, height <= 65535, width <= 65535 else {
            throw BerthError.invalid("invalid terminal size \(height)x\(width)")
        }
        guard e.config.tty else { return }
        guard let conn = execConnections.withLock({ $0[id] }) else {
            throw BerthError.conflict("exec \(id) is not running")
        }
        try await conn.resize(rows: UInt16(height), cols: UInt16(width))
    }
}
