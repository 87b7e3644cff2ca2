#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// The container's init between clone and exec: runs in the child, in the new namespaces.
/// See docs/start-path.md for the whole sequence and why each step sits where it does.
struct ContainerInit {
    var bundle: RuntimeBundle
    var syncFD: Int32
    /// The exec fifo to block on until `start` (create); nil for `run`.
    var execFifo: String?
    /// Descriptors to become 0, 1, 2 (nil: inherit the monitor's).
    var stdio: (Int32, Int32, Int32)?
    var cgroupLayout: CgroupLayout?
    var cgroupPath: String
    var seccomp: SeccompProgram?

    /// Never returns: execs the container's program, or reports the error and exits.
    func main() -> Never {
        do {
            try setUp()
        } catch let e as BerthError {
            try? SyncMessage.send(syncFD, .error(e.message))
            ProcessControl.exitNow(1)
        } catch {
            try? SyncMessage.send(syncFD, .error("\(error)"))
            ProcessControl.exitNow(1)
        }
        ProcessControl.exitNow(1)
    }

    private func setUp() throws {
        let spec = bundle.spec
        guard let process = spec.process else { throw BerthError.invalid("missing process") }

        // 1. Wait until the monitor has written the id maps. It places us in the cgroup while we
        //    make the first mounts (that write waits for an RCU grace period: milliseconds).
        guard try SyncMessage.receive(syncFD) == .go else { throw BerthError(.internal, "sync: expected go") }

        // 2. Join the namespaces given by path (user first, so the others are owned by it).
        let joins = bundle.namespaces.filter { $0.path != nil && $0.kind != .pid }
        for j in joins.sorted(by: { a, _ in a.kind == .user }) {
            try Namespaces.join(j.path!, j.kind)
        }
        // In a new user namespace we still carry the host's ids, which it does not map: become
        // its root (the id maps are written by now), or nothing we create would be ours.
        if bundle.has(.user) {
            try ProcessControl.setCredentials(uid: 0, gid: 0, groups: [])
        }
        if bundle.has(.uts) {
            if let h = spec.hostname { try ProcessControl.setHostname(h) }
            if let d = spec.domainname { try ProcessControl.setDomainname(d) }
        }
        // A new network namespace starts with `lo` down; Docker brings it up (--network none
        // still has a working 127.0.0.1).
        if bundle.namespaces.contains(where: { $0.kind == .network && $0.path == nil }) {
            try Network.setLinkUp("lo")
        }

        // 3. stdio (a terminal comes later: it must be opened in the container's devpts).
        if let (i, o, e) = stdio {
            try FD.dup2(i, 0)
            try FD.dup2(o, 1)
            try FD.dup2(e, 2)
        }

        // 4. The filesystem: mounts, devices, pivot_root, masks, read-only root.
        let rootfs = RootfsSetup(bundle: bundle, cgroupLayout: cgroupLayout, cgroupPath: cgroupPath)
        let rootFD = try rootfs.prepareStart()
        guard try SyncMessage.receive(syncFD) == .placed else { throw BerthError(.internal, "sync: expected placed") }
        // The cgroup namespace is created now that we sit in our cgroup, so it is rooted there.
        if bundle.namespaces.contains(where: { $0.kind == .cgroup && $0.path == nil }) {
            try Namespaces.unshare([.cgroup])
        }
        try rootfs.prepareRest(rootFD: rootFD)
        var fifoFD: Int32 = -1
        if let fifo = execFifo { fifoFD = try FD.open(fifo, O_PATH) }
        try Mounts.pivotRoot(bundle.rootfs)
        try rootfs.finish()

        // 5. The terminal: a pty of the container's own devpts; the master goes to the monitor.
        if process.terminal ?? false {
            let ptmx = FileSystem.exists("/dev/pts/ptmx") ? "/dev/pts/ptmx" : "/dev/ptmx"
            let (master, _) = try Terminal.openMaster(ptmx)
            let slave = try Terminal.openSlave(master: master)
            if let size = process.consoleSize {
                try Terminal.setSize(slave, rows: UInt16(clamping: size.height), cols: UInt16(clamping: size.width))
            }
            try SyncMessage.send(syncFD, .pty(master))
            FD.close(master)
            try Terminal.becomeControllingTerminal(slave)
            try FD.dup2(slave, 0)
            try FD.dup2(slave, 1)
            try FD.dup2(slave, 2)
            if slave > 2 { FD.close(slave) }
        } else {
            ProcessControl.newSession()
        }

        // 6. Credentials, capabilities, cwd, program lookup.
        let setup = ProcessSetup(process: process, seccomp: seccomp)
        let (path, env) = try setup.prepare()

        // Nothing but 0, 1, 2 crosses exec (our own descriptors are close-on-exec already).
        ProcessControl.markCloseOnExec(from: 3)

        // 7. Created. With `create`, block until `start` opens the fifo.
        try SyncMessage.send(syncFD, .ready)
        if fifoFD >= 0 {
            let w = try FD.open("/proc/self/fd/\(fifoFD)", O_WRONLY)
            try FD.writeAll(w, "0")
            FD.close(w)
            FD.close(fifoFD)
        }

        // 8. seccomp (when no_new_privs) and exec.
        ProcessControl.resetSignalsForExec()
        try setup.exec(path: path, env: env)
    }
}
