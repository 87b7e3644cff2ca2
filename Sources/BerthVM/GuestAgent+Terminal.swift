#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// `-t` in the guest and the container's /etc files: the agent's half of a TTY (a pty in a
/// devpts instance of the root disk, copied to and from the ports with poll(2)) and the
/// `hosts`/`hostname`/`resolv.conf` the host resolved for the container.
extension GuestAgent {
    /// Writes the spec's /etc files into the root disk (replacing the image's, symlinks
    /// included: the rename replaces the link, never its target), as Docker's bind mounts
    /// show them. Names outside `GuestRunSpec.etcFileNames` are ignored.
    static func installEtcFiles(_ spec: GuestRunSpec) throws {
        guard !spec.etcFiles.isEmpty else { return }
        let etc = "\(root)/etc"
        if !FileSystem.isDirectory(etc) { try FileSystem.makeDirectories(etc, mode: 0o755) }
        for (name, content) in spec.etcFiles.sorted(by: { $0.key < $1.key }) where GuestRunSpec.etcFileNames.contains(name) {
            try FileSystem.writeAtomically("\(etc)/\(name)", Array(content.utf8), mode: 0o644, durable: false)
        }
    }

    /// Mounts a devpts instance on the root disk's /dev/pts and opens a pty master there (so
    /// the command sees `/dev/pts/N`), sized as the spec asks.
    static func openTerminal(_ spec: GuestRunSpec) throws -> Int32 {
        let pts = "\(root)/dev/pts"
        if !FileSystem.isDirectory(pts) { try FileSystem.makeDirectories(pts, mode: 0o755) }
        try Mounts.mount(source: "devpts", target: pts, type: "devpts", data: "newinstance,ptmxmode=0666,mode=0620,gid=5")
        let (master, _) = try Terminal.openMaster("\(pts)/ptmx")
        if let rows = spec.consoleRows, let cols = spec.consoleColumns, rows > 0, cols > 0 {
            try? Terminal.setSize(master, rows: rows, cols: cols)
        }
        return master
    }

    /// In the forked child: the pty's slave (opened by the agent before the fork, so the
    /// master never sees a closed slave before the command has it) becomes the controlling
    /// terminal of a new session and stdin, stdout and stderr. Exits 125 when it cannot.
    static func takeTerminal(slave: Int32, master: Int32) {
        do {
            try Terminal.becomeControllingTerminal(slave)
            for fd: Int32 in [0, 1, 2] { try FD.dup2(slave, fd) }
        } catch {
            ProcessControl.exitNow(125)
        }
        if slave > 2 { FD.close(slave) }
        FD.close(master)
    }

    /// `run` with `tty`: the pty, the input ports (stdin with `stdin`, control always:
    /// opened, then `GuestRunSpec.stdinReadyMarker` on the console tells the host to connect),
    /// the command forked onto the pty, and the copy loop until it exits.
    static func runOnTerminal(_ spec: GuestRunSpec, output: Int32, console: Int32) -> Int32 {
        let master: Int32, slave: Int32
        do {
            master = try openTerminal(spec)
            slave = try Terminal.openSlave(master: master)
        } catch {
            say(output, "cannot allocate a terminal: \((error as? BerthError)?.message ?? "\(error)")")
            return 125
        }
        let names = [GuestRunSpec.controlPort] + (spec.stdin ? [GuestRunSpec.stdinPort] : [])
        let ports = findPorts(names)
        guard let controlPath = ports[GuestRunSpec.controlPort], let control = try? FD.open(controlPath, O_RDONLY | O_CLOEXEC) else {
            say(output, "no virtio-serial port \(GuestRunSpec.controlPort)")
            return 125
        }
        var input: Int32?
        if spec.stdin {
            guard let path = ports[GuestRunSpec.stdinPort], let fd = try? FD.open(path, O_RDONLY | O_CLOEXEC) else {
                say(output, "no virtio-serial port \(GuestRunSpec.stdinPort)")
                return 125
            }
            input = fd
        }
        _ = try? FD.writeAll(console, GuestRunSpec.stdinReadyMarker + "\n")
        let pid: pid_t
        do { pid = try ProcessControl.fork() } catch {
            say(output, "cannot fork: \(error)")
            return 125
        }
        if pid == 0 {
            takeTerminal(slave: slave, master: master)
            child(spec, stdin: -1, stdout: -1, stderr: -1)
        }
        _ = try? FileSystem.writeAtomically("/run/berth-cmd.pid", Array("\(pid)\n".utf8), mode: 0o644, durable: false)
        let code = relayTerminal(command: pid, master: master, output: output, input: input, control: control)
        // What the command left behind dies with it, as in a container.
        _ = kill(-1, SIGKILL)
        while (try? ProcessControl.waitAny()) != nil {}
        FD.close(slave)
        FD.close(master)
        return code
    }

    /// Copies the pty to the stdout port, the stdin port (when there is one and the host is
    /// connected to it) to the pty, and applies the control port's `resize` lines, reaping
    /// every child, until the command `pid` exits; then drains what the pty still holds and
    /// returns the command's exit code. An input port whose host end is not connected reads
    /// EOF at once: it is left out of the poll set and tried again every round (50 ms), so a
    /// host that connects later (a restarted berthd) is picked up.
    static func relayTerminal(command pid: pid_t, master: Int32, output: Int32, input: Int32?, control: Int32?) -> Int32 {
        try? FD.setNonBlocking(master)
        for fd in [input, control].compactMap({ $0 }) { try? FD.setNonBlocking(fd) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pending: [UInt8] = []        // stdin bytes the pty has not taken yet
        var controlLine: [UInt8] = []
        var inputUp = false, controlUp = false, masterOpen = true
        var exitCode: Int32?

        /// One non-blocking read; nil when nothing is there (EAGAIN: the host is connected),
        /// [] at EOF (the host end is not connected, or the pty's slave is closed).
        func readSome(_ fd: Int32) -> [UInt8]? {
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 { return Array(buffer[0..<n]) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return nil }
                return []
            }
        }
        func flushPending() {
            while !pending.isEmpty {
                let n = pending.withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                pending.removeFirst(n)
            }
        }
        func takeInput(_ fd: Int32) -> Bool {
            guard let bytes = readSome(fd) else { return true }
            if bytes.isEmpty { return false }
            pending += bytes
            flushPending()
            return true
        }
        func takeControl(_ fd: Int32) -> Bool {
            guard let bytes = readSome(fd) else { return true }
            if bytes.isEmpty { return false }
            controlLine += bytes
            while let nl = controlLine.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: controlLine[..<nl], as: UTF8.self)
                controlLine.removeSubrange(...nl)
                if let size = GuestRunSpec.parseResize(line) { try? Terminal.setSize(master, rows: size.rows, cols: size.columns) }
            }
            if controlLine.count > 4096 { controlLine = [] }
            return true
        }
        func drainMaster() {
            while masterOpen {
                guard let bytes = readSome(master) else { return }
                if bytes.isEmpty { masterOpen = false; return }
                _ = try? FD.writeAll(output, bytes)
            }
        }

        while true {
            while let (p, status) = (try? ProcessControl.wait(-1, noHang: true)) ?? nil {
                if p == pid { exitCode = status.code }
            }
            if let exitCode {
                // The pty hands what the command wrote to the master's side from a kernel
                // work queue: read until it has been quiet for 100 ms.
                while masterOpen {
                    var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                    if poll(&p, 1, 100) <= 0 { break }
                    drainMaster()
                }
                return exitCode
            }
            // Ports whose host was away: try them again (a read tells connected from not).
            if let input, !inputUp, pending.isEmpty { inputUp = takeInput(input) }
            if let control, !controlUp { controlUp = takeControl(control) }
            var fds: [pollfd] = []
            if masterOpen { fds.append(pollfd(fd: master, events: Int16(POLLIN) | (pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0)) }
            if let input, inputUp, pending.isEmpty { fds.append(pollfd(fd: input, events: Int16(POLLIN), revents: 0)) }
            if let control, controlUp { fds.append(pollfd(fd: control, events: Int16(POLLIN), revents: 0)) }
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), 50) }
            if ready <= 0 { continue }
            for p in fds where p.revents != 0 {
                if p.fd == master {
                    if p.revents & Int16(POLLOUT) != 0 { flushPending() }
                    if p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { drainMaster() }
                } else if p.fd == input {
                    inputUp = takeInput(p.fd)
                } else if p.fd == control {
                    controlUp = takeControl(p.fd)
                }
            }
        }
    }
}
