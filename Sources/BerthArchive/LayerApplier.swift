#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Options of `LayerApplier.apply`.
public struct LayerApplyOptions: Sendable {
    /// Running in a user namespace (rootless): device nodes are skipped as Docker does there,
    /// `trusted.*` xattrs are skipped, and chown failures are ignored.
    public var inUserNamespace: Bool
    /// Added to every uid and gid from the archive (a user-namespace remap), if set.
    public var idMap: IDOffset?
    /// Refuse a file entry whose declared size is larger than this (bytes), if set.
    public var maxFileSize: Int64?
    /// The xattr that marks an opaque directory (`trusted.overlay.opaque`; with overlayfs'
    /// `userxattr` mount option, `user.overlay.opaque`).
    public var opaqueXattr: String
    /// The data copy buffer (allocated once per apply).
    public var bufferSize: Int
    /// Interpret `.wh.` entries as whiteouts (layers). Off for plain archives (`docker cp`),
    /// where such names are ordinary files.
    public var whiteouts = true
    /// Refuse to replace an existing directory with a non-directory or the reverse (`docker
    /// cp`'s `noOverwriteDirNonDir`) instead of removing what is there.
    public var noOverwriteDirNonDir = false

    /// A uid/gid shift (`container id + offset = host id`).
    public struct IDOffset: Sendable, Equatable {
        public var uid: Int64
        public var gid: Int64
        public init(uid: Int64, gid: Int64) { self.uid = uid; self.gid = gid }
    }

    public init(inUserNamespace: Bool = false, idMap: IDOffset? = nil, maxFileSize: Int64? = nil,
                opaqueXattr: String = "trusted.overlay.opaque", bufferSize: Int = 1 << 20) {
        self.inUserNamespace = inUserNamespace
        self.idMap = idMap
        self.maxFileSize = maxFileSize
        self.opaqueXattr = opaqueXattr
        self.bufferSize = bufferSize
    }
}

/// What `LayerApplier.apply` did.
public struct LayerApplyStats: Sendable, Equatable {
    /// Tar entries processed (metadata entries such as PAX headers not counted).
    public var entries = 0
    /// Regular files written.
    public var files = 0
    /// File data bytes written (the layer's uncompressed file content).
    public var bytes: Int64 = 0
    /// Whiteouts created (0/0 character devices) and directories marked opaque.
    public var whiteouts = 0
    public var opaqueDirectories = 0
    /// Device nodes not created (user namespace, or mknod refused with EPERM).
    public var skippedDevices = 0
    public init() {}
}

/// Applies an OCI/Docker layer tar onto a directory in overlayfs lower-dir form, safely.
///
/// Safety: nothing is written outside `root`. Names are cleaned (`TarPath`); every parent
/// directory is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to a
/// descriptor of `root`, so a symlink in the layer (`a -> /etc`, `a -> ../..`) resolves inside
/// `root`; the final component is created with `*at` calls that never follow it (`O_EXCL |
/// O_NOFOLLOW`, `mkdirat`, `symlinkat`, `mknodat`, `linkat` without `AT_SYMLINK_FOLLOW`);
/// an existing non-directory of the same name is removed first, never written through.
/// Hard-link targets are resolved inside `root` the same way. Symlink targets are stored
/// verbatim (they are data; nothing here follows them).
///
/// Whiteouts (OCI layer spec): `dir/.wh.name` becomes a 0/0 character device `dir/name`;
/// `dir/.wh..wh..opq` sets `trusted.overlay.opaque=y` on `dir`; other `.wh..wh.` names are
/// ignored. A later entry of the same path replaces an earlier one (a directory is kept and
/// its metadata updated when the new entry is a directory too).
///
/// The caller extracts into a fresh directory and renames it on success; after an error the
/// directory holds partial content.
public enum LayerApplier {
    /// Applies every entry of `reader` onto `root` (an existing directory).
    public static func apply(_ reader: inout TarReader, to root: String,
                             options: LayerApplyOptions = .init()) throws -> LayerApplyStats {
        let rootFD = try FileAt.openDirectory(root, flags: FileAt.pathOnly)
        defer { close(rootFD) }
        var state = ApplyState(rootFD: rootFD, options: options)
        defer { state.release() }
        while true {
            let header: TarHeader?
            do {
                header = try reader.next()
            } catch let e as BerthError {
                throw e.context("apply layer")
            }
            guard let h = header else { break }
            do {
                try state.apply(h, &reader)
            } catch let e as BerthError {
                throw e.context("apply layer: \(h.name)")
            }
        }
        try state.finishDirectoryTimes()
        return state.stats
    }
}

/// The per-apply state: root descriptor, the last parent directory opened, the copy buffer
/// and directory times applied at the end.
private struct ApplyState {
    let rootFD: Int32
    let options: LayerApplyOptions
    var stats = LayerApplyStats()
    let buffer: UnsafeMutableRawBufferPointer
    /// One cached parent: tar entries come grouped by directory. Dropped whenever anything is
    /// removed, since a removal can change what a path resolves to.
    var cachedPath: String?
    var cachedFD: Int32 = -1
    /// (cleaned path, seconds, nanoseconds): set last, since creating children changes them.
    var directoryTimes: [(String, Int64, Int32)] = []

    private static let ifChr: mode_t = 0o020000
    private static let ifBlk: mode_t = 0o060000
    private static let ifIfo: mode_t = 0o010000

    init(rootFD: Int32, options: LayerApplyOptions) {
        self.rootFD = rootFD
        self.options = options
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(options.bufferSize, 4096), alignment: 4096)
    }

    mutating func release() {
        dropCache()
        buffer.deallocate()
    }

    mutating func dropCache() {
        if cachedFD >= 0 && cachedFD != rootFD { close(cachedFD) }
        cachedFD = -1
        cachedPath = nil
    }

    // MARK: entries

    mutating func apply(_ h: TarHeader, _ reader: inout TarReader) throws {
        stats.entries += 1
        if case .other(let flag) = h.kind {
            let c = flag >= 0x20 && flag < 0x7f ? String(UnicodeScalar(flag)) : "0x" + String(flag, radix: 16)
            throw BerthError.unsupported("unsupported tar entry type '\(c)' for \(h.name)")
        }
        var comps = try TarPath.components(h.name)
        guard let base = comps.popLast() else {
            // The root itself ("." or "/"): only a directory makes sense; take its metadata.
            guard h.kind == .directory else { throw BerthError.invalid("entry for the root is not a directory") }
            try setDirectoryMetadata(".", h)
            return
        }
        let parentPath = comps.joined(separator: "/")

        if options.whiteouts && base.hasPrefix(".wh.") {
            if base == ".wh..wh..opq" {
                try markOpaque(parentPath)
            } else if !base.hasPrefix(".wh..wh.") {
                let target = String(base.dropFirst(4))
                guard !target.isEmpty, target != ".", target != ".." else {
                    throw BerthError.invalid("invalid whiteout name")
                }
                try whiteout(parentPath, target, h)
            }
            return
        }

        if h.kind == .file, let max = options.maxFileSize, h.size > max {
            throw BerthError.invalid("file of \(h.size) bytes is larger than the limit of \(max)")
        }
        let parent = try directory(parentPath)
        let path = parentPath.isEmpty ? base : parentPath + "/" + base

        switch h.kind {
        case .directory:
            if try !FileAt.makeDirectory(at: parent, base, mode: 0o700) {
                if try FileAt.status(at: parent, base)?.kind != .directory {
                    if options.noOverwriteDirNonDir {
                        throw BerthError.invalid("cannot overwrite non-directory \"\(path)\" with directory")
                    }
                    try removeExisting(parent, base)
                    try FileAt.makeDirectory(at: parent, base, mode: 0o700)
                }
            }
            try setDirectoryMetadata(path, h)
        case .file:
            let fd = try create(parent, base) { try FileAt.createFile(at: parent, base, mode: 0o600) }
            defer { close(fd) }
            while true {
                let n = try reader.read(into: buffer)
                if n == 0 { break }
                try FileAt.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), what: base)
                stats.bytes += Int64(n)
            }
            stats.files += 1
            try chown(h) { try FileAt.changeOwner(fd: fd, uid: $0, gid: $1, what: base) }
            try FileAt.changeMode(fd: fd, mode: h.mode, what: base)
            try setXattrs(h, symlink: false) { try FileAt.setXattr(fd: fd, $0, $1, what: base) }
            try FileAt.setTimes(fd: fd, seconds: h.mtime, nanoseconds: h.mtimeNanoseconds, what: base)
        case .symlink:
            try create(parent, base) { try FileAt.makeSymlink(target: h.linkName, at: parent, base) }
            try chown(h) { try FileAt.changeOwner(at: parent, base, uid: $0, gid: $1) }
            try setXattrs(h, symlink: true) { try FileAt.setXattr(at: parent, base, $0, $1) }
            try FileAt.setTimes(at: parent, base, seconds: h.mtime, nanoseconds: h.mtimeNanoseconds)
        case .hardLink:
            // The target is a name inside the layer (relative to the root), resolved in root.
            var target = try TarPath.components(h.linkName)
            guard let targetBase = target.popLast() else {
                throw BerthError.invalid("hard link to the root directory")
            }
            guard let targetDir = try FileAt.openDirectoryInRoot(rootFD, target.isEmpty ? "." : target.joined(separator: "/")) else {
                throw BerthError.notFound("hard link target not found: \(h.linkName)")
            }
            defer { close(targetDir) }
            try create(parent, base) { try FileAt.makeHardLink(from: targetDir, targetBase, at: parent, base) }
            // Metadata is the target's (one inode): nothing else to set.
        case .fifo, .characterDevice, .blockDevice:
            let type: mode_t = h.kind == .fifo ? Self.ifIfo : (h.kind == .characterDevice ? Self.ifChr : Self.ifBlk)
            if h.kind != .fifo && options.inUserNamespace {
                stats.skippedDevices += 1
                return
            }
            do {
                try create(parent, base) {
                    try FileAt.makeNode(at: parent, base, mode: type | 0o600, major: h.deviceMajor, minor: h.deviceMinor)
                }
            } catch let e as BerthError where e.errno == EPERM && h.kind != .fifo {
                stats.skippedDevices += 1
                return
            }
            try chown(h) { try FileAt.changeOwner(at: parent, base, uid: $0, gid: $1) }
            try FileAt.changeMode(at: parent, base, mode: h.mode)
            try setXattrs(h, symlink: false) { try FileAt.setXattr(at: parent, base, $0, $1) }
            try FileAt.setTimes(at: parent, base, seconds: h.mtime, nanoseconds: h.mtimeNanoseconds)
        case .other:
            break   // refused above
        }
    }

    // MARK: whiteouts

    mutating func whiteout(_ parentPath: String, _ name: String, _ h: TarHeader) throws {
        let parent = try directory(parentPath)
        try create(parent, name) { try FileAt.makeNode(at: parent, name, mode: Self.ifChr, major: 0, minor: 0) }
        try chown(h) { try FileAt.changeOwner(at: parent, name, uid: $0, gid: $1) }
        stats.whiteouts += 1
    }

    mutating func markOpaque(_ path: String) throws {
        _ = try directory(path)   // creates it if missing
        guard let fd = try FileAt.openDirectoryInRoot(rootFD, path.isEmpty ? "." : path, flags: O_RDONLY, noFollow: true) else {
            throw BerthError.notFound("opaque directory vanished: \(path)")
        }
        defer { close(fd) }
        try FileAt.setXattr(fd: fd, options.opaqueXattr, Array("y".utf8), what: path.isEmpty ? "/" : path)
        stats.opaqueDirectories += 1
    }

    // MARK: helpers

    /// An `O_PATH` descriptor of the directory `path` inside the root (cached; do not close),
    /// creating missing directories (0755, as Docker does for implied parents).
    mutating func directory(_ path: String) throws -> Int32 {
        if path.isEmpty { return rootFD }
        if let cachedPath, cachedPath == path { return cachedFD }
        let fd = try openOrCreate(path)
        dropCache()
        cachedPath = path
        cachedFD = fd
        return fd
    }

    private func openOrCreate(_ path: String) throws -> Int32 {
        if path.isEmpty { return try sysCall("dup root") { dup(rootFD) } }
        if let fd = try FileAt.openDirectoryInRoot(rootFD, path) { return fd }
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/"))
        let parentPath = slash.map { String(path[..<$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let parent = try openOrCreate(parentPath)
        defer { close(parent) }
        try FileAt.makeDirectory(at: parent, name, mode: 0o755)
        guard let fd = try FileAt.openDirectoryInRoot(rootFD, path) else {
            throw BerthError.invalid("cannot create directory \(path): a dangling symlink is in the way")
        }
        return fd
    }

    /// Runs `body` (a create call); if the name exists, removes it (recursively for a
    /// directory) and runs `body` once more.
    @discardableResult
    mutating func create<T>(_ parent: Int32, _ name: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as BerthError where e.errno == EEXIST {
            try removeExisting(parent, name)
            return try body()
        }
    }

    mutating func removeExisting(_ parent: Int32, _ name: String) throws {
        if options.noOverwriteDirNonDir, try FileAt.status(at: parent, name)?.kind == .directory {
            throw BerthError.invalid("cannot overwrite directory \"\(name)\" with non-directory")
        }
        // The cached parent may be the thing removed (or reached through it).
        let keep = cachedFD
        if parent == keep {
            // Keep `parent` valid for the caller: only forget the path, the fd closes later.
            cachedPath = "\u{0}stale"
        } else {
            dropCache()
        }
        try FileAt.removeTree(at: parent, name)
    }

    /// Metadata of a directory: owner, mode, xattrs now; times at the end.
    mutating func setDirectoryMetadata(_ path: String, _ h: TarHeader) throws {
        guard let fd = try FileAt.openDirectoryInRoot(rootFD, path, flags: O_RDONLY, noFollow: true) else {
            throw BerthError.notFound("directory vanished: \(path)")
        }
        defer { close(fd) }
        try chown(h) { try FileAt.changeOwner(fd: fd, uid: $0, gid: $1, what: path) }
        try FileAt.changeMode(fd: fd, mode: h.mode, what: path)
        try setXattrs(h, symlink: false) { try FileAt.setXattr(fd: fd, $0, $1, what: path) }
        directoryTimes.append((path, h.mtime, h.mtimeNanoseconds))
    }

    func finishDirectoryTimes() throws {
        for (path, seconds, nanoseconds) in directoryTimes.reversed() {
            // A directory replaced or removed by a later entry no longer takes these times.
            let fd: Int32?
            do {
                fd = try FileAt.openDirectoryInRoot(rootFD, path, flags: O_RDONLY, noFollow: true)
            } catch let e as BerthError where e.errno == ENOTDIR || e.errno == ELOOP {
                continue
            }
            guard let fd else { continue }
            defer { close(fd) }
            try FileAt.setTimes(fd: fd, seconds: seconds, nanoseconds: nanoseconds, what: path)
        }
    }

    func chown(_ h: TarHeader, _ body: (UInt32, UInt32) throws -> Void) throws {
        var uid = h.uid, gid = h.gid
        if let map = options.idMap { uid += map.uid; gid += map.gid }
        guard (0..<Int64(UInt32.max)).contains(uid), (0..<Int64(UInt32.max)).contains(gid) else {
            throw BerthError.invalid("uid/gid \(uid):\(gid) out of range")
        }
        do {
            try body(UInt32(uid), UInt32(gid))
        } catch let e as BerthError where options.inUserNamespace && (e.errno == EINVAL || e.errno == EPERM) {
            // Unmapped ids in a user namespace: keep our own, as rootless Docker does.
        }
    }

    func setXattrs(_ h: TarHeader, symlink: Bool, _ body: (String, [UInt8]) throws -> Void) throws {
        guard !h.xattrs.isEmpty else { return }
        for key in h.xattrs.keys.sorted() {
            guard let value = h.xattrs[key] else { continue }
            // Overlay's own attributes would change what the merged view shows: never from a tar.
            if key.hasPrefix("trusted.overlay.") || key.hasPrefix("user.overlay.") { continue }
            if options.inUserNamespace && key.hasPrefix("trusted.") { continue }
            do {
                try body(key, value)
            } catch let e as BerthError {
                let notSupported = e.errno == EOPNOTSUPP || e.errno == ENOTSUP
                // user.* xattrs cannot be set on symlinks (EPERM): skipped like unsupported ones.
                if !key.hasPrefix("security.") && (notSupported || (symlink && e.errno == EPERM)) { continue }
                throw e
            }
        }
    }
}
