#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Writes an overlayfs upper directory as an OCI layer tar: whiteout devices (0/0 character
/// devices) become `.wh.<name>` entries, directories marked opaque
/// (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry after their own, files with several
/// links are written once and then as hard links to the first name, and names are sorted
/// bytewise at every level so equal trees give identical tars.
///
/// Limits: sockets are skipped (as Docker does); overlay `redirect_dir` and `metacopy`
/// upper dirs are not understood (mount without them); user and group names are left empty;
/// times are whole seconds.
public enum LayerDiff {
    /// Writes every entry below `upperDirectory` (not the directory itself) to `writer`, and
    /// does not call `finish()`. Returns the number of entries written.
    /// `placeholders` are paths (relative, `etc/hosts`) left out when they are an empty file or
    /// an empty directory: the mount points a container's runtime made, which are not changes
    /// of the container (Docker keeps them in a separate init layer).
    @discardableResult
    public static func write(upperDirectory: String, to writer: inout TarWriter,
                             opaqueXattr: String = "trusted.overlay.opaque", placeholders: Set<String> = []) throws -> Int {
        let root = try FileAt.openDirectory(upperDirectory)
        defer { close(root) }
        var state = DiffState(opaqueXattr: opaqueXattr)
        state.placeholders = placeholders
        defer { state.buffer.deallocate() }
        try state.walk(root, prefix: "", &writer)
        return state.entries
    }

    /// Writes the entry `name` of the open directory `parent` (a file, or a directory with
    /// everything below it) as a plain archive whose top entry is called `rename` (`docker cp`
    /// out of a container). Nothing is followed; 0/0 character devices are written as devices.
    @discardableResult
    public static func write(entry name: String, in parent: Int32, as rename: String, to writer: inout TarWriter) throws -> Int {
        var state = DiffState(opaqueXattr: "trusted.overlay.opaque")
        state.plain = true
        defer { state.buffer.deallocate() }
        try state.walk(parent, prefix: "", only: name, renamedTo: rename, &writer)
        return state.entries
    }
}

private struct DiffState {
    let opaqueXattr: String
    var entries = 0
    /// A plain archive (no whiteout or opaque translation).
    var plain = false
    /// Paths skipped when empty (see `write(upperDirectory:…)`).
    var placeholders: Set<String> = []
    /// (device, inode) of files with several links → the first name written.
    var links: [[UInt64]: String] = [:]
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)

    init(opaqueXattr: String) { self.opaqueXattr = opaqueXattr }

    mutating func walk(_ dir: Int32, prefix: String, only: String? = nil, renamedTo: String? = nil,
                       _ writer: inout TarWriter) throws {
        let names = try only.map { [$0] } ?? FileAt.directoryEntries(fd: dir).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            guard let st = try FileAt.status(at: dir, name) else { continue }   // vanished
            let path = prefix + (renamedTo ?? name)
            if !placeholders.isEmpty, placeholders.contains(path), try isEmpty(dir, name, st) { continue }
            var h = TarHeader(name: path, kind: .file, mode: st.permissions)
            h.uid = Int64(st.uid)
            h.gid = Int64(st.gid)
            h.mtime = st.mtime
            switch st.kind {
            case .directory:
                let xattrs = try FileAt.xattrs(at: dir, name)
                h.name = path + "/"
                h.kind = .directory
                h.xattrs = filtered(xattrs)
                try emit(h, &writer)
                if !plain && xattrs.contains(where: { $0.key == opaqueXattr && $0.value == Array("y".utf8) }) {
                    var o = TarHeader(name: path + "/.wh..wh..opq", kind: .file, mode: st.permissions & 0o777)
                    o.uid = h.uid
                    o.gid = h.gid
                    try emit(o, &writer)
                }
                let sub = try FileAt.openDirectory(at: dir, name)
                defer { close(sub) }
                try walk(sub, prefix: path + "/", &writer)
            case .characterDevice where !plain && st.deviceMajor == 0 && st.deviceMinor == 0:
                var w = TarHeader(name: prefix + ".wh." + name, kind: .file, mode: st.permissions & 0o777)
                w.uid = h.uid
                w.gid = h.gid
                try emit(w, &writer)
            case .regular:
                if st.linkCount > 1 {
                    let key = [st.device, st.inode]
                    if let first = links[key] {
                        h.kind = .hardLink
                        h.linkName = first
                        try emit(h, &writer)
                        continue
                    }
                    links[key] = path
                }
                h.size = st.size
                h.xattrs = filtered(try FileAt.xattrs(at: dir, name))
                let fd = try FileAt.openFile(at: dir, name)
                defer { close(fd) }
                try emit(h, &writer)
                var left = st.size
                while left > 0 {
                    let want = Int(min(Int64(buffer.count), left))
                    let n = try FileAt.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), what: path)
                    if n == 0 { throw BerthError(.conflict, "layer diff: \(path) shrank while being read") }
                    try writer.write(data: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    left -= Int64(n)
                }
            case .symlink:
                h.kind = .symlink
                h.linkName = try FileAt.readLink(at: dir, name)
                h.xattrs = filtered(try FileAt.xattrs(at: dir, name))
                try emit(h, &writer)
            case .characterDevice, .blockDevice, .fifo:
                h.kind = st.kind == .fifo ? .fifo : (st.kind == .blockDevice ? .blockDevice : .characterDevice)
                h.deviceMajor = st.deviceMajor
                h.deviceMinor = st.deviceMinor
                h.xattrs = filtered(try FileAt.xattrs(at: dir, name))
                try emit(h, &writer)
            case .socket, .unknown:
                continue
            }
        }
    }

    func isEmpty(_ dir: Int32, _ name: String, _ st: FileStatus) throws -> Bool {
        switch st.kind {
        case .regular: return st.size == 0
        case .directory:
            let fd = try FileAt.openDirectory(at: dir, name)
            defer { close(fd) }
            return try FileAt.isEmptyDirectory(fd: fd)
        default: return false
        }
    }

    mutating func emit(_ h: TarHeader, _ writer: inout TarWriter) throws {
        try writer.write(header: h)
        entries += 1
    }

    /// Drops overlayfs' own attributes (opaque, origin, redirect…): they describe the upper
    /// dir, not the layer.
    func filtered(_ xattrs: [(key: String, value: [UInt8])]) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for (k, v) in xattrs where !k.hasPrefix("trusted.overlay.") && !k.hasPrefix("user.overlay.") {
            out[k] = v
        }
        return out
    }
}
