#if canImport(Glibc)
import Glibc
#endif

/// Signal names as Docker accepts them: `SIGTERM`, `TERM`, `term`, `15`, and the real-time
/// signals `RTMIN+3` / `RTMAX-1`.
public enum Signals {
    /// Linux signal numbers by name (without `SIG`).
    public static let byName: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "IOT": SIGABRT,
        "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
        "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": 16, "CHLD": SIGCHLD, "CONT": SIGCONT,
        "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU,
        "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO,
        "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// The number of a signal name or number; nil if unknown or out of range.
    public static func number(_ s: String) -> Int32? {
        if let n = Int32(s) { return n > 0 && n <= 64 ? n : nil }
        var n = s.uppercased()
        if n.hasPrefix("SIG") { n = String(n.dropFirst(3)) }
        if let sig = byName[n] { return sig }
        if n.hasPrefix("RTMIN") || n.hasPrefix("RTMAX") {
            let base: Int32 = n.hasPrefix("RTMIN") ? 34 : 64
            let rest = n.dropFirst(5)
            if rest.isEmpty { return base }
            guard let off = Int32(rest), (n.hasPrefix("RTMIN") ? off >= 0 : off <= 0) else { return nil }
            let v = base + off
            return (34...64).contains(v) ? v : nil
        }
        return nil
    }
}
