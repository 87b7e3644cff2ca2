#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthSystem
import Crypto

/// The build context as berthd received it: a directory (the extracted tar) and the
/// `.dockerignore` patterns that hide some of it from `COPY` and `ADD`.
public struct BuildContext: Sendable {
    public let root: String
    public let ignore: DockerIgnore?

    public init(root: String, ignore: DockerIgnore?) {
        self.root = root
        self.ignore = ignore
    }
}

/// `COPY`/`ADD` sources resolved in a source root (the context, or another stage's or image's
/// filesystem), checksummed for the cache and copied into a destination root. Every path is
/// resolved inside its root with `openat2(RESOLVE_IN_ROOT)`: neither a source symlink nor a
/// destination symlink can lead out. Copied files get the owner given (root unless
/// `--chown`), their own mode (or `--chmod`) and modification time.
public enum ContextCopier {
    /// One resolved source: its path relative to the source root ("" is the root itself).
    struct Source: Sendable {
        var path: String
        var isDirectory: Bool
    }

    /// What the copy writes.
    struct Plan: Sendable {
        var sources: [Source]
        /// Inline files (heredocs): name → content.
        var inline: [(name: String, content: [UInt8])]
        /// Absolute destination in the image; ends with "/" when it must be a directory.
        var destination: String
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var chmod: UInt32?
        /// ADD: extract local tar archives.
        var extractArchives = false
        /// The context's ignore patterns (nil for another stage's filesystem).
        var ignore: DockerIgnore?
    }

    /// Resolves source patterns (cleaned; globs matched against every path) in `root`.
    static func resolve(_ patterns: [String], root: String, ignore: DockerIgnore?, isContext: Bool, what: String) throws -> [Source] {
        let rootFD = try FileAt.openDirectory(root)
        defer { close(rootFD) }
        var out: [Source] = []
        var allPaths: [(String, Bool)]?
        for pattern in patterns {
            let (clean, escapes) = cleanRelative(pattern)
            if escapes && isContext {
                throw BuildError("\(what) failed: forbidden path outside the build context: \(pattern) ()")
            }
            if clean.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) {
                if allPaths == nil { allPaths = try listAll(rootFD, ignore: ignore) }
                let matched = allPaths!.filter { fnmatch(clean, $0.0, FNM_PATHNAME) == 0 }
                out += matched.map { Source(path: $0.0, isDirectory: $0.1) }
                continue
            }
            let notFound = BuildError("\(what) failed: file not found in build context or excluded by .dockerignore: stat \(clean.isEmpty ? "." : clean): file does not exist")
            if let ignore, !clean.isEmpty, ignore.excludes(clean) { throw notFound }
            guard let fd = try FileAt.openInRoot(rootFD, clean, flags: FileAt.pathOnly) else { throw notFound }
            defer { close(fd) }
            let st = try FileAt.status(fd: fd)
            out.append(Source(path: clean, isDirectory: st.kind == .directory))
        }
        if out.isEmpty { throw BuildError("\(what) failed: no source files were specified") }
        return out
    }

    /// Every path below the root (relative), with whether it is a directory, minus ignored ones.
    static func listAll(_ rootFD: Int32, ignore: DockerIgnore?) throws -> [(String, Bool)] {
        var out: [(String, Bool)] = []
        func walk(_ dir: Int32, _ prefix: String) throws {
            for name in try FileAt.directoryEntries(fd: dir).sorted() {
                let path = prefix.isEmpty ? name : prefix + "/" + name
                guard let st = try FileAt.status(at: dir, name) else { continue }
                let excluded = ignore?.excludes(path) ?? false
                if !excluded { out.append((path, st.kind == .directory)) }
                if st.kind == .directory, !excluded || (ignore?.mightIncludeBelow(path) ?? false) {
                    let sub = try FileAt.openDirectory(at: dir, name)
                    defer { close(sub) }
                    try walk(sub, path)
                }
            }
        }
        try walk(rootFD, "")
        return out
    }

    /// `./a//b/../c` → `a/c`, and whether `..` went above the root.
    public static func cleanRelative(_ p: String) -> (String, Bool) {
        var out: [Substring] = []
        var escapes = false
        for part in p.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." {
                if out.isEmpty { escapes = true } else { out.removeLast() }
                continue
            }
            out.append(part)
        }
        return (out.joined(separator: "/"), escapes)
    }

    // MARK: checksum

    /// A digest of everything the plan would copy: names, types, modes, sizes, link targets
    /// and contents (not times or owners, as Docker's cache).
    static func checksum(_ plan: Plan, root: String) throws -> String {
        var h = SHA256()
        func add(_ s: String) { h.update(data: Array(s.utf8) + [0]) }
        let rootFD = try FileAt.openDirectory(root)
        defer { close(rootFD) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        func file(_ fd: Int32) throws {
            while true {
                let n = try buffer.withUnsafeMutableBytes { try FileAt.read(fd, into: $0, what: "context file") }
                if n == 0 { break }
                buffer.withUnsafeBytes { h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        func tree(_ dir: Int32, _ rel: String, _ contextPath: String) throws {
            for name in try FileAt.directoryEntries(fd: dir).sorted() {
                let cpath = contextPath.isEmpty ? name : contextPath + "/" + name
                if let ignore = plan.ignore, ignore.excludes(cpath), !ignore.mightIncludeBelow(cpath) { continue }
                guard let st = try FileAt.status(at: dir, name) else { continue }
                let excluded = plan.ignore?.excludes(cpath) ?? false
                if !excluded { add("\(rel)/\(name)|\(st.kind)|\(st.permissions)|\(st.size)") }
                switch st.kind {
                case .directory:
                    let sub = try FileAt.openDirectory(at: dir, name)
                    defer { close(sub) }
                    try tree(sub, rel + "/" + name, cpath)
                case .regular where !excluded:
                    let fd = try FileAt.openFile(at: dir, name)
                    defer { close(fd) }
                    try file(fd)
                case .symlink where !excluded:
                    add(try FileAt.readLink(at: dir, name))
                default: break
                }
            }
        }
        for s in plan.sources {
            add("source:" + s.path)
            guard let fd = try FileAt.openInRoot(rootFD, s.path, flags: O_RDONLY | O_NONBLOCK) else { continue }
            defer { close(fd) }
            let st = try FileAt.status(fd: fd)
            add("\(st.kind)|\(st.permissions)|\(st.size)")
            if st.kind == .directory { try tree(fd, "", s.path) } else if st.kind == .regular { try file(fd) }
        }
        for f in plan.inline {
            add("inline:" + f.name)
            h.update(data: f.content)
        }
        add("dest:\(plan.destination)|\(plan.uid):\(plan.gid)|\(plan.chmod.map { String($0, radix: 8) } ?? "")|\(plan.extractArchives)")
        return "sha256:" + h.finalize().map { b in String(b >> 4, radix: 16) + String(b & 15, radix: 16) }.joined()
    }

    // MARK: copying

    /// Copies the plan's sources from `sourceRoot` into the root filesystem at `destinationRoot`.
    static func copy(_ plan: Plan, sourceRoot: String, destinationRoot: String, what: String) throws {
        let srcRoot = try FileAt.openDirectory(sourceRoot)
        defer { close(srcRoot) }
        let dstRoot = try FileAt.openDirectory(destinationRoot)
        defer { close(dstRoot) }
        let manySources = plan.sources.count + plan.inline.count > 1
        var dest = plan.destination
        let destIsDirectory = dest.hasSuffix("/")
        if manySources && !destIsDirectory {
            throw BuildError("When using \(what) with more than one source file, the destination must be a directory and end with a /")
        }
        while dest.count > 1 && dest.hasSuffix("/") { dest.removeLast() }
        let (destRel, _) = cleanRelative(dest)
        // Is the destination an existing directory (followed inside the root)?
        let existingDir: Bool = try {
            guard let fd = try FileAt.openDirectoryInRoot(dstRoot, destRel) else { return false }
            close(fd)
            return true
        }()
        for f in plan.inline {
            let (dir, name) = destIsDirectory || existingDir ? (destRel, f.name) : split(destRel)
            let dirFD = try makeDirectories(dstRoot, dir, uid: plan.uid, gid: plan.gid)
            defer { close(dirFD) }
            try replace(dirFD, name)
            let out = try FileAt.createFile(at: dirFD, name, mode: 0o600)
            defer { close(out) }
            try f.content.withUnsafeBytes { try FileAt.writeAll(out, $0, what: name) }
            try FileAt.changeOwner(fd: out, uid: plan.uid, gid: plan.gid, what: name)
            try FileAt.changeMode(fd: out, mode: plan.chmod ?? 0o644, what: name)
        }
        for s in plan.sources {
            guard let src = try FileAt.openInRoot(srcRoot, s.path, flags: O_RDONLY | O_NONBLOCK) else {
                throw BuildError("\(what) failed: file not found: \(s.path)")
            }
            defer { close(src) }
            let st = try FileAt.status(fd: src)
            if st.kind == .directory {
                // A directory's contents go into the destination directory.
                let dirFD = try makeDirectories(dstRoot, destRel, uid: plan.uid, gid: plan.gid)
                defer { close(dirFD) }
                try copyTree(src, into: dirFD, plan, contextPath: s.path)
                continue
            }
            let name = s.path.split(separator: "/").last.map(String.init) ?? s.path
            if plan.extractArchives, st.kind == .regular, let kind = try archiveKind(src) {
                let dirFD = try makeDirectories(dstRoot, destRel, uid: plan.uid, gid: plan.gid)
                defer { close(dirFD) }
                try extract(src, kind: kind, into: dirFD, name: s.path)
                continue
            }
            let (dir, target) = destIsDirectory || existingDir ? (destRel, name) : split(destRel)
            let dirFD = try makeDirectories(dstRoot, dir, uid: plan.uid, gid: plan.gid)
            defer { close(dirFD) }
            try copyEntry(fd: src, st, to: dirFD, target, plan)
        }
    }

    static func split(_ rel: String) -> (String, String) {
        guard let slash = rel.lastIndex(of: "/") else { return ("", rel) }
        return (String(rel[..<slash]), String(rel[rel.index(after: slash)...]))
    }

    /// Opens (making what is missing, owned by uid:gid, mode 0755) the directory `rel` in the root.
    static func makeDirectories(_ root: Int32, _ rel: String, uid: UInt32, gid: UInt32) throws -> Int32 {
        if let fd = try FileAt.openDirectoryInRoot(root, rel, flags: O_RDONLY) { return fd }
        let parts = rel.split(separator: "/").map(String.init)
        var parent = try FileAt.openDirectory(at: root, ".")
        for i in parts.indices {
            let prefix = parts[...i].joined(separator: "/")
            if let fd = try FileAt.openDirectoryInRoot(root, prefix, flags: O_RDONLY) {
                close(parent)
                parent = fd
                continue
            }
            // Missing (or not a directory): made in the parent resolved so far.
            if let st = try FileAt.status(at: parent, parts[i]), st.kind != .directory, st.kind != .symlink {
                close(parent)
                throw BuildError("cannot copy to /\(rel): /\(prefix) is not a directory")
            }
            do {
                try FileAt.makeDirectory(at: parent, parts[i], mode: 0o755)
                try FileAt.changeOwner(at: parent, parts[i], uid: uid, gid: gid)
                let next = try FileAt.openDirectory(at: parent, parts[i])
                close(parent)
                parent = next
            } catch {
                close(parent)
                throw error
            }
        }
        return parent
    }

    /// WORKDIR's directory, made (root-owned, 0755) where missing.
    static func makeDirectories(root: String, path: String, uid: UInt32, gid: UInt32) throws {
        let fd = try FileAt.openDirectory(root)
        defer { close(fd) }
        close(try makeDirectories(fd, cleanRelative(path).0, uid: uid, gid: gid))
    }

    /// Removes what is at `name` unless it is a directory (a file replaces a file or a link).
    static func replace(_ dir: Int32, _ name: String) throws {
        guard let st = try FileAt.status(at: dir, name) else { return }
        if st.kind == .directory { throw BuildError("cannot overwrite directory \(name) with a file") }
        try FileAt.remove(at: dir, name)
    }

    static func copyTree(_ src: Int32, into dst: Int32, _ plan: Plan, contextPath: String) throws {
        for name in try FileAt.directoryEntries(fd: src).sorted() {
            let cpath = contextPath.isEmpty ? name : contextPath + "/" + name
            let excluded = plan.ignore?.excludes(cpath) ?? false
            guard let st = try FileAt.status(at: src, name) else { continue }
            if st.kind == .directory {
                if excluded && !(plan.ignore?.mightIncludeBelow(cpath) ?? false) { continue }
                if let existing = try FileAt.status(at: dst, name), existing.kind != .directory { try FileAt.remove(at: dst, name) }
                let made = try FileAt.makeDirectory(at: dst, name, mode: 0o755)
                let sub = try FileAt.openDirectory(at: src, name)
                defer { close(sub) }
                let out = try FileAt.openDirectory(at: dst, name)
                defer { close(out) }
                try copyTree(sub, into: out, plan, contextPath: cpath)
                if !excluded || made {
                    try FileAt.changeOwner(fd: out, uid: plan.uid, gid: plan.gid, what: name)
                    try FileAt.changeMode(fd: out, mode: plan.chmod ?? st.permissions, what: name)
                    try FileAt.setTimes(fd: out, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds, what: name)
                }
                continue
            }
            if excluded { continue }
            if st.kind == .regular {
                let fd = try FileAt.openFile(at: src, name)
                defer { close(fd) }
                try copyEntry(fd: fd, st, to: dst, name, plan)
            } else {
                try copyEntry(fd: nil, st, from: src, to: dst, name, plan)
            }
        }
    }

    /// One non-directory entry. `fd` is open for regular files.
    static func copyEntry(fd: Int32?, _ st: FileStatus, from srcDir: Int32? = nil, to dir: Int32, _ name: String, _ plan: Plan) throws {
        try replace(dir, name)
        switch st.kind {
        case .regular:
            let out = try FileAt.createFile(at: dir, name, mode: 0o600)
            defer { close(out) }
            try copyData(from: fd!, to: out, name: name)
            try FileAt.changeOwner(fd: out, uid: plan.uid, gid: plan.gid, what: name)
            try FileAt.changeMode(fd: out, mode: plan.chmod ?? st.permissions, what: name)
            try FileAt.setTimes(fd: out, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds, what: name)
        case .symlink:
            guard let srcDir else { return }
            try FileAt.makeSymlink(target: try FileAt.readLink(at: srcDir, name), at: dir, name)
            try FileAt.changeOwner(at: dir, name, uid: plan.uid, gid: plan.gid)
        case .fifo, .characterDevice, .blockDevice:
            guard let srcDir, st.kind == .fifo || !(st.deviceMajor == 0 && st.deviceMinor == 0) else { return }
            _ = srcDir
            let type: mode_t = st.kind == .fifo ? 0o010000 : st.kind == .characterDevice ? 0o020000 : 0o060000
            try FileAt.makeNode(at: dir, name, mode: type | mode_t(st.permissions), major: st.deviceMajor, minor: st.deviceMinor)
            try FileAt.changeOwner(at: dir, name, uid: plan.uid, gid: plan.gid)
        default:
            return
        }
    }

    static func copyData(from src: Int32, to dst: Int32, name: String) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = try FileAt.read(src, into: buffer, what: name)
            if n == 0 { break }
            try FileAt.writeAll(dst, UnsafeRawBufferPointer(rebasing: buffer[0..<n]), what: name)
        }
    }

    // MARK: ADD archives

    /// The compression of a local tar archive, or nil when the file is not one.
    static func archiveKind(_ fd: Int32) throws -> BerthArchive.Compression? {
        var head = [UInt8](repeating: 0, count: 512)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 512, 0) }
        guard n > 0 else { return nil }
        let prefix = Array(head[0..<n])
        let kind = BerthArchive.Compression.detect(prefix: prefix)
        if kind != .none { return kind }
        // A plain tar: "ustar" at offset 257.
        guard n >= 262, Array(prefix[257..<262]) == Array("ustar".utf8) else { return nil }
        return BerthArchive.Compression.none
    }

    /// Extracts a tar (compressed or not) into `dir`, keeping the archive's owners.
    static func extract(_ fd: Int32, kind: BerthArchive.Compression, into dir: Int32, name: String) throws {
        let source = try DecompressingSource.decompressed({ buf in try FD.readSome(fd, into: buf, what: name) }, kind)
        var reader = TarReader(source: source)
        var options = LayerApplyOptions()
        options.whiteouts = false
        do { _ = try LayerApplier.apply(&reader, to: "/proc/self/fd/\(dir)", options: options) } catch let e as BerthError {
            throw BuildError("ADD failed: extracting \(name): \(e.message)")
        }
    }
}
