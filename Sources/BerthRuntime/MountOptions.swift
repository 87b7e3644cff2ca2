import BerthCore
import BerthSystem

/// OCI mount `options` split into what mount(2) needs: flags, the propagation change (applied in a
/// call of its own), whether it is a bind mount, and the filesystem data string.
public struct MountOptions: Sendable, Equatable {
    public var flags: MountFlags = []
    /// Flags to clear (e.g. `rw`, `suid`), relevant for bind remounts.
    public var cleared: MountFlags = []
    public var propagation: MountFlags = []
    public var isBind = false
    public var data: [String] = []

    public init() {}

    /// Parses OCI/fstab-style options. Unknown words are passed to the filesystem as data, as runc
    /// does (`mode=755`, `size=65536k`, `newinstance`, …).
    public init(_ options: [String]) {
        for o in options {
            switch o {
            case "defaults": break
            case "ro": flags.insert(.readOnly); cleared.remove(.readOnly)
            case "rw": flags.remove(.readOnly); cleared.insert(.readOnly)
            case "nosuid": flags.insert(.noSuid)
            case "suid": flags.remove(.noSuid); cleared.insert(.noSuid)
            case "nodev": flags.insert(.noDev)
            case "dev": flags.remove(.noDev); cleared.insert(.noDev)
            case "noexec": flags.insert(.noExec)
            case "exec": flags.remove(.noExec); cleared.insert(.noExec)
            case "sync": flags.insert(.synchronous)
            case "async": flags.remove(.synchronous)
            case "dirsync": flags.insert(.dirSync)
            case "remount": flags.insert(.remount)
            case "mand": flags.insert(.mandLock)
            case "nomand": flags.remove(.mandLock)
            case "atime": flags.remove(.noAtime)
            case "noatime": flags.insert(.noAtime)
            case "diratime": flags.remove(.noDirAtime)
            case "nodiratime": flags.insert(.noDirAtime)
            case "relatime": flags.insert(.relAtime)
            case "norelatime": flags.remove(.relAtime)
            case "strictatime": flags.insert(.strictAtime)
            case "nostrictatime": flags.remove(.strictAtime)
            case "lazytime": flags.insert(.lazyTime)
            case "bind": isBind = true
            case "rbind": isBind = true; flags.insert(.recursive)
            case "private": propagation = .private
            case "rprivate": propagation = [.private, .recursive]
            case "shared": propagation = .shared
            case "rshared": propagation = [.shared, .recursive]
            case "slave": propagation = .slave
            case "rslave": propagation = [.slave, .recursive]
            case "unbindable": propagation = .unbindable
            case "runbindable": propagation = [.unbindable, .recursive]
            // Options Docker passes that have no mount(2) meaning here.
            case "z", "Z", "nocopy", "tmpcopyup", "idmap", "ridmap": break
            default: data.append(o)
            }
        }
    }

    /// The data string for mount(2), or nil.
    public var dataString: String? { data.isEmpty ? nil : data.joined(separator: ",") }

    /// The flags of a bind remount (`ro`, `nosuid`, … on top of a bind mount).
    public var remountFlags: MountFlags {
        flags.subtracting([.recursive, .remount, .bind])
    }
}
