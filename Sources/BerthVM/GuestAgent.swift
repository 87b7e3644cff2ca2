#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// The guest agent of `--isolation vm`: PID 1 of the guest once Berth's `/init` has loaded
/// the modules, mounted the root disk on `/newroot`, configured the network and started
/// busybox acpid (it `exec`s the agent when the kernel command line has `berth.agent=1`).
///
/// It reads `GuestRunSpec.path`, finds the virtio-serial ports named `berth.stdout` and
/// `berth.stderr`, mounts /proc, /sys and /dev inside the root disk, sets the hostname, then
/// forks the command: the child (a new session) gets /dev/null as stdin and the two ports as
/// stdout and stderr — the command writes straight into the ports, nothing is copied —
/// chroots into the root disk, changes to the working directory, drops to the uid/gid/groups
/// and execs the program (looked up in the spec's `PATH`). The agent writes the child's pid to
/// `/run/berth-cmd.pid`, where acpid's power-button handler finds it (the ACPI button, QMP
/// `system_powerdown`, becomes SIGTERM for the command, as `docker stop`). It reaps every
/// process (it is PID 1), and when the command ends it kills what is left, unmounts, prints
/// `BERTH_GUEST_EXIT=<code>` (the code, or 128 + the signal) on the console and powers off.
/// Before the fork it writes the spec's /etc files (`installEtcFiles`); with `tty` the
/// command gets a pty instead and the agent copies it (`runOnTerminal`, GuestAgent+Terminal).
/// Setup failures print `berth-vm-agent: …` on the stderr port (or the console) and exit
/// 125, 126 (not executable) or 127 (not found), as Docker does.
///
/// Single-threaded, no Foundation: it is linked fully static (`berth-vm-agent`), so it runs
/// whatever the root disk holds (busybox:test has no glibc).
public enum GuestAgent {
    /// The root disk's mount point (`GuestInit`).
    public static let root = "/newroot"

    /// Runs the spec's command and powers the guest off. Never returns.
    public static func main() -> Never {
        let code = run()
        // Volumes and binds are synced and unmounted before the exit code is reported.
        tearDownMounts()
        FD.close(1)
        _ = try? FD.writeAll(consoleFD(), "\(GuestInit.exitPrefix)\(code)\n")
        try? FileSystem.removeTree("/run/berth-cmd.pid")
        for m in ["dev/pts", "dev", "sys", "proc"] { try? Mounts.unmount("\(root)/\(m)", detach: true) }
        sync()
        try? Mounts.unmount(root)
        _ = try? ProcessControl.powerOff()
        // Unreachable unless reboot(2) failed: PID 1 must not exit (the kernel would panic,
        // and QEMU exits through panic=-1 anyway).
        while true { sleep(60) }
    }

    static func consoleFD() -> Int32 {
        (try? FD.open("/dev/console", O_WRONLY | O_NOCTTY)) ?? 1
    }

    static func say(_ fd: Int32, _ text: String) {
        _ = try? FD.writeAll(fd, "berth-vm-agent: \(text)\n")
    }

    /// Everything up to the command's exit; returns the exit code to report.
    static func run() -> Int32 {
        let console = consoleFD()
        let spec: GuestRunSpec
        do {
            spec = try GuestRunSpec.decode(try FileSystem.read(GuestRunSpec.path))
        } catch {
            say(console, "cannot read the run spec \(GuestRunSpec.path): \(error)")
            return 125
        }
        let ports = findPorts([GuestRunSpec.stdoutPort, GuestRunSpec.stderrPort])
        guard let outPath = ports[GuestRunSpec.stdoutPort], let errPath = ports[GuestRunSpec.stderrPort],
              let out = try? FD.open(outPath, O_WRONLY | O_CLOEXEC), let err = try? FD.open(errPath, O_WRONLY | O_CLOEXEC) else {
            say(console, "no virtio-serial ports \(GuestRunSpec.stdoutPort) and \(GuestRunSpec.stderrPort)")
            return 125
        }
        do {
            for (name, type) in [("proc", "proc"), ("sys", "sysfs"), ("dev", "devtmpfs")] {
                let target = "\(root)/\(name)"
                if !FileSystem.isDirectory(target) { try FileSystem.makeDirectories(target, mode: 0o755) }
                try Mounts.mount(source: name, target: target, type: type)
            }
            if let h = spec.hostname { try ProcessControl.setHostname(h) }
            try installEtcFiles(spec)
            try setUpMounts(spec)
        } catch {
            say(err, "cannot prepare the root disk: \((error as? BerthError)?.message ?? "\(error)")")
            return 125
        }
        if spec.tty { return runOnTerminal(spec, output: out, console: console) }
        var input = (try? FD.open("/dev/null", O_RDONLY | O_CLOEXEC)) ?? -1
        if spec.stdin {
            guard let path = findPorts([GuestRunSpec.stdinPort])[GuestRunSpec.stdinPort],
                  let fd = try? FD.open(path, O_RDONLY | O_CLOEXEC) else {
                say(err, "no virtio-serial port \(GuestRunSpec.stdinPort)")
                return 125
            }
            waitForHost(fd)
            FD.close(input)
            input = fd
        }
        let pid: pid_t
        do { pid = try ProcessControl.fork() } catch {
            say(err, "cannot fork: \(error)")
            return 125
        }
        if pid == 0 {
            ProcessControl.newSession()
            child(spec, stdin: input, stdout: out, stderr: err)
        }
        _ = try? FileSystem.writeAtomically("/run/berth-cmd.pid", Array("\(pid)\n".utf8), mode: 0o644, durable: false)
        // PID 1 reaps everything; the command's own status is the one that counts.
        while true {
            guard let (p, status) = (try? ProcessControl.waitAny()) ?? nil else { return 125 }
            if p == pid {
                // What the command left behind dies with it, as in a container.
                _ = kill(-1, SIGKILL)
                while (try? ProcessControl.waitAny()) != nil {}
                return status.code
            }
        }
    }

    /// The forked child: stdio, root, cwd, credentials, exec. Never returns.
    /// With `stdout` < 0 the caller has set up fds 0-2 already (a terminal).
    static func child(_ spec: GuestRunSpec, stdin: Int32, stdout: Int32, stderr: Int32) -> Never {
        if stdout >= 0 {
            do {
                if stdin >= 0 { try FD.dup2(stdin, 0) } else { FD.close(0) }
                try FD.dup2(stdout, 1)
                try FD.dup2(stderr, 2)
            } catch {
                ProcessControl.exitNow(125)
            }
        }
        func fail(_ code: Int32, _ text: String) -> Never {
            say(2, text)
            ProcessControl.exitNow(code)
        }
        do { try ProcessControl.changeRoot(root) } catch { fail(125, "\((error as? BerthError)?.message ?? "\(error)")") }
        do { try ProcessControl.changeDirectory(spec.cwd) } catch {
            fail(125, "chdir to cwd (\"\(spec.cwd)\") set in config.json failed: no such file or directory")
        }
        do { try ProcessControl.setCredentials(uid: spec.uid, gid: spec.gid, groups: spec.additionalGids) } catch {
            fail(125, "\((error as? BerthError)?.message ?? "\(error)")")
        }
        guard let program = spec.args.first else { fail(125, "no command") }
        guard let path = lookPath(program, env: spec.env) else {
            fail(127, "exec: \"\(program)\": executable file not found in $PATH")
        }
        var env = spec.env
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(home(uid: spec.uid))") }
        ProcessControl.resetSignalsForExec()
        do { try ProcessControl.exec(path: path, args: spec.args, env: env) } catch {
            let e = (error as? BerthError)?.errno
            fail(e == EACCES ? 126 : 127, "exec \(path): \((error as? BerthError)?.message ?? "\(error)")")
        }
    }

    /// `program` itself when it has a `/`, else the first executable `dir/program` of the
    /// environment's PATH (Docker's default PATH without one).
    static func lookPath(_ program: String, env: [String]) -> String? {
        if program.contains("/") { return program }
        let path = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + program
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The home directory of `uid` in the (chrooted) /etc/passwd, else `/`, as berth-init does.
    static func home(uid: UInt32) -> String {
        guard let text = try? FileSystem.readString("/etc/passwd") else { return "/" }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count >= 6, UInt32(f[2]) == uid { return f[5].isEmpty ? "/" : String(f[5]) }
        }
        return "/"
    }

    /// Waits (up to 5 s) until the host end of an input port is connected: before that a
    /// read returns EOF at once (the port reports POLLHUP). QEMU tells the guest about a host
    /// connection only when it happens after the guest's driver is ready, so the agent prints
    /// `GuestRunSpec.stdinReadyMarker` on the console and the host connects when it sees it.
    static func waitForHost(_ fd: Int32) {
        _ = try? FD.writeAll(consoleFD(), GuestRunSpec.stdinReadyMarker + "\n")
        var rounds = 0
        while rounds < 500 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 0)
            if p.revents & Int16(POLLHUP) == 0 { return }
            usleep(10_000)
            rounds += 1
        }
    }

    /// `/dev/vportNpM` of each named virtio-serial port, waiting up to 5 s for the driver to
    /// register them (modules load asynchronously).
    static func findPorts(_ names: [String]) -> [String: String] {
        var found: [String: String] = [:]
        var rounds = 0
        while rounds < 500 {
            for entry in (try? FileSystem.list("/sys/class/virtio-ports")) ?? [] {
                guard let raw = try? FileSystem.readString("/sys/class/virtio-ports/\(entry)/name") else { continue }
                let name = raw.trimmingSpaces
                if names.contains(name), FileSystem.exists("/dev/\(entry)") { found[name] = "/dev/\(entry)" }
            }
            if found.count == names.count { break }
            usleep(10_000)
            rounds += 1
        }
        return found
    }
}
