#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// mount(2) flags.
public struct MountFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }
    public static let readOnly = MountFlags(rawValue: UInt(MS_RDONLY))
    public static let noSuid = MountFlags(rawValue: UInt(MS_NOSUID))
    public static let noDev = MountFlags(rawValue: UInt(MS_NODEV))
    public static let noExec = MountFlags(rawValue: UInt(MS_NOEXEC))
    public static let synchronous = MountFlags(rawValue: UInt(MS_SYNCHRONOUS))
    public static let remount = MountFlags(rawValue: UInt(MS_REMOUNT))
    public static let mandLock = MountFlags(rawValue: UInt(MS_MANDLOCK))
    public static let dirSync = MountFlags(rawValue: UInt(MS_DIRSYNC))
    public static let noAtime = MountFlags(rawValue: UInt(MS_NOATIME))
    public static let noDirAtime = MountFlags(rawValue: UInt(MS_NODIRATIME))
    public static let bind = MountFlags(rawValue: UInt(MS_BIND))
    public static let move = MountFlags(rawValue: UInt(MS_MOVE))
    public static let recursive = MountFlags(rawValue: UInt(MS_REC))
    public static let silent = MountFlags(rawValue: UInt(MS_SILENT))
    public static let unbindable = MountFlags(rawValue: UInt(MS_UNBINDABLE))
    public static let `private` = MountFlags(rawValue: UInt(MS_PRIVATE))
    public static let slave = MountFlags(rawValue: UInt(MS_SLAVE))
    public static let shared = MountFlags(rawValue: UInt(MS_SHARED))
    public static let relAtime = MountFlags(rawValue: UInt(MS_RELATIME))
    public static let strictAtime = MountFlags(rawValue: UInt(MS_STRICTATIME))
    public static let lazyTime = MountFlags(rawValue: UInt(1 << 25))
    /// The propagation flags (which must be applied in a mount call of their own).
    public static let propagation: MountFlags = [.private, .slave, .shared, .unbindable]
}

/// mount(2), umount2(2), pivot_root(2).
public enum Mounts {
    /// `mount(source, target, type, flags, data)`, error naming the target.
    public static func mount(source: String?, target: String, type: String?, flags: MountFlags = [], data: String? = nil) throws {
        let r = Glibc.mount(source ?? "none", target, type, flags.rawValue, data)
        if r != 0 { throw BerthError.sys("mount \(type ?? "bind") \(source ?? "") on \(target)") }
    }

    /// Sets propagation (`private`, `slave`, … with or without `recursive`) on a mount point.
    public static func setPropagation(_ target: String, _ flags: MountFlags) throws {
        if Glibc.mount(nil, target, nil, flags.rawValue, nil) != 0 {
            throw BerthError.sys("set propagation of \(target)")
        }
    }

    /// umount2 with MNT_DETACH when `detach`.
    public static func unmount(_ target: String, detach: Bool = false) throws {
        if umount2(target, detach ? Int32(MNT_DETACH) : 0) != 0 { throw BerthError.sys("unmount \(target)") }
    }

    /// Switches the root to `newRoot`, stacking the old root on top and detaching it
    /// (`pivot_root(".", ".")` as runc does: no put_old directory needed in the image).
    public static func pivotRoot(_ newRoot: String) throws {
        let oldRoot = Glibc.open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        if oldRoot < 0 { throw BerthError.sys("open /") }
        defer { Glibc.close(oldRoot) }
        let newFD = Glibc.open(newRoot, O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        if newFD < 0 { throw BerthError.sys("open \(newRoot)") }
        defer { Glibc.close(newFD) }
        if fchdir(newFD) != 0 { throw BerthError.sys("chdir \(newRoot)") }
        if berth_pivot_root(".", ".") != 0 { throw BerthError.sys("pivot_root \(newRoot)") }
        if fchdir(oldRoot) != 0 { throw BerthError.sys("chdir old root") }
        // The old root must not propagate its unmount back to the host.
        if Glibc.mount(nil, ".", nil, UInt(MS_SLAVE | MS_REC), nil) != 0 { throw BerthError.sys("make old root rslave") }
        if umount2(".", Int32(MNT_DETACH)) != 0 { throw BerthError.sys("detach old root") }
        if chdir("/") != 0 { throw BerthError.sys("chdir /") }
    }

    /// mknod(2) of a character or block device.
    public static func makeDevice(_ path: String, mode: mode_t, major: UInt32, minor: UInt32) throws {
        if mknod(path, mode, berth_makedev(major, minor)) != 0 { throw BerthError.sys("mknod \(path)") }
    }

    /// mknodat(2) relative to a directory descriptor; returns 0 or the errno (callers fall back
    /// to a bind mount on EPERM in user namespaces).
    public static func makeNode(at dirFD: Int32, name: String, mode: mode_t, major: UInt32, minor: UInt32) -> Int32 {
        mknodat(dirFD, name, mode, berth_makedev(major, minor)) == 0 ? 0 : errno
    }

    /// The flags a mount already has that a bind remount must repeat (the kernel refuses to drop
    /// nosuid/nodev/noexec/atime flags it locked, e.g. in a user namespace).
    public static func lockedFlags(of path: String) -> MountFlags {
        var sv = statvfs()
        guard statvfs(path, &sv) == 0 else { return [] }
        let f = UInt(sv.f_flag)
        // ST_NOSUID, ST_NODEV, ST_NOEXEC, ST_NOATIME, ST_NODIRATIME, ST_RELATIME.
        let table: [(UInt, MountFlags)] = [(2, .noSuid), (4, .noDev), (8, .noExec), (1024, .noAtime),
                                           (2048, .noDirAtime), (4096, .relAtime)]
        var out: MountFlags = []
        for (bit, flag) in table where f & bit != 0 { out.insert(flag) }
        return out
    }

    /// Remounts a bind mount with `flags` added to the ones it has.
    public static func remountBind(_ path: String, adding flags: MountFlags) throws {
        let all = MountFlags([.remount, .bind]).union(flags).union(lockedFlags(of: path))
        try mount(source: nil, target: path, type: nil, flags: all)
    }
}

/// O_PATH: a descriptor that names a file without opening it (Glibc's module leaves it out).
public let O_PATH: Int32 = 0o10000000
