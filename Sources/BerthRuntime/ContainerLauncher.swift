#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// Options of `create` / `run`.
public struct LaunchOptions: Sendable {
    public var id: String
    public var bundle: String
    /// The state root (one directory per container).
    public var stateRoot: String
    /// A unix socket to receive the pty master (`process.terminal` with `create`), as runc.
    public var consoleSocket: String?
    /// A file to write the init's pid to.
    public var pidFile: String?
    /// Write the container's output to this json-file log (the monitor holds the pipes).
    public var logPath: String?
    /// Keep stdin open to the container: with `attachSocket`, a pipe fed by attach clients; else
    /// with `logPath`, a pipe fed from the caller's stdin.
    public var keepStdin: Bool = false
    /// A unix socket path the monitor listens on for attach clients (see `AttachProtocol`). It
    /// is listening before `create` returns. With it, the container's output goes to the log (if
    /// any) and to clients, and its stdin (`keepStdin` pipe, or the terminal) comes from clients;
    /// the monitor's own stdio is not used for the container.
    public var attachSocket: String?
    /// Close the container's stdin pipe when the first attach client that sends stdin ends it
    /// (Docker's `StdinOnce`).
    public var stdinOnce: Bool = false

    public init(id: String, bundle: String, stateRoot: String) {
        self.id = id
        self.bundle = bundle
        self.stateRoot = stateRoot
    }
}

/// The parent side of container creation: everything between loading the bundle and the
/// monitor loop. One place, in order; the child side is `ContainerInit`.
struct ContainerLauncher {
    enum Mode { case create, run }

    let options: LaunchOptions
    let bundle: RuntimeBundle
    let store: StateStore
    let mode: Mode

    /// What a successful launch hands to the monitor.
    struct Launched {
        var record: ContainerRecord
        var pidfd: Int32
        var syncFD: Int32
        var outputs: [Monitor.Output]
        var stdinForward: (from: Int32, to: Int32)?
        var terminalMaster: Int32
        var cgroup: Cgroup?
        var log: JSONFileLog?
        /// The attach socket, listening (non-blocking), or -1.
        var listener: Int32 = -1
        /// Where attach clients' stdin goes (stdin pipe or pty master), or -1.
        var stdinTarget: Int32 = -1
    }

    /// Creates the container: cgroup, clone into namespaces, id maps, sync until the init is
    /// ready. On failure everything made so far is undone and the error names the problem.
    func launch() throws -> Launched {
        let id = options.id
        let spec = bundle.spec
        var cleanup: [() -> Void] = []
        func undo() { for c in cleanup.reversed() { c() } }

        do {
            // Seccomp is compiled before anything is made: a bad profile fails fast.
            let seccomp = try spec.linux?.seccomp.map { try SeccompCompiler.compile($0) }

            // 1. cgroup: made and limited before the init exists.
            let cgroupPath = spec.linux?.cgroupsPath.flatMap { $0.isEmpty ? nil : $0 } ?? "/berth/\(id)"
            let layout = try CgroupLayout.current()
            var cgroup = try Cgroup(layout: layout, path: cgroupPath)
            try cgroup.create(resources: spec.linux?.resources)
            cleanup.append { try? cgroup.killAll(); try? cgroup.destroy() }

            // 2. The exec fifo that holds a created container until `start`.
            var fifo: String?
            if mode == .create {
                let path = store.execFifo(id)
                if mkfifo(path, 0o622) != 0 { throw BerthError.sys("mkfifo \(path)") }
                fifo = path
            }

            // 3. stdio: inherited, or pipes the monitor reads into the log and to attach clients.
            let terminal = spec.process?.terminal ?? false
            let attach = options.attachSocket != nil
            var childStdio: (Int32, Int32, Int32)?
            var outputs: [Monitor.Output] = []
            var stdinForward: (from: Int32, to: Int32)?
            var stdinTarget: Int32 = -1
            var closeInParent: [Int32] = []
            var log: JSONFileLog?
            if let logPath = options.logPath {
                log = try JSONFileLog(path: logPath)
            }
            if !terminal && (log != nil || attach) {
                let out = try FD.pipe(), err = try FD.pipe()
                var stdinRead: Int32
                if options.keepStdin {
                    let inp = try FD.pipe()
                    stdinRead = inp.read
                    if attach {
                        try FD.setNonBlocking(inp.write)
                        stdinTarget = inp.write
                    } else {
                        stdinForward = (0, inp.write)
                    }
                    closeInParent.append(inp.read)
                } else {
                    stdinRead = try FD.open("/dev/null", O_RDONLY)
                    closeInParent.append(stdinRead)
                }
                childStdio = (stdinRead, out.write, err.write)
                closeInParent += [out.write, err.write]
                outputs = [Monitor.Output(fd: out.read, stream: "stdout", copyTo: -1),
                           Monitor.Output(fd: err.read, stream: "stderr", copyTo: -1)]
            }

            // 4. Clone. A pid namespace given by path is entered here, since setns(pid) only
            //    affects children.
            if let pidNS = bundle.namespaces.first(where: { $0.kind == .pid && $0.path != nil }) {
                try Namespaces.join(pidNS.path!, .pid)
            }
            let (parentSync, childSync) = try FD.socketPair()
            let flags = bundle.cloneFlags & ~NamespaceKind.cgroup.cloneFlag
            let (pid, pidfd) = try ProcessControl.clone(flags: flags)
            if pid == 0 {
                FD.close(parentSync)
                ContainerInit(bundle: bundle, syncFD: childSync, execFifo: fifo, stdio: childStdio,
                              cgroupLayout: layout, cgroupPath: cgroupPath, seccomp: seccomp).main()
            }
            FD.close(childSync)
            for fd in closeInParent { FD.close(fd) }
            cleanup.append {
                try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
                _ = try? ProcessControl.wait(pid)
                FD.close(pidfd)
                FD.close(parentSync)
            }

            // 5. Write the init's id maps and let it start on its mounts; place it in its cgroup
            //    meanwhile (the first cgroup.procs write waits for an RCU grace period).
            if bundle.namespaces.contains(where: { $0.kind == .user && $0.path == nil }) {
                try writeIDMaps(pid: pid)
            }
            try SyncMessage.send(parentSync, .go)
            try cgroup.addProcess(pid: pid)
            try SyncMessage.send(parentSync, .placed)

            // 6. Wait for ready (and the pty master on the way).
            var master: Int32 = -1
            loop: while true {
                switch try SyncMessage.receive(parentSync) {
                case .ready: break loop
                case .pty(let fd):
                    master = fd
                case .error(let text):
                    throw BerthError(.invalidArgument, text)
                case .closed:
                    let st = try? ProcessControl.wait(pid)
                    throw BerthError(.internal, "container init exited during set-up (\(st.map { "\($0.status)" } ?? "unknown"))")
                case .go, .placed:
                    throw BerthError(.internal, "sync: unexpected go from init")
                }
            }
            if master >= 0 {
                if let sock = options.consoleSocket {
                    let s = try UnixSocket.connect(sock)
                    try UnixSocket.send(s, Array("berth-init-pty".utf8), fd: master)
                    FD.close(s)
                    FD.close(master)
                    master = -1
                } else {
                    try FD.setNonBlocking(master)
                    outputs.append(Monitor.Output(fd: master, stream: "stdout", copyTo: log == nil && !attach ? 1 : -1))
                    if attach { stdinTarget = master } else if mode == .run { stdinForward = (0, master) }
                }
            }

            // 7. The attach socket: listening before `create` reports success, so a caller can
            //    connect as soon as it returns.
            var listener: Int32 = -1
            if let path = options.attachSocket {
                listener = try ContainerLauncher.listenAttach(path)
                cleanup.append { FD.close(listener); unlink(path) }
            }

            guard let start = StateStore.processStartTime(pid) else {
                throw BerthError(.internal, "container init \(pid) vanished during set-up")
            }
            let record = ContainerRecord(
                id: id, pid: pid, pidStartTime: start, monitorPid: getpid(), bundle: bundle.path,
                rootfs: bundle.rootfs, created: WallClock.now().rfc3339Nano, cgroupPath: cgroupPath,
                annotations: spec.annotations, terminal: terminal, logPath: options.logPath)
            try store.writeRecord(record)
            if let pidFile = options.pidFile {
                try FileSystem.writeAtomically(pidFile, Array(String(pid).utf8))
            }
            return Launched(record: record, pidfd: pidfd, syncFD: parentSync, outputs: outputs,
                            stdinForward: stdinForward, terminalMaster: master, cgroup: cgroup, log: log,
                            listener: listener, stdinTarget: stdinTarget)
        } catch {
            undo()
            throw error
        }
    }

    /// Listens on an attach socket path (mode 0600, non-blocking). A socket left there by a
    /// monitor that was killed (nobody answers) is replaced; a live one is a conflict.
    static func listenAttach(_ path: String) throws -> Int32 {
        var fd: Int32
        do {
            fd = try UnixSocket.listen(path, backlog: 64)
        } catch let e as BerthError where e.errno == EADDRINUSE {
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else { throw e }
            if let c = try? UnixSocket.connect(path) {
                FD.close(c)
                throw BerthError.conflict("attach socket \(path) is in use")
            }
            unlink(path)
            fd = try UnixSocket.listen(path, backlog: 64)
        }
        do {
            if chmod(path, 0o600) != 0 { throw BerthError.sys("chmod \(path)") }
            try FD.setNonBlocking(fd)
        } catch {
            FD.close(fd)
            unlink(path)
            throw error
        }
        return fd
    }

    private func writeIDMaps(pid: pid_t) throws {
        func format(_ maps: [RuntimeSpec.IDMapping]) -> String {
            maps.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        do {
            try FileSystem.writeExisting("/proc/\(pid)/uid_map", format(bundle.spec.linux?.uidMappings ?? []))
            try FileSystem.writeExisting("/proc/\(pid)/gid_map", format(bundle.spec.linux?.gidMappings ?? []))
        } catch let e as BerthError {
            throw e.context("user namespace id mappings")
        }
    }
}
