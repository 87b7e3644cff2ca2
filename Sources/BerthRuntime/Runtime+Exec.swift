#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// Options of `exec`.
public struct ExecOptions: Sendable {
    public var id: String
    public var stateRoot: String
    /// The program and its arguments (overrides `processFile`'s args when non-empty).
    public var args: [String] = []
    public var tty = false
    public var cwd: String?
    /// Extra `K=V` entries, added to the container's environment.
    public var env: [String] = []
    /// `uid[:gid]`.
    public var user: String?
    /// A JSON file with a complete OCI `process` object.
    public var processFile: String?
    public var detach = false
    public var pidFile: String?

    public init(id: String, stateRoot: String) { self.id = id; self.stateRoot = stateRoot }
}

extension Runtime {
    /// `exec`: runs a new process inside a running container — its namespaces, cgroup,
    /// capabilities, seccomp filter and user unless overridden — and returns its exit code.
    public static func exec(_ o: ExecOptions) throws -> Int32 {
        let store = StateStore(root: o.stateRoot)
        let record = try store.record(o.id)
        guard store.exit(o.id) == nil, StateStore.isAlive(pid: record.pid, startTime: record.pidStartTime) else {
            throw BerthError.conflict("container \(o.id) is not running")
        }
        let bundle = try RuntimeBundle.load(record.bundle)
        let process = try execProcess(o, base: bundle.spec.process)
        let seccomp = try bundle.spec.linux?.seccomp.map { try SeccompCompiler.compile($0) }

        // The namespaces of the init that differ from ours, user first and mount last.
        let order: [NamespaceKind] = [.user, .ipc, .uts, .network, .cgroup, .time, .pid, .mount]
        var joins: [(NamespaceKind, Int32)] = []
        for kind in order {
            let theirs = "/proc/\(record.pid)/ns/\(kind.procName)"
            var a = stat(), b = stat()
            guard stat(theirs, &a) == 0 else { continue }
            if stat("/proc/self/ns/\(kind.procName)", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev { continue }
            joins.append((kind, try FD.open(theirs, O_RDONLY)))
        }
        defer { for (_, fd) in joins { FD.close(fd) } }
        // setns(pid) only affects children: enter it here, before forking.
        if let pidNS = joins.first(where: { $0.0 == .pid }) {
            try Namespaces.join(fd: pidNS.1, .pid, what: "of container \(o.id)")
        }
        let signalFD = try takeSignals()
        let (parentSync, childSync) = try FD.socketPair()
        let pid = try ProcessControl.fork()
        if pid == 0 {
            FD.close(parentSync)
            do {
                guard try SyncMessage.receive(childSync) == .go else { ProcessControl.exitNow(1) }
                for (kind, fd) in joins where kind != .pid {
                    try Namespaces.join(fd: fd, kind, what: "of container \(o.id)")
                }
                if process.terminal ?? false {
                    let (master, _) = try Terminal.openMaster(FileSystem.exists("/dev/pts/ptmx") ? "/dev/pts/ptmx" : "/dev/ptmx")
                    let slave = try Terminal.openSlave(master: master)
                    try SyncMessage.send(childSync, .pty(master))
                    FD.close(master)
                    try Terminal.becomeControllingTerminal(slave)
                    for t: Int32 in 0...2 { try FD.dup2(slave, t) }
                    if slave > 2 { FD.close(slave) }
                } else {
                    ProcessControl.newSession()
                }
                let setup = ProcessSetup(process: process, seccomp: seccomp)
                let (path, env) = try setup.prepare()
                ProcessControl.markCloseOnExec(from: 3)
                try SyncMessage.send(childSync, .ready)
                ProcessControl.resetSignalsForExec()
                try setup.exec(path: path, env: env)
            } catch {
                try? SyncMessage.send(childSync, .error((error as? BerthError)?.message ?? "\(error)"))
                ProcessControl.exitNow(127)
            }
        }
        FD.close(childSync)
        let pidfd = try ProcessControl.openPidFD(pid)
        defer { FD.close(pidfd) }
        do {
            let cgroup = try Cgroup(layout: try CgroupLayout.current(), path: record.cgroupPath)
            try cgroup.addProcess(pid: pid)
            try SyncMessage.send(parentSync, .go)
            var master: Int32 = -1
            loop: while true {
                switch try SyncMessage.receive(parentSync) {
                case .ready: break loop
                case .pty(let fd): master = fd
                case .error(let text): throw BerthError(.invalidArgument, text)
                case .closed, .go, .placed: throw BerthError(.internal, "exec process exited during set-up")
                }
            }
            if let pf = o.pidFile { try FileSystem.writeAtomically(pf, Array(String(pid).utf8)) }
            if o.detach { FD.close(parentSync); return 0 }
            var outputs: [Monitor.Output] = []
            if master >= 0 {
                try FD.setNonBlocking(master)
                outputs.append(Monitor.Output(fd: master, stream: "stdout", copyTo: 1))
            }
            let monitor = Monitor(initPid: pid, pidfd: pidfd, syncFD: parentSync, outputs: outputs, usesPidNamespace: false)
            monitor.terminalMaster = master
            if master >= 0 { monitor.stdinForward = (0, master) }
            var saved: [UInt8]?
            if master >= 0 && Terminal.isTerminal(0) {
                saved = Terminal.makeRaw(0)
                if let size = Terminal.size(0) { try? Terminal.setSize(master, rows: size.rows, cols: size.cols) }
            }
            let (status, _) = monitor.run(signalFD: signalFD)
            if let saved { Terminal.restore(0, saved) }
            return status.code
        } catch {
            try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
            _ = try? ProcessControl.wait(pid)
            throw error
        }
    }

    /// The process to exec: the container's, with the options' overrides.
    static func execProcess(_ o: ExecOptions, base: RuntimeSpec.Process?) throws -> RuntimeSpec.Process {
        var p: RuntimeSpec.Process
        if let file = o.processFile {
            p = try BerthJSONDecoder().decode(RuntimeSpec.Process.self, from: FileSystem.read(file))
        } else {
            guard var b = base else { throw BerthError.invalid("container has no process to base exec on") }
            b.terminal = o.tty
            b.consoleSize = nil
            b.oomScoreAdj = nil
            p = b
        }
        if !o.args.isEmpty { p.args = o.args }
        guard let first = p.args?.first, !first.isEmpty else { throw BerthError.invalid("exec needs a command") }
        if o.tty { p.terminal = true }
        if let cwd = o.cwd { p.cwd = cwd }
        if !o.env.isEmpty { p.env = (p.env ?? []) + o.env }
        if let u = o.user {
            let parts = u.split(separator: ":", maxSplits: 1)
            guard let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
                throw BerthError.invalid("invalid --user \"\(u)\": want UID[:GID]")
            }
            p.user.uid = uid
            p.user.gid = parts.count > 1 ? UInt32(parts[1])! : uid
            p.user.additionalGids = nil
        }
        return p
    }
}
