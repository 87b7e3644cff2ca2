#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// The runtime's verbs, runc-compatible in shape: `create`, `start`, `run`, `state`, `kill`,
/// `delete`, `exec`, `list`. `berth-init` is a thin command line over these.
///
/// berth-init is single-threaded, which is what makes its fork/clone safe; these functions
/// assume it (they are not for use inside a multi-threaded process such as berthd, which spawns
/// berth-init instead).
public enum Runtime {
    /// `create`: sets the container up and returns while its init waits for `start`. A monitor
    /// process stays behind as the init's parent.
    public static func create(_ options: LaunchOptions) throws {
        let bundle = try RuntimeBundle.load(options.bundle)
        let store = StateStore(root: options.stateRoot)
        try store.reserve(options.id)
        let report = try FD.pipe()
        let monitorPid: pid_t
        do {
            monitorPid = try ProcessControl.fork()
        } catch {
            try? FileSystem.removeTree(store.directory(options.id))
            throw error
        }
        if monitorPid == 0 {
            FD.close(report.read)
            // A daemon keeps nothing of its caller but stdio: an inherited descriptor would keep
            // the caller's pipes (or its process supervisor's) open for the container's life.
            ProcessControl.closeDescriptors(from: 3, keeping: [report.write])
            ProcessControl.newSession()
            let code = monitorMain(options: options, bundle: consume bundle, store: store, mode: .create, report: report.write)
            ProcessControl.exitNow(code)
        }
        FD.close(report.write)
        // "O" for created; "E" + message (up to EOF) for a failure. Only the first byte is
        // awaited on success: the container's init may still hold a copy of the pipe until exec.
        var answer = (try? FD.read(report.read, max: 65536)) ?? []
        if answer.first == UInt8(ascii: "E") {
            answer += (try? FileSystem.readAll(fd: report.read, what: "monitor report")) ?? []
        }
        FD.close(report.read)
        if answer.first == UInt8(ascii: "E") || answer.isEmpty {
            _ = try? ProcessControl.wait(monitorPid)
            let message = answer.isEmpty ? "monitor exited before the container was created" : String(decoding: answer.dropFirst(), as: UTF8.self)
            throw BerthError(.invalidArgument, message)
        }
        // The monitor lives on; it is not our child to wait for once it re-parents, but we reap
        // nothing here on purpose: berth-init exits right after `create`.
    }

    /// `run`: create and start in the foreground, passing stdio through (or the terminal), and
    /// return the container's exit code (128 + signal when killed). The container is deleted
    /// when it exits.
    public static func run(_ options: LaunchOptions) throws -> Int32 {
        let bundle = try RuntimeBundle.load(options.bundle)
        let store = StateStore(root: options.stateRoot)
        try store.reserve(options.id)
        defer { try? FileSystem.removeTree(store.directory(options.id)) }
        var exit: ExitRecord?
        let code = monitorMain(options: options, bundle: bundle, store: store, mode: .run, report: -1) { exit = $0 }
        if let exit { return exit.exitCode }
        return code
    }

    /// `start`: lets a created container's init exec its program.
    public static func start(id: String, stateRoot: String) throws {
        let store = StateStore(root: stateRoot)
        let state = try store.state(id)
        guard state.status == "created" else {
            throw BerthError.conflict("cannot start container \(id) in status \(state.status)")
        }
        let fifo = store.execFifo(id)
        let fd = try FD.open(fifo, O_RDONLY | O_NONBLOCK)
        defer { FD.close(fd) }
        // The init opens the fifo for writing once we hold it for reading; wait for its byte.
        try FD.setNonBlocking(fd, false)
        let byte = try FD.read(fd, max: 1)
        unlink(fifo)
        if byte.isEmpty { throw BerthError(.internal, "container \(id) init exited before start") }
    }

    /// `state`: the OCI state.
    public static func state(id: String, stateRoot: String) throws -> OCIState {
        try StateStore(root: stateRoot).state(id)
    }

    /// `list`: the state of every container.
    public static func list(stateRoot: String) -> [OCIState] {
        let store = StateStore(root: stateRoot)
        return store.ids().compactMap { try? store.state($0) }
    }

    /// `kill`: sends a signal to the init (or, with `all`, to every process of the cgroup).
    public static func kill(id: String, stateRoot: String, signal: Int32, all: Bool = false) throws {
        let store = StateStore(root: stateRoot)
        let r = try store.record(id)
        guard StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime), store.exit(id) == nil else {
            throw BerthError.conflict("container \(id) is not running")
        }
        if all {
            let cg = try Cgroup(layout: try CgroupLayout.current(), path: r.cgroupPath)
            try cg.killAll(signal: signal)
        } else {
            let pidfd = try ProcessControl.openPidFD(r.pid)
            defer { FD.close(pidfd) }
            try ProcessControl.signal(pidfd: pidfd, signal)
        }
    }

    /// `delete`: removes a stopped container's state (with `force`, kills a running one first).
    public static func delete(id: String, stateRoot: String, force: Bool = false) throws {
        let store = StateStore(root: stateRoot)
        let r = try store.record(id)
        let state = try store.state(id)
        if state.status != "stopped" {
            guard force else { throw BerthError.conflict("cannot delete container \(id) that is not stopped: \(state.status)") }
            if let pidfd = try? ProcessControl.openPidFD(r.pid) {
                try? ProcessControl.signal(pidfd: pidfd, SIGKILL)
                FD.close(pidfd)
            }
        }
        // The monitor records the exit, removes the cgroup and exits: wait until it is gone
        // (bounded; briefly if it had finished before we came, since its pid may be reused).
        let rounds = store.exit(id) != nil ? 20 : 500
        for _ in 0..<rounds {
            if StateStore.processStartTime(r.monitorPid) == nil || StateStore.isZombie(r.monitorPid) { break }
            usleep(10_000)
        }
        if let cg = try? Cgroup(layout: try CgroupLayout.current(), path: r.cgroupPath) {
            try? cg.killAll(signal: SIGKILL)
            try? cg.destroy()
        }
        try FileSystem.removeTree(store.directory(id))
    }

    // MARK: the monitor

    /// Blocks every signal (the monitor takes them from a signalfd; the init unblocks them all
    /// just before exec).
    static func takeSignals() throws -> Int32 {
        ProcessControl.blockAllSignals()
        return try ProcessControl.signalFD([SIGCHLD] + Monitor.forwarded)
    }

    /// Launches the container and runs its monitor until it exits. In `create` mode the outcome
    /// of the launch is reported on `report` ("O" or "E" + message) before the monitor loop.
    static func monitorMain(options: LaunchOptions, bundle: consuming RuntimeBundle, store: StateStore,
                            mode: ContainerLauncher.Mode, report: Int32,
                            onExit: (ExitRecord) -> Void = { _ in }) -> Int32 {
        let id = options.id
        let launched: ContainerLauncher.Launched
        let signalFD: Int32
        var savedTerminal: [UInt8]?
        let usesPidNamespace = bundle.has(.pid)
        do {
            signalFD = try takeSignals()
            // In create mode the container inherits the caller's stdio unless there is a log;
            // the monitor itself keeps none of it open.
            // The bundle (the spec and its seccomp rules) is consumed here, so it is freed before
            // the trim below instead of living as long as the container.
            launched = try ContainerLauncher(options: options, bundle: consume bundle, store: store, mode: mode)
                .launch()
        } catch {
            let message = (error as? BerthError)?.message ?? "\(error)"
            if report >= 0 {
                try? FD.writeAll(report, "E" + message)
                FD.close(report)
            } else {
                try? FD.writeAll(2, "berth-init: \(message)\n")
            }
            if mode == .create { try? FileSystem.removeTree(store.directory(id)) }
            return 1
        }
        if report >= 0 {
            try? FD.writeAll(report, "O")
            FD.close(report)
            // Detach from the caller's stdio: the container has its own copies.
            if let null = try? FD.open("/dev/null", O_RDWR) {
                for target: Int32 in 0...2 { try? FD.dup2(null, target) }
                FD.close(null)
            }
        }
        if mode == .create {
            // Start the long-lived monitor afresh: exec'ing ourselves drops everything set-up
            // left in memory (the parsed spec, the seccomp program, heap fragments), which would
            // otherwise stay private to each container's monitor for its whole life.
            reexecMonitor(launched, id: id, store: store, signalFD: signalFD, usesPidNamespace: usesPidNamespace,
                          attachPath: options.attachSocket, stdinOnce: options.stdinOnce)
        }
        let monitor = Monitor(initPid: launched.record.pid, pidfd: launched.pidfd, syncFD: launched.syncFD,
                              outputs: launched.outputs, usesPidNamespace: usesPidNamespace)
        monitor.log = launched.log
        monitor.terminalMaster = launched.terminalMaster
        monitor.stdinForward = launched.stdinForward
        monitor.listener = launched.listener
        monitor.listenerPath = options.attachSocket
        monitor.stdinTarget = launched.stdinTarget
        monitor.stdinOnce = options.stdinOnce
        if mode == .run && options.attachSocket == nil && launched.terminalMaster >= 0 && Terminal.isTerminal(0) {
            savedTerminal = Terminal.makeRaw(0)
            if let size = Terminal.size(0) { try? Terminal.setSize(launched.terminalMaster, rows: size.rows, cols: size.cols) }
        }
        let (status, exitedAt) = monitor.run(signalFD: signalFD)
        if let saved = savedTerminal { Terminal.restore(0, saved) }
        let record = finish(id: id, store: store, cgroup: launched.cgroup, status: status, exitedAt: exitedAt,
                            startedAt: monitor.startedAt)
        monitor.closeAttach(exitCode: record.exitCode)
        FD.close(launched.pidfd)
        onExit(record)
        return status.code
    }

    /// After the init exited: the OOM verdict, stragglers killed, the cgroup removed, the exit
    /// recorded atomically.
    static func finish(id: String, store: StateStore, cgroup: Cgroup?, status: ExitStatus,
                       exitedAt: WallClock, startedAt: String?) -> ExitRecord {
        let oom = ((try? cgroup?.oomKillCount()) ?? nil ?? 0) > 0
        try? cgroup?.killAll(signal: SIGKILL)
        try? cgroup?.destroy()
        let record = ExitRecord(exitCode: status.code, signal: status.signal, oomKilled: oom,
                                startedAt: startedAt, finishedAt: exitedAt.rfc3339Nano, error: nil)
        try? store.writeExit(id, record)
        return record
    }

    /// Replaces this process with `berth-init __monitor …`, handing over the descriptors. Falls
    /// back to monitoring in place if the exec fails.
    static func reexecMonitor(_ l: ContainerLauncher.Launched, id: String, store: StateStore, signalFD: Int32,
                              usesPidNamespace: Bool, attachPath: String?, stdinOnce: Bool) {
        var args = ["berth-init", "__monitor", "--root", store.root, "--id", id, "--pid", String(l.record.pid),
                    "--pidfd", String(l.pidfd), "--sync", String(l.syncFD), "--signalfd", String(signalFD),
                    "--cgroup", l.record.cgroupPath]
        var keep = [l.pidfd, l.syncFD, signalFD]
        for o in l.outputs {
            args += ["--output", "\(o.fd):\(o.stream):\(o.copyTo)"]
            keep.append(o.fd)
        }
        if let log = l.log { args += ["--logfd", String(log.fd)]; keep.append(log.fd) }
        if l.terminalMaster >= 0 { args += ["--master", String(l.terminalMaster)] }
        if l.listener >= 0, let path = attachPath {
            args += ["--listen", String(l.listener), "--listen-path", path]
            keep.append(l.listener)
        }
        if l.stdinTarget >= 0 { args += ["--stdin", String(l.stdinTarget)]; keep.append(l.stdinTarget) }
        if stdinOnce { args.append("--stdin-once") }
        if usesPidNamespace { args.append("--pidns") }
        for fd in keep where fd >= 0 { try? FD.setCloseOnExec(fd, false) }
        _ = try? ProcessControl.exec(path: "/proc/self/exe", args: args, env: [])
        for fd in keep where fd >= 0 { try? FD.setCloseOnExec(fd, true) }
    }

    /// The re-exec'd monitor (`berth-init __monitor`): adopts the descriptors and runs the loop.
    public static func resumeMonitor(_ a: [String: [String]]) -> Int32 {
        func one(_ k: String) -> String? { a[k]?.last }
        func fd(_ k: String) -> Int32 { one(k).flatMap { Int32($0) } ?? -1 }
        guard let root = one("--root"), let id = one("--id"), let pid = one("--pid").flatMap({ Int32($0) }) else { return 2 }
        let store = StateStore(root: root)
        var outputs: [Monitor.Output] = []
        for spec in a["--output"] ?? [] {
            let p = spec.split(separator: ":")
            if p.count == 3, let f = Int32(p[0]), let c = Int32(p[2]) {
                outputs.append(Monitor.Output(fd: f, stream: String(p[1]), copyTo: c))
            }
        }
        let monitor = Monitor(initPid: pid, pidfd: fd("--pidfd"), syncFD: fd("--sync"), outputs: outputs,
                              usesPidNamespace: a["--pidns"] != nil)
        if fd("--logfd") >= 0 { monitor.log = JSONFileLog(fd: fd("--logfd")) }
        monitor.terminalMaster = fd("--master")
        monitor.listener = fd("--listen")
        monitor.listenerPath = monitor.listener >= 0 ? one("--listen-path") : nil
        monitor.stdinTarget = fd("--stdin")
        monitor.stdinOnce = a["--stdin-once"] != nil
        ProcessControl.trimMemory()
        let (status, exitedAt) = monitor.run(signalFD: fd("--signalfd"))
        let cgroup = one("--cgroup").flatMap { path in
            (try? CgroupLayout.current()).flatMap { try? Cgroup(layout: $0, path: path) }
        }
        let record = finish(id: id, store: store, cgroup: cgroup, status: status, exitedAt: exitedAt, startedAt: monitor.startedAt)
        monitor.closeAttach(exitCode: record.exitCode)
        return 0
    }
}
