#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthSystem

/// What `HEAD /containers/{id}/archive` says about a path (Docker's `PathStat`).
public struct ContainerPathStat: Sendable, Equatable {
    public var name: String
    public var size: Int64
    /// Go's `os.FileMode` bits: permissions plus type bits (directory 1<<31, symlink 1<<27…).
    public var mode: UInt32
    /// RFC 3339.
    public var mtime: String
    public var linkTarget: String
}

extension ContainerService {
    /// Runs `body` with a descriptor of the container's root as the container sees it: for a
    /// running container `/proc/<pid>/root` (its own mount namespace, so volumes and binds are
    /// included), else its overlay mounted for the call. Every path is then resolved from that
    /// descriptor with `RESOLVE_IN_ROOT`: `..` and symlinks cannot leave the container.
    func withContainerRoot<T: Sendable>(_ ref: String, what: String,
                                        _ body: @escaping @Sendable (Int32) throws -> T) async throws -> T {
        let c = try get(ref)
        if c.state.isRunning && c.state.pid > 0 {
            let path = "/proc/\(c.state.pid)/root"
            return try await BlockingWork.run {
                let fd = try FileAt.openDirectory(path, flags: FileAt.pathOnly)
                defer { close(fd) }
                return try body(fd)
            }
        }
        return try await withRootfs(ref, what: what) { rootfs in
            let fd = try FileAt.openDirectory(rootfs, flags: FileAt.pathOnly)
            defer { close(fd) }
            return try body(fd)
        }
    }

    /// A container path as (parent directory, final component), relative to the root; the
    /// root itself is ("", ".").
    static func splitContainerPath(_ path: String) throws -> (parent: String, base: String) {
        guard path.hasPrefix("/") else { throw BerthError.invalid("path \"\(path)\" is not absolute") }
        var parts = path.split(separator: "/").map(String.init)
        let base = parts.popLast() ?? "."
        return (parts.joined(separator: "/"), base)
    }

    /// Opens the parent of `path` inside `root` and checks the entry: throws Docker's "Could not
    /// find the file" (404) when anything is missing.
    static func lookup(_ root: Int32, _ path: String, container: String) throws -> (parent: Int32, base: String, status: FileStatus) {
        let (parentPath, base) = try splitContainerPath(path)
        let notFound = BerthError.notFound("Could not find the file \(path) in container \(container)")
        guard let parent = try FileAt.openDirectoryInRoot(root, parentPath.isEmpty ? "." : parentPath, flags: O_RDONLY) else {
            throw notFound
        }
        if base == "." {
            return (parent, ".", try FileAt.status(fd: parent))
        }
        guard let st = try FileAt.status(at: parent, base) else { close(parent); throw notFound }
        if path.hasSuffix("/") && st.kind != .directory {
            close(parent)
            throw BerthError.invalid("not a directory: \(path)")
        }
        return (parent, base, st)
    }

    static func goMode(_ st: FileStatus) -> UInt32 {
        var m = st.permissions & 0o777
        if st.permissions & 0o4000 != 0 { m |= 1 << 23 }
        if st.permissions & 0o2000 != 0 { m |= 1 << 22 }
        if st.permissions & 0o1000 != 0 { m |= 1 << 20 }
        switch st.kind {
        case .directory: m |= 1 << 31
        case .symlink: m |= 1 << 27
        case .fifo: m |= 1 << 25
        case .socket: m |= 1 << 24
        case .blockDevice: m |= 1 << 26
        case .characterDevice: m |= 1 << 26 | 1 << 21
        case .regular, .unknown: break
        }
        return m
    }

    /// `HEAD /containers/{id}/archive?path=`.
    public func archiveStat(_ ref: String, path: String) async throws -> ContainerPathStat {
        let name = try get(ref).name
        return try await withContainerRoot(ref, what: "copying") { root in
            let (parent, base, st) = try Self.lookup(root, path, container: name)
            defer { close(parent) }
            let link = st.kind == .symlink ? (try? FileAt.readLink(at: parent, base)) ?? "" : ""
            let shown = base == "." ? (path.split(separator: "/").last.map(String.init) ?? "/") : base
            return ContainerPathStat(name: shown, size: st.size, mode: Self.goMode(st),
                                     mtime: WallClock(seconds: st.mtime, nanoseconds: st.mtimeNanoseconds).rfc3339Nano,
                                     linkTarget: link)
        }
    }

    /// `GET /containers/{id}/archive?path=`: the file or directory as a tar whose top entry is
    /// named like the path's last component, into `queue`.
    public func archiveGet(_ ref: String, path: String, into queue: ByteQueue) async throws {
        let c = try get(ref)
        try await withContainerRoot(ref, what: "copying") { root in
            let (parent, base, _) = try Self.lookup(root, path, container: c.name)
            defer { close(parent) }
            var pending: [UInt8] = []
            var tar = TarWriter { chunk in
                pending.append(contentsOf: chunk)
                if pending.count >= 1 << 20 {
                    try queue.putBlocking(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            if base == "." {
                // The directory itself: its contents under "./".
                let dup = try FileAt.openDirectory(at: parent, ".")
                defer { close(dup) }
                var h = TarHeader(name: "./", kind: .directory, mode: (try FileAt.status(fd: dup)).permissions)
                h.mtime = (try FileAt.status(fd: dup)).mtime
                try tar.write(header: h)
                for child in try FileAt.directoryEntries(fd: dup).sorted() {
                    try LayerDiff.write(entry: child, in: dup, as: "./" + child, to: &tar)
                }
            } else {
                try LayerDiff.write(entry: base, in: parent, as: base, to: &tar)
            }
            try tar.finish()
            try queue.putBlocking(pending)
        }
        queue.close()
        publish(c, "archive-path")
    }

    /// `PUT /containers/{id}/archive?path=`: extracts a tar into the directory `path`, inside
    /// the container (entries cannot escape it). `noOverwriteDirNonDir` refuses replacing a
    /// directory with a non-directory and the reverse.
    public func archivePut(_ ref: String, path: String, from queue: ByteQueue, noOverwriteDirNonDir: Bool) async throws {
        let c = try get(ref)
        if c.hostConfig.ReadonlyRootfs ?? false {
            throw BerthError.permissionDenied("container rootfs is marked read-only")
        }
        try await withContainerRoot(ref, what: "copying") { root in
            defer { queue.abandon() }
            let (parent, base, st) = try Self.lookup(root, path, container: c.name)
            defer { close(parent) }
            guard st.kind == .directory else { throw BerthError.invalid("extraction point is not a directory") }
            let target = base == "." ? parent : try FileAt.openDirectory(at: parent, base)
            defer { if target != parent { close(target) } }
            var reader = TarReader(source: { try queue.read(into: $0) })
            var options = LayerApplyOptions()
            options.whiteouts = false
            if noOverwriteDirNonDir { options.noOverwriteDirNonDir = true }
            do {
                _ = try LayerApplier.apply(&reader, to: "/proc/self/fd/\(target)", options: options)
            } catch let e as BerthError {
                throw BerthError(e.code, "copy into \(path): \(e.message)", errno: e.errno)
            }
        }
        publish(c, "extract-to-dir")
    }
}
