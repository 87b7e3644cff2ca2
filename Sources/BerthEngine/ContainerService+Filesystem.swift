#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthSystem

/// A change in a container's filesystem against its image (`docker diff`).
public struct FilesystemChange: Sendable, Equatable {
    /// Docker's kinds: 0 modified, 1 added, 2 deleted.
    public enum Kind: Int, Sendable { case modified = 0, added = 1, deleted = 2 }
    public var path: String
    public var kind: Kind
}

extension ContainerService {
    /// Runs `body` with the container's merged root filesystem mounted: the live one of a
    /// running container, else a temporary mount of the overlay (the container is marked busy
    /// meanwhile, so it cannot start under it).
    func withRootfs<T: Sendable>(_ ref: String, what: String, _ body: @escaping @Sendable (String) throws -> T) async throws -> T {
        let (c, mounted): (Container, Bool) = try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            let e = t.entries[id]!
            if e.container.state.isRunning && e.busy == nil { return (e.container, false) }
            if let busy = e.busy { throw BerthError.conflict("container \(e.container.name) is \(busy)") }
            t.entries[id]!.busy = what
            return (e.container, true)
        }
        defer { if mounted { table.withLock { t in if t.entries[c.id]?.busy == what { t.entries[c.id]!.busy = nil } } } }
        let rootfs = rootfsPath(c.id)
        if mounted { try mountRootfs(c) }
        defer { if mounted { try? Mounts.unmount(rootfs, detach: true) } }
        return try await BlockingWork.run { try body(rootfs) }
    }

    /// `GET /containers/{id}/export`: the container's whole filesystem as a tar, into `queue`.
    public func export(_ ref: String, into queue: ByteQueue) async throws {
        let c = try get(ref)
        try await withRootfs(ref, what: "exporting") { rootfs in
            var pending: [UInt8] = []
            pending.reserveCapacity(1 << 20)
            var tar = TarWriter { chunk in
                pending.append(contentsOf: chunk)
                if pending.count >= 1 << 20 {
                    try queue.putBlocking(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            try LayerDiff.write(upperDirectory: rootfs, to: &tar)
            try tar.finish()
            try queue.putBlocking(pending)
        }
        queue.close()
        publish(c, "export")
    }

    static let runtimeMountPoints: Set<String> = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/sbin/docker-init"]

    /// `GET /containers/{id}/changes`: what the container's upper layer changed, parents
    /// before children, as Docker lists them.
    public func changes(_ ref: String) throws -> [FilesystemChange] {
        let c = try get(ref)
        guard let record = images.store.record(c.image) else { throw BerthError.notFound("No such image: \(c.image)") }
        let lower = try record.layers.last.map { try images.store.snapshots.lowerDirs($0.chainID) } ?? []
        let upper = try FileAt.openDirectory(directory(c.id) + "/diff")
        defer { close(upper) }
        func inImage(_ path: String) -> Bool {
            // lstat: a symlink in the image counts as itself.
            lower.contains { ((try? FileAt.status(at: AT_FDCWD, $0 + path)) ?? nil) != nil }
        }
        var out: [FilesystemChange] = []
        func walk(_ dir: Int32, _ prefix: String) throws {
            for name in try FileAt.directoryEntries(fd: dir).sorted() {
                guard let st = try FileAt.status(at: dir, name) else { continue }
                let path = prefix + "/" + name
                if st.kind == .characterDevice && st.deviceMajor == 0 && st.deviceMinor == 0 {
                    out.append(FilesystemChange(path: path, kind: .deleted))
                    continue
                }
                let existed = inImage(path)
                // Empty mount points the runtime made for its own binds are not the user's changes.
                if !existed && st.kind == .regular && st.size == 0 && Self.runtimeMountPoints.contains(path) { continue }
                out.append(FilesystemChange(path: path, kind: existed ? .modified : .added))
                if st.kind == .directory {
                    let sub = try FileAt.openDirectory(at: dir, name)
                    defer { close(sub) }
                    try walk(sub, path)
                }
            }
        }
        try walk(upper, "")
        return out
    }
}

extension ContainerService {
    /// Bytes the container wrote (its upper layer) and that plus its image (`size=1`).
    public func sizes(_ c: Container) -> (rw: Int64, rootfs: Int64) {
        let rw = (try? FileAt.treeSize(directory(c.id) + "/diff")) ?? 0
        let image = images.store.record(c.image)?.size ?? 0
        return (rw, rw + image)
    }

    /// `POST /containers/prune`: removes every stopped container `keep` accepts. Returns their
    /// ids and the bytes their writable layers held.
    public func prune(matching keep: (Container) -> Bool) async -> (ids: [String], bytes: Int64) {
        var ids: [String] = [], bytes: Int64 = 0
        let candidates = table.withLock { t in
            t.entries.values.filter { !$0.container.state.isRunning && $0.busy == nil }.map(\.container)
        }
        for c in candidates where keep(c) {
            let size = sizes(c).rw
            do {
                try await remove(c.id, force: false, volumes: false)
                ids.append(c.id)
                bytes += size
            } catch {
                logger.debug("prune skipped a container", metadata: ["id": "\(c.id)", "error": "\(error)"])
            }
        }
        events.publish(type: "container", action: "prune", actorID: "", attributes: ["reclaimed": "\(bytes)"])
        return (ids, bytes)
    }
}
