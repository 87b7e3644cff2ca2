#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

extension ProcessControl {
    /// chroot(2) then chdir("/"): for a VM guest's agent, which runs the command in the root
    /// disk it mounted (no namespaces in a guest: the VM is the isolation).
    public static func changeRoot(_ path: String) throws {
        if chroot(path) != 0 { throw BerthError.sys("chroot \(path)") }
        if chdir("/") != 0 { throw BerthError.sys("chdir / in \(path)") }
    }

    /// reboot(2) with RB_POWER_OFF, after sync(2): ends a VM guest (QEMU then exits). Only
    /// PID 1 of a guest calls it; returns only by throwing.
    public static func powerOff() throws -> Never {
        sync()
        _ = berth_power_off()
        throw BerthError.sys("power off")
    }

    /// waitpid(-1): the next child of any kind to exit (a guest's PID 1 reaps orphans too).
    public static func waitAny() throws -> (pid: pid_t, status: ExitStatus)? {
        try wait(-1)
    }
}
