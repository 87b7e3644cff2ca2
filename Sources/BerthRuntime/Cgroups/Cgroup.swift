#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// One container's cgroup across every hierarchy of the host (cgroupfs driver).
///
/// A value: the layout and the resolved directories, cheap to rebuild from a `cgroupsPath`, so
/// `kill --all` or `delete` in another process find the same directories. Lifecycle:
/// `init` (pure: validates and resolves the path) → `create(resources:)` (mkdir + limits, undone
/// on failure) → `addProcess(pid:)` → … `freeze`/`thaw`/`update`/stats … → `killAll()` →
/// `destroy()`.
///
/// Paths: an absolute `cgroupsPath` (`/berth/web`) is taken from each hierarchy's root as its
/// mount shows it; a relative one (`web`) from the caller's own cgroup in that hierarchy (per
/// controller on v1). `..` components and systemd-style `slice:prefix:name` paths are refused:
/// Berth drives cgroupfs directly and has no systemd cgroup driver.
public struct Cgroup: Sendable {
    /// The cgroup's directory in one hierarchy.
    public struct Directory: Sendable, Equatable {
        /// The hierarchy (a v1 controller mount, or the cgroup2 tree).
        public var hierarchy: CgroupLayout.Hierarchy
        /// The host directory (`/sys/fs/cgroup/memory/berth/web`).
        public var path: String
    }

    /// The host's hierarchies.
    public let layout: CgroupLayout
    /// The normalized cgroups path (`/berth/web`, or `web` relative to the caller's cgroup).
    public let path: String
    /// The cgroup's directory in every hierarchy it joins: each used v1 hierarchy and, on hybrid
    /// hosts, the v2 tree; on unified hosts the one v2 directory.
    public let directories: [Directory]
    /// The directories `create` made, parents first (leaves and any missing ancestors). `destroy`
    /// removes these and the leaves, nothing else: a shared parent that existed stays.
    public internal(set) var created: [String] = []

    /// A cgroup at `path`, which must not be empty (see `init(layout:cgroupsPath:defaultPath:)`).
    public init(layout: CgroupLayout, path: String) throws {
        let normalized = try Cgroup.normalize(path)
        var dirs: [Directory] = []
        for h in layout.hierarchyMounts {
            dirs.append(Directory(hierarchy: h, path: try h.resolve(normalized)))
        }
        guard !dirs.isEmpty else { throw BerthError(.unsupported, "cgroup: no usable cgroup hierarchy is mounted") }
        self.layout = layout
        self.path = normalized
        self.directories = dirs
    }

    /// A cgroup for the spec's `linux.cgroupsPath`, or `defaultPath` (the runtime passes
    /// `/berth/<id>`) when that is nil or empty.
    public init(layout: CgroupLayout, cgroupsPath: String?, defaultPath: String) throws {
        if let p = cgroupsPath, !p.isEmpty {
            try self.init(layout: layout, path: p)
        } else {
            try self.init(layout: layout, path: defaultPath)
        }
    }

    /// Validates and normalizes a cgroupfs path: no `..`, no systemd `slice:prefix:name`, not
    /// the root itself; `.` components and repeated or trailing slashes are dropped.
    public static func normalize(_ path: String) throws -> String {
        guard !path.isEmpty else { throw BerthError.invalid("cgroup: empty cgroupsPath") }
        if !path.hasPrefix("/") && path.split(separator: ":", omittingEmptySubsequences: false).count == 3 {
            throw BerthError(.unsupported, "cgroup: systemd-style cgroupsPath \"\(path)\" (slice:prefix:name) needs a systemd cgroup driver; Berth drives cgroupfs: use a path like /berth/NAME")
        }
        guard !path.utf8.contains(0) else { throw BerthError.invalid("cgroup: cgroupsPath contains a NUL byte") }
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.contains("..") else {
            throw BerthError.invalid("cgroup: cgroupsPath \"\(path)\" must not contain \"..\"")
        }
        guard !parts.isEmpty else { throw BerthError.invalid("cgroup: cgroupsPath \"\(path)\" names the root cgroup") }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    // MARK: directories

    /// The v2 directory (unified hosts: the cgroup; hybrid hosts: where it is tracked).
    public var unifiedDirectory: String? { directories.first { $0.hierarchy.isUnified }?.path }

    /// The directory whose files control `controller`: its v1 hierarchy, or the v2 directory
    /// where the controller is used there (`layout.usesUnified(for:)`).
    public func directory(for controller: String) -> String? {
        if layout.mode != .unified,
           let d = directories.first(where: { !$0.hierarchy.isUnified && $0.hierarchy.controllers.contains(controller) }) {
            return d.path
        }
        return layout.usesUnified(for: controller) ? unifiedDirectory : nil
    }

    /// Where a controller's files are and which file names apply.
    enum Target {
        case v1(String)
        case v2(String)
        var directory: String {
            switch self { case .v1(let d), .v2(let d): return d }
        }
    }

    /// The target of a controller, or an `unsupported` error naming what needed it.
    func target(_ controller: String, for what: String) throws -> Target {
        if layout.mode != .unified,
           let d = directories.first(where: { !$0.hierarchy.isUnified && $0.hierarchy.controllers.contains(controller) }) {
            return .v1(d.path)
        }
        if layout.usesUnified(for: controller), let d = unifiedDirectory { return .v2(d) }
        throw BerthError(.unsupported, "cgroup: \(what) needs the \(controller) controller, which is not available on this host (\(layout.mode.rawValue) cgroups)")
    }

    // MARK: file access

    /// Writes one control file with one open/write/close. Failures name the file, the value and
    /// the directory: `cgroup: write cpuset.cpus=64-70 in /sys/fs/cgroup/cpuset/berth/x: Invalid argument`.
    func write(_ dir: String, _ file: String, _ value: String) throws {
        do {
            try FileSystem.writeExisting(dir + "/" + file, value)
        } catch let e as BerthError {
            throw Cgroup.writeError(dir, file, value, e.errno ?? EIO)
        }
    }

    static func writeError(_ dir: String, _ file: String, _ value: String, _ code: Int32) -> BerthError {
        let kind: BerthError.Code
        var reason = errnoDescription(code)
        switch code {
        case EINVAL, ERANGE: kind = .invalidArgument
        case EPERM, EACCES: kind = .permissionDenied
        case ENOENT:
            kind = .unsupported
            reason += " (not supported by this kernel, or the controller is not enabled here)"
        default: kind = .system
        }
        return BerthError(kind, "cgroup: write \(file)=\(value) in \(dir): \(reason)", errno: code)
    }

    /// Reads a control file's text, trimmed.
    func read(_ dir: String, _ file: String) throws -> String {
        do {
            return try FileSystem.readSmallString(dir + "/" + file).trimmingWhitespace()
        } catch let e as BerthError {
            throw BerthError(e.code == .notFound ? .notFound : .system,
                             "cgroup: read \(file) in \(dir): \(errnoDescription(e.errno ?? EIO))", errno: e.errno)
        }
    }

    /// Reads a control file holding one unsigned number.
    func readNumber(_ dir: String, _ file: String) throws -> UInt64 {
        let text = try read(dir, file)
        guard let n = UInt64(text) else { throw BerthError(.corrupt, "cgroup: \(file) in \(dir): not a number: \(text)") }
        return n
    }

    /// Reads a flat keyed file (`memory.events`, `cpu.stat`, `memory.oom_control`): "key value" lines.
    func readKeyed(_ dir: String, _ file: String) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in try read(dir, file).split(separator: "\n") {
            let kv = line.split(separator: " ", maxSplits: 1)
            if kv.count == 2, let v = UInt64(kv[1].trimmingWhitespace()) { out[String(kv[0])] = v }
        }
        return out
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" { s.removeLast() }
        return String(s)
    }
}
