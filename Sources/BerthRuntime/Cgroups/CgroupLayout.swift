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

    /// The byte-level parser: mountinfo can be long on busy hosts (every container's overlay),
    /// so lines are only split into fields once their filesystem type says `cgroup`/`cgroup2`.
    static func parse(mountinfo: [UInt8], procCgroup: [UInt8]) throws -> CgroupLayout {
        // /proc/self/cgroup: "ID:controller,list:/path" (v2: "0::/path").
        var own: [String: String] = [:]
        var ownV2 = "/"
        for line in procCgroup.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let path = String(decoding: f[2], as: UTF8.self)
            if f[1].isEmpty { ownV2 = path; continue }
            for c in f[1].split(separator: UInt8(ascii: ",")) { own[String(decoding: c, as: UTF8.self)] = path }
        }

        var v1: [Hierarchy] = []
        var v2: Hierarchy?
        let separator: [UInt8] = Array(" - cgroup".utf8)
        for line in mountinfo.split(separator: UInt8(ascii: "\n")) {
            // Cheap filter first: the optional fields end with " - ", then the fs type.
            guard let sep = firstRange(of: separator, in: line) else { continue }
            let tail = line[(sep + 3)...].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard tail.count >= 3 else { continue }
            let fsType = String(decoding: tail[0], as: UTF8.self)
            guard fsType == "cgroup" || fsType == "cgroup2" else { continue }
            let head = line[..<sep].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard head.count >= 5 else { continue }
            let root = unescape(head[3])
            let mountPoint = unescape(head[4])
            let name = String(mountPoint.split(separator: "/").last ?? "")
            if fsType == "cgroup2" {
                let h = Hierarchy(name: name, controllers: [], mountPoint: mountPoint, root: root, fsType: fsType,
                                  superOptions: "", ownPath: ownV2)
                // Keep the first mount, unless a later one shows the whole hierarchy.
                if v2 == nil || (v2?.root != "/" && root == "/") { v2 = h }
                continue
            }
            let options = tail[2].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) }
            let controllers = options.filter { knownV1Controllers.contains($0) || $0.hasPrefix("name=") }
            guard controllers.contains(where: { v1Controllers.contains($0) }) else { continue }
            let ownPath = controllers.lazy.compactMap { own[$0] }.first ?? "/"
            let h = Hierarchy(name: name, controllers: controllers, mountPoint: mountPoint, root: root, fsType: fsType,
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

    /// The index where `needle` starts in `hay`, if anywhere.
    private static func firstRange(of needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count, let first = needle.first else { return nil }
        var i = hay.startIndex
        let last = hay.endIndex - needle.count
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < needle.count && hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
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
