#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// How a process ended.
public enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a `waitpid` status.
    public init(waitStatus s: Int32) {
        if berth_wifsignaled(s) != 0 { self = .signaled(berth_wtermsig(s)) } else { self = .exited(berth_wexitstatus(s)) }
    }

    /// The shell convention: the exit code, or 128 + the signal.
    public var code: Int32 {
        switch self {
        case .exited(let c): return c
        case .signaled(let s): return 128 + s
        }
    }

    /// The signal that ended the process, if any.
    public var signal: Int32? {
        if case .signaled(let s) = self { return s }
        return nil
    }
}

/// Process creation, credentials and control for the runtime's start path.
public enum ProcessControl {
    /// Fork-like clone3 into new namespaces. The caller must be single-threaded (berth-init is).
    /// Returns (pid, pidfd) in the parent; pid 0 in the child.
    public static func clone(flags: UInt64, intoCgroup cgroupFD: Int32? = nil) throws -> (pid: pid_t, pidfd: Int32) {
        var pidfd: Int32 = -1
        var f = flags | UInt64(CLONE_PIDFD)
        if cgroupFD != nil { f |= 0x200000000 } // CLONE_INTO_CGROUP
        let pid = berth_clone3(f, &pidfd, cgroupFD ?? -1)
        if pid < 0 { throw BerthError.sys("clone") }
        return (pid, pidfd)
    }

    /// Plain fork (single-threaded callers only).
    public static func fork() throws -> pid_t {
        let pid = Glibc.fork()
        if pid < 0 { throw BerthError.sys("fork") }
        return pid
    }

    /// waitpid retrying EINTR. Returns nil with WNOHANG when nothing is ready.
    public static func wait(_ pid: pid_t, noHang: Bool = false) throws -> (pid: pid_t, status: ExitStatus)? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, noHang ? WNOHANG : 0)
            if r > 0 { return (r, ExitStatus(waitStatus: status)) }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            throw BerthError.sys("wait for \(pid)")
        }
    }

    /// kill(2).
    public static func signal(_ pid: pid_t, _ sig: Int32) throws {
        if kill(pid, sig) != 0 { throw BerthError.sys("kill \(pid)") }
    }

    /// pidfd_send_signal(2): signals exactly the process the pidfd names, never a recycled pid.
    public static func signal(pidfd: Int32, _ sig: Int32) throws {
        if berth_pidfd_send_signal(pidfd, sig) != 0 { throw BerthError.sys("signal process") }
    }

    /// pidfd_open(2).
    public static func openPidFD(_ pid: pid_t) throws -> Int32 {
        let fd = berth_pidfd_open(pid)
        if fd < 0 { throw BerthError.sys("pidfd_open \(pid)") }
        return fd
    }

    /// setsid(2).
    public static func newSession() { _ = setsid() }

    /// Exits immediately without running atexit handlers or flushing stdio (for clone children).
    public static func exitNow(_ code: Int32) -> Never { _exit(code) }

    /// prctl(PR_SET_NO_NEW_PRIVS, 1).
    public static func setNoNewPrivileges() throws {
        if berth_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 { throw BerthError.sys("set no_new_privs") }
    }

    /// prctl(PR_SET_KEEPCAPS).
    public static func setKeepCapabilities(_ on: Bool) throws {
        if berth_prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0) != 0 { throw BerthError.sys("set keepcaps") }
    }

    /// prctl(PR_SET_CHILD_SUBREAPER).
    public static func setChildSubreaper() throws {
        if berth_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 { throw BerthError.sys("set child subreaper") }
    }

    /// prctl(PR_SET_PDEATHSIG).
    public static func setParentDeathSignal(_ sig: Int32) throws {
        if berth_prctl(PR_SET_PDEATHSIG, UInt(sig), 0, 0, 0) != 0 { throw BerthError.sys("set pdeathsig") }
    }

    /// setgroups, setresgid, setresuid — in that order, as credentials must be dropped.
    public static func setCredentials(uid: uid_t, gid: gid_t, groups: [gid_t]) throws {
        let r = groups.withUnsafeBufferPointer { berth_setgroups($0.count, $0.baseAddress) }
        // EPERM from setgroups in a user namespace with setgroups=deny is not fatal when no
        // additional groups were asked for.
        if r != 0 && !(errno == EPERM && groups.isEmpty) { throw BerthError.sys("setgroups") }
        if berth_setresgid(gid, gid, gid) != 0 { throw BerthError.sys("setresgid \(gid)") }
        if berth_setresuid(uid, uid, uid) != 0 { throw BerthError.sys("setresuid \(uid)") }
    }

    /// setrlimit by resource number.
    public static func setResourceLimit(_ resource: Int32, soft: UInt64, hard: UInt64, name: String) throws {
        var lim = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        if setrlimit(__rlimit_resource_t(UInt32(resource)), &lim) != 0 { throw BerthError.sys("setrlimit \(name)") }
    }

    /// sethostname(2).
    public static func setHostname(_ name: String) throws {
        if berth_sethostname(name, name.utf8.count) != 0 { throw BerthError.sys("sethostname \(name)") }
    }

    /// setdomainname(2).
    public static func setDomainname(_ name: String) throws {
        if berth_setdomainname(name, name.utf8.count) != 0 { throw BerthError.sys("setdomainname \(name)") }
    }

    /// personality(2).
    public static func setPersonality(_ persona: UInt) throws {
        if berth_personality(persona) == -1 { throw BerthError.sys("personality") }
    }

    /// execve(2); returns only by throwing.
    public static func exec(path: String, args: [String], env: [String]) throws -> Never {
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        var cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) }
        cEnv.append(nil)
        _ = berth_execve(path, &cArgs, &cEnv)
        let e = errno
        throw BerthError.sys("exec \(path)", e)
    }

    /// Blocks all signals in the calling thread (they are then taken from a signalfd).
    public static func blockAllSignals() {
        var all = sigset_t()
        berth_sigfillset(&all)
        sigprocmask(SIG_SETMASK, &all, nil)
    }

    /// Resets every handler to default and unblocks every signal, for a process about to exec a
    /// container's program. Not the caller's old mask: berth-init may have been started from a
    /// thread that blocks signals (libdispatch workers do), and a container must not inherit that.
    public static func resetSignalsForExec() {
        for s in 1..<Int32(65) where s != SIGKILL && s != SIGSTOP {
            Glibc.signal(s, SIG_DFL)
        }
        var empty = sigset_t()
        sigemptyset(&empty)
        sigprocmask(SIG_SETMASK, &empty, nil)
    }

    /// A signalfd for the given signals (which must be blocked).
    public static func signalFD(_ signals: [Int32]) throws -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        if fd < 0 { throw BerthError.sys("signalfd") }
        return fd
    }

    /// Reads the next signal number from a signalfd; nil when none is pending.
    public static func readSignal(_ fd: Int32) -> Int32? {
        var info = signalfd_siginfo()
        let n = Glibc.read(fd, &info, MemoryLayout<signalfd_siginfo>.size)
        if n != MemoryLayout<signalfd_siginfo>.size { return nil }
        return Int32(info.ssi_signo)
    }

    /// Sets the umask.
    public static func setUmask(_ mask: UInt32) { umask(mode_t(mask)) }

    /// chdir(2).
    public static func changeDirectory(_ path: String) throws {
        if chdir(path) != 0 { throw BerthError.sys("chdir to cwd \(path)") }
    }

    /// Closes every descriptor from `first` up, except those listed.
    public static func closeDescriptors(from first: Int32, keeping keep: Set<Int32> = []) {
        if keep.isEmpty { _ = berth_close_range(UInt32(first), UInt32.max, 0); return }
        var lo = first
        for k in keep.sorted() where k >= lo {
            if k > lo { _ = berth_close_range(UInt32(lo), UInt32(k - 1), 0) }
            lo = k + 1
        }
        _ = berth_close_range(UInt32(lo), UInt32.max, 0)
    }

    /// Marks every descriptor from `first` up close-on-exec (close_range CLOSE_RANGE_CLOEXEC).
    public static func markCloseOnExec(from first: Int32) {
        _ = berth_close_range(UInt32(first), UInt32.max, 4)
    }

    /// Returns freed heap memory to the kernel (malloc_trim).
    public static func trimMemory() { _ = berth_malloc_trim() }

    /// This process's environment.
    public static func environment() -> [String] {
        var out: [String] = []
        guard var p = berth_environ() else { return out }
        while let s = p.pointee {
            out.append(String(cString: s))
            p += 1
        }
        return out
    }
}
