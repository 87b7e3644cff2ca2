#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// A Linux namespace kind, named as the OCI spec names it.
public enum NamespaceKind: String, Sendable, CaseIterable {
    case pid, network, mount, ipc, uts, user, cgroup, time

    /// Parses an OCI namespace type; `nil` for an unknown one.
    public init?(ociType: String) { self.init(rawValue: ociType) }

    /// The CLONE_NEW* flag.
    public var cloneFlag: UInt64 {
        switch self {
        case .pid: return UInt64(CLONE_NEWPID)
        case .network: return UInt64(CLONE_NEWNET)
        case .mount: return UInt64(CLONE_NEWNS)
        case .ipc: return UInt64(CLONE_NEWIPC)
        case .uts: return UInt64(CLONE_NEWUTS)
        case .user: return UInt64(CLONE_NEWUSER)
        case .cgroup: return UInt64(CLONE_NEWCGROUP)
        case .time: return 0x80
        }
    }

    /// The file name under `/proc/PID/ns/`.
    public var procName: String {
        switch self {
        case .network: return "net"
        case .mount: return "mnt"
        default: return rawValue
        }
    }
}

/// setns(2) and unshare(2).
public enum Namespaces {
    /// Joins the namespace at `path` (e.g. `/proc/123/ns/net`).
    public static func join(_ path: String, _ kind: NamespaceKind) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw BerthError.sys("open \(kind.rawValue) namespace \(path)") }
        defer { Glibc.close(fd) }
        try join(fd: fd, kind, what: path)
    }

    /// Opens a process's namespace of `kind` (`/proc/<pid>/ns/…`) read-only, close-on-exec;
    /// the caller closes the descriptor.
    public static func open(pid: Int32, _ kind: NamespaceKind) throws -> Int32 {
        let name = kind == .network ? "net" : kind == .mount ? "mnt" : kind.rawValue
        return try FD.open("/proc/\(pid)/ns/\(name)", O_RDONLY | O_CLOEXEC)
    }

    /// Joins the namespace open at `fd`.
    public static func join(fd: Int32, _ kind: NamespaceKind, what: String) throws {
        if berth_setns(fd, Int32(truncatingIfNeeded: kind.cloneFlag)) != 0 {
            throw BerthError.sys("join \(kind.rawValue) namespace \(what)")
        }
    }

    /// unshare(2) of the given kinds.
    public static func unshare(_ kinds: [NamespaceKind]) throws {
        let flags = kinds.reduce(UInt64(0)) { $0 | $1.cloneFlag }
        if berth_unshare(Int32(truncatingIfNeeded: flags)) != 0 {
            throw BerthError.sys("unshare \(kinds.map(\.rawValue).joined(separator: ","))")
        }
    }
}
