#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// Builds the container's filesystem view inside its new mount namespace. Runs in the init
/// child, before pivot_root (`prepare`) and after it (`finish`). Every path inside the rootfs is
/// resolved with openat2(RESOLVE_IN_ROOT), so symlinks in an image can't point a mount outside it.
struct RootfsSetup {
    var bundle: RuntimeBundle
    var cgroupLayout: CgroupLayout?
    var cgroupPath: String

    var spec: RuntimeSpec { bundle.spec }
    var rootfs: String { bundle.rootfs }

    /// Docker's default device nodes (created when /dev is a tmpfs of ours).
    static let defaultDevices: [(path: String, major: UInt32, minor: UInt32)] = [
        ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
        ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
    ]

    /// The spec's mounts up to the first cgroup mount: they can be made before the init sits in
    /// its cgroup (a cgroup mount can't: in a cgroup namespace it shows the namespace's root).
    var mountsBeforeCgroup: Int {
        (spec.mounts ?? []).firstIndex { $0.type == "cgroup" || $0.type == "cgroup2" } ?? (spec.mounts ?? []).count
    }

    /// Before pivot_root, part one: propagation, the rootfs bind, and the spec's mounts before
    /// the first cgroup mount. Returns the rootfs descriptor for `prepareRest`.
    func prepareStart() throws -> Int32 {
        var rootProp: MountFlags = [.slave, .recursive]
        if let p = spec.linux?.rootfsPropagation, !p.isEmpty {
            let o = MountOptions([p])
            guard !o.propagation.isEmpty else {
                throw BerthError.invalid("linux.rootfsPropagation: unknown value \"\(p)\"")
            }
            rootProp = o.propagation
        }
        // Nothing we mount may propagate back to the host.
        try Mounts.setPropagation("/", rootProp.contains(.shared) ? [.slave, .recursive] : rootProp)
        try Mounts.mount(source: rootfs, target: rootfs, type: nil, flags: [.bind, .recursive])
        if rootProp.contains(.shared) { try Mounts.setPropagation(rootfs, rootProp) }

        let rootFD = try FD.open(rootfs, O_PATH | O_DIRECTORY)
        for m in (spec.mounts ?? [])[..<mountsBeforeCgroup] { try mount(m, rootFD: rootFD) }
        return rootFD
    }

    /// Before pivot_root, part two (once in the cgroup and its namespace): the remaining mounts
    /// in order, then /dev's nodes. Closes `rootFD`.
    func prepareRest(rootFD: Int32) throws {
        defer { FD.close(rootFD) }
        let mounts = spec.mounts ?? []
        for m in mounts[mountsBeforeCgroup...] { try mount(m, rootFD: rootFD) }
        if mounts.contains(where: { $0.destination == "/dev" && ($0.type == "tmpfs" || $0.type == nil) }) {
            try makeDefaultDevices(rootFD: rootFD)
        }
        for d in spec.linux?.devices ?? [] { try makeDevice(d, rootFD: rootFD) }
    }

    /// After pivot_root: sysctls, masked and read-only paths, read-only root.
    func finish() throws {
        for (key, value) in spec.linux?.sysctl ?? [:] {
            guard !key.contains("/") && !key.contains("..") else {
                throw BerthError.invalid("linux.sysctl: invalid key \"\(key)\"")
            }
            let path = "/proc/sys/" + key.replacingDots()
            do { try FileSystem.writeExisting(path, value) } catch let e as BerthError {
                throw BerthError(e.code, "sysctl \(key)=\(value): \(e.message)", errno: e.errno)
            }
        }
        for p in spec.linux?.maskedPaths ?? [] { try mask(p) }
        for p in spec.linux?.readonlyPaths ?? [] { try makeReadOnly(p) }
        if spec.root?.readonly ?? false {
            try remountBind("/", flags: .readOnly)
        }
    }

    // MARK: mounts

    private func mount(_ m: RuntimeSpec.Mount, rootFD: Int32) throws {
        let opts = MountOptions(m.options ?? [])
        let type = m.type ?? (opts.isBind ? "bind" : "none")
        let isBind = opts.isBind || type == "bind"
        do {
            if type == "cgroup" || type == "cgroup2" {
                try mountCgroups(m, opts: opts, rootFD: rootFD)
                return
            }
            var sourceIsDir = true
            var source = m.source ?? type
            if isBind {
                guard let s = m.source else { throw BerthError.invalid("bind mount needs a source") }
                source = s.hasPrefix("/") ? s : "\(bundle.path)/\(s)"
                var st = stat()
                if stat(source, &st) != 0 { throw BerthError.sys("stat bind source \(source)") }
                sourceIsDir = (st.st_mode & S_IFMT) == S_IFDIR
            }
            let target = try createTarget(m.destination, directory: sourceIsDir, rootFD: rootFD)
            defer { FD.close(target) }
            let targetPath = FD.procPath(target)
            if isBind {
                try Mounts.mount(source: source, target: targetPath, type: nil,
                                 flags: MountFlags.bind.union(opts.flags.intersection(.recursive)))
                if !opts.remountFlags.isEmpty {
                    // A remount acts on the mount now on top of the target, so reopen it.
                    let top = try FD.openInRoot(rootFD, m.destination, O_PATH)
                    defer { FD.close(top) }
                    try remountBind(FD.procPath(top), flags: opts.remountFlags)
                }
            } else {
                try Mounts.mount(source: source, target: targetPath, type: type,
                                 flags: opts.flags.subtracting([.recursive]), data: opts.dataString)
            }
            if !opts.propagation.isEmpty {
                let top = try FD.openInRoot(rootFD, m.destination, O_PATH)
                defer { FD.close(top) }
                try Mounts.setPropagation(FD.procPath(top), opts.propagation)
            }
        } catch let e as BerthError {
            throw e.context("mount \(m.destination)")
        }
    }

    private func remountBind(_ path: String, flags: MountFlags) throws {
        try Mounts.remountBind(path, adding: flags)
    }

    /// Makes the mount now at `dest` read-only. `dest` is opened afresh: a descriptor taken
    /// before the mount names the directory underneath it, not the mount.
    private func remountBindInRoot(_ dest: String, rootFD: Int32) throws {
        let top = try FD.openInRoot(rootFD, dest, O_PATH)
        defer { FD.close(top) }
        try Mounts.remountBind(FD.procPath(top), adding: .readOnly)
    }

    /// Creates the mount target inside the rootfs (directories along the way, and the final
    /// component as a directory or an empty file) and returns an O_PATH descriptor of it.
    private func createTarget(_ dest: String, directory: Bool, rootFD: Int32) throws -> Int32 {
        if let fd = try? FD.openInRoot(rootFD, dest, O_PATH) { return fd }
        let parts = dest.split(separator: "/").map(String.init)
        var dirFD = try FD.openInRoot(rootFD, "/", O_PATH | O_DIRECTORY)
        var prefix = ""
        for (i, part) in parts.enumerated() {
            prefix += "/" + part
            let last = i == parts.count - 1
            if let next = try? FD.openInRoot(rootFD, prefix, O_PATH) {
                FD.close(dirFD)
                dirFD = next
                continue
            }
            // The parent is resolved inside the root; create the component under it.
            let parentPath = FD.procPath(dirFD)
            let path = "\(parentPath)/\(part)"
            if last && !directory {
                let f = Glibc.open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
                if f < 0 && errno != EEXIST { FD.close(dirFD); throw BerthError.sys("create \(prefix)") }
                if f >= 0 { FD.close(f) }
            } else if mkdir(path, 0o755) != 0 && errno != EEXIST {
                FD.close(dirFD)
                throw BerthError.sys("mkdir \(prefix)")
            }
            let next = try FD.openInRoot(rootFD, prefix, O_PATH)
            FD.close(dirFD)
            dirFD = next
        }
        return dirFD
    }

    /// `cgroup` mounts: a tmpfs with one mount per v1 hierarchy (and `unified` on hybrid hosts),
    /// or the cgroup2 filesystem on unified hosts. Inside a cgroup namespace the hierarchies are
    /// mounted afresh (rooted at the namespace); without one the container's own cgroup
    /// directories are bind-mounted.
    private func mountCgroups(_ m: RuntimeSpec.Mount, opts: MountOptions, rootFD: Int32) throws {
        guard let layout = cgroupLayout else { return }
        let target = try createTarget(m.destination, directory: true, rootFD: rootFD)
        defer { FD.close(target) }
        let path = FD.procPath(target)
        let ownNS = bundle.has(.cgroup)
        let flags = opts.flags.subtracting([.recursive, .readOnly]).union([.noSuid, .noDev, .noExec])
        if layout.mode == .unified {
            if ownNS {
                try Mounts.mount(source: "cgroup2", target: path, type: "cgroup2", flags: flags.union(opts.flags.intersection(.readOnly)))
            } else if let v2 = layout.unified {
                try Mounts.mount(source: v2.directory(for: cgroupPath), target: path, type: nil, flags: [.bind])
                if opts.flags.contains(.readOnly) { try remountBindInRoot(m.destination, rootFD: rootFD) }
            }
            return
        }
        try Mounts.mount(source: "tmpfs", target: path, type: "tmpfs", flags: flags, data: "mode=755")
        for h in layout.hierarchyMounts {
            let sub = "\(m.destination)/\(h.name)"
            let fd = try createTarget(sub, directory: true, rootFD: rootFD)
            defer { FD.close(fd) }
            if ownNS {
                try Mounts.mount(source: "cgroup", target: FD.procPath(fd), type: h.fsType,
                                 flags: flags.union(opts.flags.intersection(.readOnly)), data: h.superOptions)
            } else {
                try Mounts.mount(source: h.directory(for: cgroupPath), target: FD.procPath(fd), type: nil, flags: [.bind])
                if opts.flags.contains(.readOnly) { try remountBindInRoot(sub, rootFD: rootFD) }
            }
        }
        if opts.flags.contains(.readOnly) {
            // The tmpfs now covers the directory `target` names: reopen to reach the tmpfs.
            let top = try FD.openInRoot(rootFD, m.destination, O_PATH)
            defer { FD.close(top) }
            try Mounts.mount(source: nil, target: FD.procPath(top), type: nil,
                             flags: MountFlags([.remount, .readOnly]).union(flags), data: "mode=755")
        }
    }

    // MARK: devices

    private func makeDefaultDevices(rootFD: Int32) throws {
        for d in RootfsSetup.defaultDevices {
            try makeNode(d.path, mode: S_IFCHR | 0o666, major: d.major, minor: d.minor, uid: 0, gid: 0, rootFD: rootFD)
        }
        let links = [("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                     ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
                     ("pts/ptmx", "/dev/ptmx"), ("/proc/kcore", "/dev/core")]
        let devFD = try FD.openInRoot(rootFD, "/dev", O_PATH | O_DIRECTORY)
        defer { FD.close(devFD) }
        for (target, link) in links {
            let name = String(link.dropFirst(5))
            if symlinkat(target, devFD, name) != 0 && errno != EEXIST {
                throw BerthError.sys("symlink \(link)")
            }
        }
    }

    private func makeDevice(_ d: RuntimeSpec.Device, rootFD: Int32) throws {
        let kind: mode_t
        switch d.type {
        case "c", "u": kind = S_IFCHR
        case "b": kind = S_IFBLK
        case "p": kind = S_IFIFO
        default: throw BerthError.invalid("linux.devices: \(d.path): unknown device type \"\(d.type)\"")
        }
        try makeNode(d.path, mode: kind | mode_t(d.fileMode ?? 0o666 & 0o7777), major: UInt32(d.major ?? 0),
                     minor: UInt32(d.minor ?? 0), uid: d.uid ?? 0, gid: d.gid ?? 0, rootFD: rootFD)
    }

    /// mknod inside the rootfs; in a user namespace (where mknod is refused) bind-mount the host's
    /// node instead, as runc does.
    private func makeNode(_ path: String, mode: mode_t, major: UInt32, minor: UInt32, uid: UInt32, gid: UInt32, rootFD: Int32) throws {
        guard path.hasPrefix("/dev/") else { throw BerthError.invalid("device path \(path) must be under /dev") }
        let parent = FileSystem.parentDirectory(of: path)
        let dirFD = try createTarget(parent, directory: true, rootFD: rootFD)
        defer { FD.close(dirFD) }
        let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        unlinkat(dirFD, name, 0)
        let mknodErr = Mounts.makeNode(at: dirFD, name: name, mode: mode, major: major, minor: minor)
        if mknodErr == 0 {
            fchownat(dirFD, name, uid, gid, AT_SYMLINK_NOFOLLOW)
            fchmodat(dirFD, name, mode & 0o7777, 0)
            return
        }
        guard mknodErr == EPERM else { throw BerthError.sys("mknod \(path)", mknodErr) }
        let f = Glibc.openat(dirFD, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        if f < 0 { throw BerthError.sys("create \(path)") }
        FD.close(f)
        let target = try FD.openInRoot(rootFD, path, O_PATH)
        defer { FD.close(target) }
        try Mounts.mount(source: path, target: FD.procPath(target), type: nil, flags: [.bind])
    }

    // MARK: masking

    /// Masks a path: /dev/null over a file, an empty read-only tmpfs over a directory.
    private func mask(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try Mounts.mount(source: "tmpfs", target: path, type: "tmpfs", flags: .readOnly)
        } else {
            try Mounts.mount(source: "/dev/null", target: path, type: nil, flags: .bind)
        }
    }

    private func makeReadOnly(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 { return }
        try Mounts.mount(source: path, target: path, type: nil, flags: [.bind, .recursive])
        try remountBind(path, flags: .readOnly)
    }
}

extension String {
    /// `net.ipv4.ip_forward` → `net/ipv4/ip_forward`.
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
