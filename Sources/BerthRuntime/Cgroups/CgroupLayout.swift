#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Where the cgroup hierarchies are mounted on this host, discovered from /proc/self/mountinfo
/// (never assumed), and which cgroup the calling process sits in (/proc/self/cgroup).
///
/// Built once per process (`current()`: two /proc reads, plus the v2 root's `cgroup.controllers`
/// when a cgroup2 tree is mounted); `parse` takes the texts so tests can feed fixtures.
public struct CgroupLayout: Sendable, Equatable {
    /// The host's cgroup arrangement.
    public enum Mode: String, Sendable {
        /// cgroup v1 only.
        case legacy
        /// v1 controllers plus a cgroup2 tree (usually with no controllers: where crun gives up).
        /// Each resource goes to the v1 hierarchy carrying its controller, or to the v2 tree when
        /// only v2 has it (e.g. `hugetlb`); the container is always placed in the v2 tree too.
        case hybrid
        /// cgroup v2 only (v1 hierarchies carrying no controller of ours, such as a lone
        /// `name=systemd`, are ignored).
        case unified
    }

    /// One mounted hierarchy.
    public struct Hierarchy: Sendable, Equatable {
        /// The mount directory's last component (`cpu,cpuacct`, `memory`, `systemd`, `unified`):
        /// the name a container sees the hierarchy under in its /sys/fs/cgroup.
        public var name: String
        /// v1: the controllers on it (`cpu`, `cpuacct`, or `name=systemd`). v2: the controllers
        /// the tree's root offers (its `cgroup.controllers`).
        public var controllers: [String]
        /// Where it is mounted.
        public var mountPoint: String
        /// The mount's root inside the hierarchy (`/` on a host; `/docker/<id>` in a container
        /// that was given its own cgroup bind-mounted).
        public var root: String
        /// `cgroup` or `cgroup2`.
        public var fsType: String
        /// What to pass to mount(2) to mount the hierarchy again (v1: the controller list).
        public var superOptions: String
        /// The caller's own cgroup in this hierarchy, as /proc/self/cgroup shows it.
        public var ownPath: String

        /// Whether this is the cgroup2 tree.
        public var isUnified: Bool { fsType == "cgroup2" }

        /// Memberwise initializer (for tests and fake trees).
        public init(name: String, controllers: [String], mountPoint: String, root: String = "/",
                    fsType: String, superOptions: String = "", ownPath: String = "/") {
            self.name = name
            self.controllers = controllers
            self.mountPoint = mountPoint
            self.root = root
            self.fsType = fsType
            self.superOptions = superOptions
            self.ownPath = ownPath
        }

        /// The host directory of a normalized cgroup path (see `Cgroup.normalize`).
        ///
        /// An absolute path is taken from the hierarchy's root as this mount shows it (the mount
        /// point), like runc. A relative path is taken from the caller's own cgroup; that cgroup
        /// is given in the hierarchy's coordinates, so the mount's root is cut off it first.
        /// Throws when the caller's own cgroup is not visible through this mount.
        public func resolve(_ path: String) throws -> String {
            var p = path
            if !p.hasPrefix("/") {
                guard let base = ownPathBelowRoot else {
                    throw BerthError(.unsupported, "cgroup: own cgroup \(ownPath) is not visible under \(mountPoint) (mount root \(root))")
                }
                p = (base == "/" ? "/" : base + "/") + p
            }
            return p == "/" ? mountPoint : mountPoint + p
        }

        /// The caller's own cgroup relative to the mount's root (`/` when it is the root), or nil
        /// when the mount does not show it.
        var ownPathBelowRoot: String? {
            if root == "/" { return ownPath }
            if ownPath == root { return "/" }
            if ownPath.hasPrefix(root + "/") { return String(ownPath.dropFirst(root.count)) }
            return nil
        }

        /// The host directory of a cgroup path, or the bare mount point + path when it cannot be
        /// resolved (kept for callers that only build mount sources; `Cgroup` uses `resolve`).
        public func directory(for path: String) -> String {
            (try? resolve(path)) ?? mountPoint + (path.hasPrefix("/") ? path : "/" + path)
        }

        /// The part of `directory(for:)` below the mount point (what a container bind-mounts).
        public func containerRelative(_ path: String) -> String {
            String(directory(for: path).dropFirst(mountPoint.count))
        }
    }

    /// The host's arrangement.
    public var mode: Mode
    /// The v1 hierarchies Berth uses, in mountinfo order (empty on unified hosts).
    public var hierarchies: [Hierarchy]
    /// The cgroup2 mount, if any.
    public var unified: Hierarchy?

    /// Memberwise initializer (tests point a layout at a fake tree in a temp directory).
    public init(mode: Mode, hierarchies: [Hierarchy], unified: Hierarchy?) {
        self.mode = mode
        self.hierarchies = hierarchies
        self.unified = unified
    }

    /// The v2 mount point, if any.
    public var unifiedMountPoint: String? { unified?.mountPoint }

    /// Every hierarchy a container joins: the v1 ones and, on hybrid hosts, the v2 tree; on
    /// unified hosts the v2 tree alone.
    public var hierarchyMounts: [Hierarchy] {
        switch mode {
        case .legacy: return hierarchies
        case .hybrid: return hierarchies + (unified.map { [$0] } ?? [])
        case .unified: return unified.map { [$0] } ?? []
        }
    }

    /// The v1 hierarchy carrying a controller (nil on unified hosts).
    public func hierarchy(for controller: String) -> Hierarchy? {
        mode == .unified ? nil : hierarchies.first { $0.controllers.contains(controller) }
    }

    /// Whether a controller can be used in the v2 tree: always on unified hosts when the root
    /// offers it; on hybrid hosts only when no v1 hierarchy carries it.
    /// (`io` is v1's `blkio`.)
    public func usesUnified(for controller: String) -> Bool {
        guard let v2 = unified, v2.controllers.contains(controller) else { return false }
        return mode == .unified || (mode == .hybrid && hierarchy(for: controller == "io" ? "blkio" : controller) == nil)
    }

    /// The v1 controllers Berth places containers in (others, like `rdma` or `misc`, are left
    /// alone), plus the `name=systemd` named hierarchy.
    public static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "hugetlb",
        "net_cls", "net_prio", "perf_event", "name=systemd",
    ]

    /// Every v1 controller name the kernel knows (to tell controllers from mount options).
    static let knownV1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "hugetlb",
        "net_cls", "net_prio", "perf_event", "rdma", "misc", "debug",
    ]

    /// The layout of the running host: reads /proc/self/mountinfo and /proc/self/cgroup once,
    /// and the v2 root's `cgroup.controllers` if a cgroup2 tree is mounted.
    public static func current() throws -> CgroupLayout {
        let mountinfo = try FileSystem.read("/proc/self/mountinfo")
        let own = try FileSystem.read("/proc/self/cgroup")
        var layout = try parse(mountinfo: mountinfo, procCgroup: own)
        if var v2 = layout.unified {
            let text = (try? FileSystem.readSmallString(v2.mountPoint + "/cgroup.controllers")) ?? ""
            v2.controllers = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            layout.unified = v2
        }
        return layout
    }

    /// Parses mountinfo and /proc/self/cgroup text. `unifiedControllers` is the v2 root's
    /// `cgroup.controllers` (as `current()` reads it). Throws when no cgroup filesystem is mounted.
    public static func parse(mountinfo: String, procCgroup: String, unifiedControllers: String = "") throws -> CgroupLayout {
        var layout = try parse(mountinfo: Array(mountinfo.utf8), procCgroup: Array(procCgroup.utf8))
        if var v2 = layout.unified {
            v2.controllers = unifiedControllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            layout.unified = v2
        }
        return layout
    }

    /// The byte-level parser. mountinfo can be long on busy hosts (every container's overlay,
    /// with long options), so lines are scanned in place and only cgroup mounts are split into
    /// fields and strings.
    static func parse(mountinfo: [UInt8], procCgroup: [UInt8]) throws -> CgroupLayout {
        // /proc/self/cgroup: "ID:controller,list:/path" (v2: "0::/path").
        var own: [String: String] = [:]
        var ownV2 = "/"
        forEachLine(procCgroup) { line in
            guard let c1 = line.firstIndex(of: UInt8(ascii: ":")),
                  let c2 = line[(c1 + 1)...].firstIndex(of: UInt8(ascii: ":")) else { return }
            let path = String(decoding: line[(c2 + 1)...], as: UTF8.self)
            if c2 == c1 + 1 { ownV2 = path; return }
            forEachField(line[(c1 + 1)..<c2], separator: UInt8(ascii: ",")) { own[String(decoding: $0, as: UTF8.self)] = path }
        }

        var v1: [Hierarchy] = []
        var v2: Hierarchy?
        let space = UInt8(ascii: " ")
        forEachCgroupMount(mountinfo) { line, sep in
            // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS"
            var fields = FieldIterator(line[(sep + 3)...], separator: space)
            guard let fsField = fields.next(), fields.next() != nil, let superField = fields.next() else { return }
            let isV2: Bool
            if fsField.elementsEqual("cgroup2".utf8) { isV2 = true } else if fsField.elementsEqual("cgroup".utf8) { isV2 = false } else { return }
            var head = FieldIterator(line[..<sep], separator: space)
            _ = head.next(); _ = head.next(); _ = head.next()
            guard let rootField = head.next(), let mountField = head.next() else { return }
            let root = unescape(rootField)
            let mountPoint = unescape(mountField)
            let slash = mountField.lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? mountField.startIndex
            let name = unescape(mountField[slash...])
            if isV2 {
                let h = Hierarchy(name: name, controllers: [], mountPoint: mountPoint, root: root, fsType: "cgroup2",
                                  superOptions: "", ownPath: ownV2)
                // Keep the first mount, unless a later one shows the whole hierarchy.
                if v2 == nil || (v2?.root != "/" && root == "/") { v2 = h }
                return
            }
            var controllers: [String] = []
            var ours = false
            forEachField(superField, separator: UInt8(ascii: ",")) { option in
                let o = String(decoding: option, as: UTF8.self)
                if o.utf8.starts(with: "name=".utf8) {
                    controllers.append(o)
                    if o == "name=systemd" { ours = true }
                } else if knownV1Controllers.contains(o) {
                    controllers.append(o)
                    if v1Controllers.contains(o) { ours = true }
                }
            }
            guard ours else { return }
            let ownPath = controllers.lazy.compactMap { own[$0] }.first ?? "/"
            let h = Hierarchy(name: name, controllers: controllers, mountPoint: mountPoint, root: root, fsType: "cgroup",
                              superOptions: controllers.joined(separator: ","), ownPath: ownPath)
            if let i = v1.firstIndex(where: { $0.controllers == controllers }) {
                if v1[i].root != "/" && root == "/" { v1[i] = h }
            } else {
                v1.append(h)
            }
        }
        let hasV1Controllers = v1.contains { $0.controllers.contains { !$0.hasPrefix("name=") } }
        if hasV1Controllers {
            return CgroupLayout(mode: v2 == nil ? .legacy : .hybrid, hierarchies: v1, unified: v2)
        }
        guard let v2 else { throw BerthError(.unsupported, "cgroup: no cgroup filesystem is mounted (see /proc/self/mountinfo)") }
        return CgroupLayout(mode: .unified, hierarchies: [], unified: v2)
    }

    /// Calls `body` with each line (without its newline).
    private static func forEachLine(_ bytes: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            if end > start { body(bytes[start..<end]) }
            start = end + 1
        }
    }

    /// Calls `body` with each non-empty field.
    private static func forEachField(_ bytes: ArraySlice<UInt8>, separator: UInt8, _ body: (ArraySlice<UInt8>) -> Void) {
        var it = FieldIterator(bytes, separator: separator)
        while let f = it.next() { body(f) }
    }

    /// Non-empty fields of a slice, without allocating.
    private struct FieldIterator: IteratorProtocol {
        let bytes: ArraySlice<UInt8>
        let separator: UInt8
        var position: Int
        init(_ bytes: ArraySlice<UInt8>, separator: UInt8) {
            self.bytes = bytes
            self.separator = separator
            position = bytes.startIndex
        }
        mutating func next() -> ArraySlice<UInt8>? {
            while position < bytes.endIndex && bytes[position] == separator { position += 1 }
            guard position < bytes.endIndex else { return nil }
            let start = position
            while position < bytes.endIndex && bytes[position] != separator { position += 1 }
            return bytes[start..<position]
        }
    }

    /// Calls `body` with each line whose filesystem type starts with "cgroup", and the index of
    /// its " - " separator. Candidates are found with memchr (SIMD in glibc), so the hundreds of
    /// overlay lines of a busy host cost next to nothing.
    private static func forEachCgroupMount(_ bytes: [UInt8], _ body: (ArraySlice<UInt8>, Int) -> Void) {
        let tail = Array("- cgroup".utf8)
        var hits: [Int] = []
        bytes.withUnsafeBytes { hay in
            guard let base = hay.baseAddress else { return }
            var offset = 1
            while offset < hay.count, let hit = memchr(base + offset, Int32(UInt8(ascii: "-")), hay.count - offset) {
                let i = base.distance(to: UnsafeRawPointer(hit))
                if hay[i - 1] == UInt8(ascii: " "), i + tail.count <= hay.count,
                   memcmp(base + i, tail, tail.count) == 0 { hits.append(i - 1) }
                offset = i + 1
            }
        }
        var lastEnd = -1
        for sep in hits where sep > lastEnd {
            let start = bytes[..<sep].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let end = bytes[sep...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            lastEnd = end
            // The first " - " of the line must be this one (the separator).
            if firstSeparator(bytes[start..<end]) == sep { body(bytes[start..<end], sep) }
        }
    }

    /// Where the first " - " of a line starts.
    private static func firstSeparator(_ line: ArraySlice<UInt8>) -> Int? {
        var i = line.startIndex + 1
        while i + 1 < line.endIndex {
            if line[i] == UInt8(ascii: "-") && line[i - 1] == UInt8(ascii: " ") && line[i + 1] == UInt8(ascii: " ") {
                return i - 1
            }
            i += 1
        }
        return nil
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: ArraySlice<UInt8>) -> String {
        guard field.contains(UInt8(ascii: "\\")) else { return String(decoding: field, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(field.count)
        var i = field.startIndex
        while i < field.endIndex {
            let b = field[i]
            if b == UInt8(ascii: "\\"), i + 3 < field.endIndex, let v = octal(field[(i + 1)...(i + 3)]) {
                out.append(v)
                i += 4
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var v: UInt32 = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "7") else { return nil }
            v = v * 8 + UInt32(d - UInt8(ascii: "0"))
        }
        return v <= 255 ? UInt8(v) : nil
    }
}
