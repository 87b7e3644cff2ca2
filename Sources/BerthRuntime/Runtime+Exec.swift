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
    /// An inherited, connected stream socket that is the exec's attach client (see
    /// `AttachProtocol`), as if it had said hello with stdout, stderr and (with `keepStdin`)
    /// stdin. The process's stdout/stderr are then pipes (or the pty) read by this exec's
    /// monitor, not berth-init's own stdio; the client gets the exit frame at the end, and
    /// `exec` returns the same code. Not with `detach`.
    public var attachFD: Int32?
    /// With `attachFD`: give the process a stdin pipe (or the terminal's input) fed by the
    /// client, closed when the client ends its stdin.
    public var keepStdin = false
    /// Every capability (all that berth-init's own bounding set still holds) in the bounding,
    /// effective and permitted sets, as `docker exec --privileged`; inheritable and ambient stay
    /// the container's (Docker stopped filling inheritable, CVE-2022-24769). The container's
    /// seccomp filter and no_new_privs still apply.
    public var privileged = false

    public init(id: String, stateRoot: String) { self.id = id; self.stateRoot = stateRoot }
}

extension Runtime {
    /// `exec`: runs a new process inside a running container — its namespaces, cgroup,
    /// capabilities, seccomp filter and user unless overridden — and returns its exit code.
    ///
    /// With `attachFD`, a failure to start the process is reported to the client too (a stderr
    /// frame with the message, then an exit frame) and returned as 127 (program not found) or
    /// 126 instead of thrown.
    public static func exec(_ o: ExecOptions) throws -> Int32 {
        guard let client = o.attachFD else { return try execProcess(o) }
        if o.detach { throw BerthError.invalid("exec: --attach-fd and --detach cannot be combined") }
        do {
            return try execProcess(o)
        } catch {
            let e = error as? BerthError
            let text = e?.message ?? "\(error)"
            let message = Array("berth-init: \(text)\n".utf8)
            // The shell's codes, as Docker reports them. The child's errors arrive as text, so
            // runc's wording ("executable file not found", ENOENT) is what tells them apart.
            let notFound = e?.code == .notFound || text.contains("not found") || text.contains("No such file or directory") || text.contains("no such file or directory")
            let code: Int32 = notFound ? 127 : 126
            try? FD.setNonBlocking(client, false)
            try? FD.writeAll(client, AttachProtocol.frame(kind: AttachProtocol.Kind.stderr, payload: message))
            try? FD.writeAll(client, AttachProtocol.exit(code: code))
            FD.close(client)
            try? FD.writeAll(2, message)
            return code
        }
    }

    private static func execProcess(_ o: ExecOptions) throws -> Int32 {
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
        // With an attach client and no terminal: pipes for the process's stdio, read (and fed)
        // by this monitor.
        let attach = o.attachFD != nil
        let terminal = process.terminal ?? false
        var childStdio: (Int32, Int32, Int32)?
        var outputs: [Monitor.Output] = []
        var stdinTarget: Int32 = -1
        var closeInParent: [Int32] = []
        defer { for fd in closeInParent { FD.close(fd) } }
        if attach && !terminal {
            let out = try FD.pipe(), err = try FD.pipe()
            var stdinRead: Int32
            if o.keepStdin {
                let inp = try FD.pipe()
                try FD.setNonBlocking(inp.write)
                stdinRead = inp.read
                stdinTarget = inp.write
            } else {
                stdinRead = try FD.open("/dev/null", O_RDONLY)
            }
            childStdio = (stdinRead, out.write, err.write)
            closeInParent = [stdinRead, out.write, err.write]
            outputs = [Monitor.Output(fd: out.read, stream: "stdout", copyTo: -1),
                       Monitor.Output(fd: err.read, stream: "stderr", copyTo: -1)]
        }
        let (parentSync, childSync) = try FD.socketPair()
        let pid = try ProcessControl.fork()
        if pid == 0 {
            FD.close(parentSync)
            do {
                guard try SyncMessage.receive(childSync) == .go else { ProcessControl.exitNow(1) }
                if let (i, out, err) = childStdio {
                    try FD.dup2(i, 0)
                    try FD.dup2(out, 1)
                    try FD.dup2(err, 2)
                }
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
        for fd in closeInParent { FD.close(fd) }
        closeInParent = []
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
            if master >= 0 {
                try FD.setNonBlocking(master)
                outputs.append(Monitor.Output(fd: master, stream: "stdout", copyTo: attach ? -1 : 1))
            }
            let monitor = Monitor(initPid: pid, pidfd: pidfd, syncFD: parentSync, outputs: outputs, usesPidNamespace: false)
            outputs = []
            monitor.terminalMaster = master
            var saved: [UInt8]?
            if let client = o.attachFD {
                var hello: AttachProtocol.HelloFlags = [.stdout, .stderr]
                if o.keepStdin { hello.insert(.stdin) }
                monitor.addClient(fd: client, hello: hello)
                monitor.stdinTarget = master >= 0 ? (o.keepStdin ? master : -1) : stdinTarget
                monitor.stdinOnce = true
                stdinTarget = -1
            } else {
                if master >= 0 { monitor.stdinForward = (0, master) }
                if master >= 0 && Terminal.isTerminal(0) {
                    saved = Terminal.makeRaw(0)
                    if let size = Terminal.size(0) { try? Terminal.setSize(master, rows: size.rows, cols: size.cols) }
                }
            }
            let (status, _) = monitor.run(signalFD: signalFD)
            if let saved { Terminal.restore(0, saved) }
            monitor.closeAttach(exitCode: status.code)
            return status.code
        } catch {
            try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
            _ = try? ProcessControl.wait(pid)
            for out in outputs { FD.close(out.fd) }
            FD.close(stdinTarget)
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
        if o.privileged {
            // Every capability we can grant: the host may have dropped some from our bounding set.
            let all = Capabilities.names(in: Capabilities.boundingSet())
            p.capabilities = RuntimeSpec.Capabilities(bounding: all, effective: all, inheritable: p.capabilities?.inheritable,
                                                      permitted: all, ambient: p.capabilities?.ambient)
        }
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
