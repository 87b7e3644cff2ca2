#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// One `virtiofsd` (QEMU's C daemon, Debian's qemu-system-common) serving a host directory
/// to one VM over a vhost-user socket (`VMShare`).
///
/// Lifecycle: `start` spawns it (posix_spawn: a new session, so it outlives a crash of the
/// spawner, like QEMU) and returns once its socket exists; QEMU connects at its own start.
/// virtiofsd exits by itself when QEMU disconnects (the VM ended); `stop` ends it otherwise
/// (SIGTERM through a pidfd, SIGKILL after 2 s) and reaps it when it is the caller's child.
/// The value (pid + start time) is Codable so that a restarted daemon can still stop the
/// right process (a recycled pid has another start time).
///
/// Sandbox: the default `namespace` mode (mount, pid and net namespaces, pivot_root into the
/// shared directory, bound recursively), so mounts below the directory made before `start`
/// are visible to the guest with their flags: a read-only bind stays read-only.
public struct VirtioFSDaemon: Sendable, Codable, Equatable {
    public var pid: Int32
    public var startTime: UInt64

    /// Debian's path (qemu-system-common).
    public static let defaultBinary = "/usr/lib/qemu/virtiofsd"

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// Spawns virtiofsd sharing `source` on `socket` (an old socket file is removed first),
    /// stdout/stderr appended to `log`, and waits up to `timeout` seconds for the socket.
    /// A daemon that exits or does not listen in time is killed, and the error quotes the
    /// last line of its log.
    public static func start(binary: String = defaultBinary, source: String, socket: String, log: String,
                             timeout: Double = 10) throws -> VirtioFSDaemon {
        guard access(binary, X_OK) == 0 else {
            throw BerthError.notFound("virtiofsd not found at \(binary) (install qemu-system-common)")
        }
        guard socket.utf8.count <= 107 else { throw BerthError.invalid("virtiofsd socket path too long: \(socket)") }
        _ = unlink(socket)
        let logFD = try FD.open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o600)
        defer { FD.close(logFD) }
        let pid = try ProcessControl.spawn(path: binary,
                                           args: [binary, "--socket-path=\(socket)", "-o", "source=\(source)", "-o", "cache=auto",
                                                  "-o", "sandbox=namespace"],
                                           env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], stdio: [1: logFD, 2: logFD])
        let daemon = VirtioFSDaemon(pid: pid, startTime: QEMUBackend.processStartTime(pid) ?? 0)
        var waited = 0.0
        while true {
            var st = stat()
            if lstat(socket, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK { return daemon }
            if let r = try? ProcessControl.wait(pid, noHang: true) {
                throw BerthError(.system, "virtiofsd exited (\(r.status.code)) before listening: \(lastLine(log))")
            }
            if waited >= timeout {
                _ = kill(pid, SIGKILL)
                _ = try? ProcessControl.wait(pid)
                throw BerthError(.system, "virtiofsd did not listen on \(socket) within \(Int(timeout)) s: \(lastLine(log))")
            }
            usleep(5_000)
            waited += 0.005
        }
    }

    /// Whether this very process (pid and start time) still exists (a zombie counts).
    public var isAlive: Bool { QEMUBackend.processStartTime(pid) == startTime }

    /// Ends the daemon if it still runs and waits (up to ~3 s) until it is gone; reaps it when
    /// it is the caller's child. Blocking: call it through `BlockingWork.run`.
    public func stop() {
        guard isAlive, let pidfd = try? ProcessControl.openPidFD(pid) else {
            _ = try? ProcessControl.wait(pid, noHang: true)
            return
        }
        defer { FD.close(pidfd) }
        try? ProcessControl.signal(pidfd: pidfd, SIGTERM)
        var rounds = 0
        while rounds < 300 {
            do {
                if try ProcessControl.wait(pid, noHang: true) != nil { return }
            } catch {
                // Not our child (adopted after a daemon restart): init reaps it.
                if !isAlive { return }
            }
            if rounds == 200 { try? ProcessControl.signal(pidfd: pidfd, SIGKILL) }
            usleep(10_000)
            rounds += 1
        }
    }

    static func lastLine(_ path: String) -> String {
        let text = (try? FileSystem.readString(path)) ?? ""
        return text.split(separator: "\n").last.map(String.init) ?? "(no output)"
    }
}
