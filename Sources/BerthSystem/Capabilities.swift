#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// Linux capabilities by name, and the calls that set them.
public enum Capabilities {
    /// Every capability name the kernel defines (index = number), `CAP_` prefixed.
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// The capability number of a name (`CAP_CHOWN` or `chown`, any case); nil if unknown.
    public static func number(of name: String) -> Int? {
        var n = name.uppercased()
        if !n.hasPrefix("CAP_") { n = "CAP_" + n }
        return names.firstIndex(of: n)
    }

    /// A 64-bit mask from names; unknown names are an error naming them.
    public static func mask(_ list: [String]?) throws -> UInt64 {
        var m: UInt64 = 0
        for name in list ?? [] {
            guard let n = number(of: name) else { throw BerthError.invalid("unknown capability \"\(name)\"") }
            m |= 1 << UInt64(n)
        }
        return m
    }

    /// The highest capability the running kernel supports.
    public static let lastCap: Int = {
        let n = Int(berth_cap_last_cap())
        return n > 0 ? n : names.count - 1
    }()

    /// The calling thread's bounding set (PR_CAPBSET_READ of every capability): what it can
    /// still grant itself or its children. "All capabilities" means these where the host (or an
    /// enclosing container) has dropped some.
    public static func boundingSet() -> UInt64 {
        var m: UInt64 = 0
        for cap in 0...min(lastCap, 63) where berth_prctl(PR_CAPBSET_READ, UInt(cap), 0, 0, 0) == 1 {
            m |= 1 << UInt64(cap)
        }
        return m
    }

    /// The names of the capabilities in a mask (numbers without a name are left out).
    public static func names(in mask: UInt64) -> [String] {
        names.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { names[$0] }
    }

    /// Drops every capability not in `keep` from the bounding set (needs CAP_SETPCAP).
    public static func limitBoundingSet(to keep: UInt64) throws {
        for cap in 0...lastCap where keep & (1 << UInt64(cap)) == 0 {
            if berth_prctl(PR_CAPBSET_DROP, UInt(cap), 0, 0, 0) != 0 && errno != EINVAL {
                throw BerthError.sys("drop \(cap < names.count ? names[cap] : "cap \(cap)") from bounding set")
            }
        }
    }

    /// capset(2) of the effective, permitted and inheritable sets.
    public static func set(effective: UInt64, permitted: UInt64, inheritable: UInt64) throws {
        if berth_capset(effective, permitted, inheritable) != 0 { throw BerthError.sys("capset") }
    }

    /// Raises the ambient capabilities in `mask` (each must be permitted and inheritable).
    public static func raiseAmbient(_ mask: UInt64) throws {
        for cap in 0...lastCap where mask & (1 << UInt64(cap)) != 0 {
            if berth_prctl(PR_CAP_AMBIENT, UInt(PR_CAP_AMBIENT_RAISE), UInt(cap), 0, 0) != 0 {
                throw BerthError.sys("raise ambient \(names[cap])")
            }
        }
    }
}
