import BerthCore
import BerthRuntime
import Testing

/// mountinfo and /proc/self/cgroup fixtures of the three arrangements, and what Berth makes of
/// them.
enum CgroupFixtures {
    /// Debian 12 host: systemd, pure cgroup v2 at /sys/fs/cgroup.
    static let debianUnified = """
        22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        23 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
        24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4010844k,nr_inodes=1002711,mode=755,inode64
        25 24 0:22 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5,mode=620,ptmxmode=000
        26 28 0:23 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=807700k,mode=755,inode64
        28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
        29 22 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw
        30 24 0:25 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw,inode64
        31 26 0:26 / /run/lock rw,nosuid,nodev,noexec,relatime shared:6 - tmpfs tmpfs rw,size=5120k,inode64
        32 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        33 22 0:28 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:10 - pstore pstore rw
        34 22 0:29 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:11 - bpf bpf rw,mode=700
        60 28 0:45 / /var/lib/docker/overlay2/4f1c/merged rw,relatime shared:30 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/4f1c/diff,workdir=/var/lib/docker/overlay2/4f1c/work
        """
    static let debianUnifiedCgroup = "0::/user.slice/user-1000.slice/session-3.scope\n"
    static let debianControllers = "cpuset cpu io memory hugetlb pids rdma misc\n"

    /// CentOS 7 host: cgroup v1 only, cpu and cpuacct co-mounted (listed "cpuacct,cpu" in the
    /// super options), net_cls and net_prio too, name=systemd with a release agent.
    static let centosLegacy = """
        18 63 0:17 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw,seclabel
        19 63 0:3 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
        20 63 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,seclabel,size=1928328k,nr_inodes=482082,mode=755
        24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,seclabel,mode=755
        25 24 0:21 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,seclabel,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
        26 18 0:22 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:19 - pstore pstore rw
        27 24 0:23 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,seclabel,net_prio,net_cls
        28 24 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,seclabel,cpuacct,cpu
        29 24 0:25 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,seclabel,perf_event
        30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,seclabel,memory
        31 24 0:27 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,seclabel,devices
        32 24 0:28 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,seclabel,freezer
        33 24 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,seclabel,cpuset
        34 24 0:30 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,seclabel,hugetlb
        35 24 0:31 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,seclabel,blkio
        36 24 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,seclabel,pids
        63 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/centos-root rw,seclabel,attr2,inode64,noquota
        """
    static let centosLegacyCgroup = """
        11:pids:/user.slice
        10:blkio:/user.slice
        9:hugetlb:/
        8:cpuset:/
        7:freezer:/
        6:devices:/user.slice
        5:memory:/user.slice
        4:perf_event:/
        3:cpuacct,cpu:/user.slice
        2:net_prio,net_cls:/
        1:name=systemd:/user.slice/user-0.slice/session-1.scope

        """

    /// This host (and CI): v1 controllers each on its own mount, name=systemd, and a cgroup2
    /// tree at /sys/fs/cgroup/unified offering only hugetlb; the shell sits in a non-root memory
    /// cgroup.
    static let hybrid = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
        24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let hybridCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/a2cff3191237a7236a264f6ddb885748
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """

    /// Inside a Docker container on a v1 host without a cgroup namespace: its own cgroups are
    /// bind-mounted, so the mount root is /docker/<id>, as is the process's cgroup. A second
    /// (bind) mount of the memory hierarchy and a mount point with an escaped space as well.
    static let containerLegacy = """
        700 650 0:60 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
        701 700 0:29 /docker/4f1c /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory
        702 700 0:24 /docker/4f1c /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime master:10 - cgroup cgroup rw,cpuacct,cpu
        703 700 0:21 /docker/4f1c /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime master:8 - cgroup cgroup rw,xattr,name=systemd
        704 650 0:29 /docker/4f1c /mnt/memory\\040copy rw,relatime - cgroup cgroup rw,memory
        705 700 0:30 /docker/4f1c /sys/fs/cgroup/my\\040pids rw,relatime - cgroup cgroup rw,pids
        """
    static let containerLegacyCgroup = """
        12:pids:/docker/4f1c
        5:memory:/docker/4f1c
        3:cpuacct,cpu:/docker/4f1c
        1:name=systemd:/docker/4f1c

        """

    static func layout(_ mountinfo: String, _ cgroup: String, _ controllers: String = "") throws -> CgroupLayout {
        try CgroupLayout.parse(mountinfo: mountinfo, procCgroup: cgroup, unifiedControllers: controllers)
    }
}

@Suite("cgroup layout")
struct CgroupLayoutTests {
    struct Expectation: Sendable, CustomStringConvertible {
        var name: String
        var mountinfo: String
        var procCgroup: String
        var controllers: String = ""
        var mode: CgroupLayout.Mode
        /// controller → (mount point, mount root, own path)
        var v1: [String: (String, String, String)]
        var v1Count: Int
        var unified: (mountPoint: String, ownPath: String, controllers: [String])?
        var description: String { name }
    }

    static let cases: [Expectation] = [
        Expectation(
            name: "debian 12 unified", mountinfo: CgroupFixtures.debianUnified, procCgroup: CgroupFixtures.debianUnifiedCgroup,
            controllers: CgroupFixtures.debianControllers, mode: .unified, v1: [:], v1Count: 0,
            unified: ("/sys/fs/cgroup", "/user.slice/user-1000.slice/session-3.scope",
                      ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"])),
        Expectation(
            name: "centos 7 legacy", mountinfo: CgroupFixtures.centosLegacy, procCgroup: CgroupFixtures.centosLegacyCgroup,
            mode: .legacy,
            v1: ["cpu": ("/sys/fs/cgroup/cpu,cpuacct", "/", "/user.slice"),
                 "cpuacct": ("/sys/fs/cgroup/cpu,cpuacct", "/", "/user.slice"),
                 "memory": ("/sys/fs/cgroup/memory", "/", "/user.slice"),
                 "cpuset": ("/sys/fs/cgroup/cpuset", "/", "/"),
                 "net_cls": ("/sys/fs/cgroup/net_cls,net_prio", "/", "/"),
                 "hugetlb": ("/sys/fs/cgroup/hugetlb", "/", "/"),
                 "name=systemd": ("/sys/fs/cgroup/systemd", "/", "/user.slice/user-0.slice/session-1.scope")],
            v1Count: 11, unified: nil),
        Expectation(
            name: "this hybrid host", mountinfo: CgroupFixtures.hybrid, procCgroup: CgroupFixtures.hybridCgroup,
            controllers: "hugetlb\n", mode: .hybrid,
            v1: ["cpu": ("/sys/fs/cgroup/cpu", "/", "/"),
                 "cpuacct": ("/sys/fs/cgroup/cpuacct", "/", "/"),
                 "memory": ("/sys/fs/cgroup/memory", "/", "/process_api/a2cff3191237a7236a264f6ddb885748"),
                 "pids": ("/sys/fs/cgroup/pids", "/", "/"),
                 "name=systemd": ("/sys/fs/cgroup/systemd", "/", "/")],
            v1Count: 9, unified: ("/sys/fs/cgroup/unified", "/", ["hugetlb"])),
        Expectation(
            name: "inside a v1 container", mountinfo: CgroupFixtures.containerLegacy,
            procCgroup: CgroupFixtures.containerLegacyCgroup, mode: .legacy,
            v1: ["memory": ("/sys/fs/cgroup/memory", "/docker/4f1c", "/docker/4f1c"),
                 "cpu": ("/sys/fs/cgroup/cpu,cpuacct", "/docker/4f1c", "/docker/4f1c"),
                 "pids": ("/sys/fs/cgroup/my pids", "/docker/4f1c", "/docker/4f1c")],
            v1Count: 4, unified: nil),
    ]

    @Test(arguments: cases)
    func parse(_ c: Expectation) throws {
        let layout = try CgroupFixtures.layout(c.mountinfo, c.procCgroup, c.controllers)
        #expect(layout.mode == c.mode)
        #expect(layout.hierarchies.count == c.v1Count, "\(layout.hierarchies.map(\.mountPoint))")
        for (controller, (mountPoint, root, own)) in c.v1 {
            let h = try #require(layout.hierarchy(for: controller), "\(controller)")
            #expect(h.mountPoint == mountPoint, "\(controller)")
            #expect(h.root == root, "\(controller)")
            #expect(h.ownPath == own, "\(controller)")
            #expect(h.fsType == "cgroup")
        }
        if let u = c.unified {
            let v2 = try #require(layout.unified)
            #expect(v2.mountPoint == u.mountPoint)
            #expect(v2.ownPath == u.ownPath)
            #expect(v2.controllers == u.controllers)
            #expect(v2.fsType == "cgroup2")
        } else {
            #expect(layout.unified == nil)
        }
    }

    @Test func coMountedControllersShareOneHierarchy() throws {
        let layout = try CgroupFixtures.layout(CgroupFixtures.centosLegacy, CgroupFixtures.centosLegacyCgroup)
        let cpu = try #require(layout.hierarchy(for: "cpu"))
        #expect(cpu.controllers == ["cpuacct", "cpu"])
        #expect(cpu.name == "cpu,cpuacct")
        #expect(cpu.superOptions == "cpuacct,cpu")   // mount options, not seclabel/rw
        let systemd = try #require(layout.hierarchy(for: "name=systemd"))
        #expect(systemd.superOptions == "name=systemd")
        // One directory per hierarchy, not per controller.
        let cg = try Cgroup(layout: layout, path: "/berth/web")
        #expect(cg.directories.count == 11)
        #expect(cg.directory(for: "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/berth/web")
        #expect(cg.directory(for: "net_prio") == "/sys/fs/cgroup/net_cls,net_prio/berth/web")
    }

    @Test func hybridUsesV2OnlyForControllersV1Lacks() throws {
        let layout = try CgroupFixtures.layout(CgroupFixtures.hybrid, CgroupFixtures.hybridCgroup, "hugetlb")
        #expect(layout.usesUnified(for: "hugetlb"))
        #expect(!layout.usesUnified(for: "memory"))
        #expect(layout.hierarchyMounts.count == 10)
        #expect(layout.hierarchyMounts.last?.mountPoint == "/sys/fs/cgroup/unified")
        let cg = try Cgroup(layout: layout, path: "/berth/web")
        #expect(cg.directory(for: "hugetlb") == "/sys/fs/cgroup/unified/berth/web")
        #expect(cg.directory(for: "memory") == "/sys/fs/cgroup/memory/berth/web")
        #expect(cg.unifiedDirectory == "/sys/fs/cgroup/unified/berth/web")
    }

    @Test func unifiedIgnoresLoneNamedV1Hierarchy() throws {
        let text = CgroupFixtures.debianUnified + "\n99 32 0:50 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd"
        let layout = try CgroupFixtures.layout(text, CgroupFixtures.debianUnifiedCgroup, CgroupFixtures.debianControllers)
        #expect(layout.mode == .unified)
        #expect(layout.hierarchyMounts.map(\.mountPoint) == ["/sys/fs/cgroup"])
    }

    @Test func duplicateMountKeepsFirst() throws {
        let layout = try CgroupFixtures.layout(CgroupFixtures.containerLegacy, CgroupFixtures.containerLegacyCgroup)
        #expect(layout.hierarchies.filter { $0.controllers == ["memory"] }.count == 1)
        #expect(layout.hierarchy(for: "memory")?.mountPoint == "/sys/fs/cgroup/memory")
    }

    @Test func noCgroupMountsFails() {
        #expect(throws: BerthError.self) {
            try CgroupFixtures.layout("22 27 0:21 / /proc rw,relatime - proc proc rw\n", "0::/\n")
        }
    }

    @Test func currentHostParses() throws {
        let layout = try CgroupLayout.current()
        #expect(!layout.hierarchyMounts.isEmpty)
    }
}

@Suite("cgroup path")
struct CgroupPathTests {
    struct Case: Sendable, CustomStringConvertible {
        var fixture: String
        var path: String
        /// controller (or "unified") → expected host directory
        var expected: [String: String]
        var description: String { "\(fixture): \(path)" }
    }

    static func layout(_ name: String) throws -> CgroupLayout {
        switch name {
        case "debian": return try CgroupFixtures.layout(CgroupFixtures.debianUnified, CgroupFixtures.debianUnifiedCgroup, CgroupFixtures.debianControllers)
        case "centos": return try CgroupFixtures.layout(CgroupFixtures.centosLegacy, CgroupFixtures.centosLegacyCgroup)
        case "container": return try CgroupFixtures.layout(CgroupFixtures.containerLegacy, CgroupFixtures.containerLegacyCgroup)
        default: return try CgroupFixtures.layout(CgroupFixtures.hybrid, CgroupFixtures.hybridCgroup, "hugetlb")
        }
    }

    static let cases: [Case] = [
        Case(fixture: "hybrid", path: "/berth/web", expected: [
            "memory": "/sys/fs/cgroup/memory/berth/web", "cpu": "/sys/fs/cgroup/cpu/berth/web",
            "name=systemd": "/sys/fs/cgroup/systemd/berth/web", "unified": "/sys/fs/cgroup/unified/berth/web"]),
        // Relative: from the caller's own cgroup, per controller.
        Case(fixture: "hybrid", path: "web", expected: [
            "memory": "/sys/fs/cgroup/memory/process_api/a2cff3191237a7236a264f6ddb885748/web",
            "cpu": "/sys/fs/cgroup/cpu/web", "unified": "/sys/fs/cgroup/unified/web"]),
        Case(fixture: "hybrid", path: "//berth///web/", expected: ["memory": "/sys/fs/cgroup/memory/berth/web"]),
        Case(fixture: "hybrid", path: "/berth/./web", expected: ["pids": "/sys/fs/cgroup/pids/berth/web"]),
        Case(fixture: "debian", path: "/berth/web", expected: ["unified": "/sys/fs/cgroup/berth/web"]),
        Case(fixture: "debian", path: "web", expected: [
            "unified": "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope/web"]),
        Case(fixture: "centos", path: "a/b", expected: [
            "cpu": "/sys/fs/cgroup/cpu,cpuacct/user.slice/a/b", "cpuset": "/sys/fs/cgroup/cpuset/a/b",
            "name=systemd": "/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/a/b"]),
        // In a container: absolute paths are below the mount (the hierarchy as it shows it);
        // the own cgroup is the mount's root, so relative paths start at the mount point.
        Case(fixture: "container", path: "/berth/web", expected: ["memory": "/sys/fs/cgroup/memory/berth/web"]),
        Case(fixture: "container", path: "web", expected: [
            "memory": "/sys/fs/cgroup/memory/web", "pids": "/sys/fs/cgroup/my pids/web"]),
    ]

    @Test(arguments: cases)
    func resolves(_ c: Case) throws {
        let cg = try Cgroup(layout: try CgroupPathTests.layout(c.fixture), path: c.path)
        for (controller, dir) in c.expected {
            let got = controller == "unified" ? cg.unifiedDirectory
                : cg.directories.first { $0.hierarchy.controllers.contains(controller) }?.path
            #expect(got == dir, "\(controller)")
        }
    }

    static let invalid: [(String, String)] = [
        ("", "empty"),
        ("/", "root"),
        ("///", "root"),
        ("/berth/../etc", ".."),
        ("..", ".."),
        ("a/../../b", ".."),
        ("system.slice:docker:abc", "systemd"),
        ("machine.slice:berth:web", "systemd"),
    ]

    @Test(arguments: invalid)
    func rejects(_ path: String, _ word: String) throws {
        let layout = try CgroupPathTests.layout("hybrid")
        do {
            _ = try Cgroup(layout: layout, path: path)
            Issue.record("\(path) accepted")
        } catch let e as BerthError {
            #expect(e.message.contains(word), "\(e.message)")
            #expect(e.message.hasPrefix("cgroup: "))
        }
    }

    @Test func defaultPathWhenUnset() throws {
        let layout = try CgroupPathTests.layout("hybrid")
        for p in [nil, ""] as [String?] {
            let cg = try Cgroup(layout: layout, cgroupsPath: p, defaultPath: "/berth/abc")
            #expect(cg.path == "/berth/abc")
        }
        let given = try Cgroup(layout: layout, cgroupsPath: "/x/y", defaultPath: "/berth/abc")
        #expect(given.path == "/x/y")
    }

    @Test func ownCgroupOutsideMountRootFails() throws {
        let mountinfo = "701 700 0:29 /docker/4f1c /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        let layout = try CgroupFixtures.layout(mountinfo, "5:memory:/elsewhere\n")
        #expect(throws: BerthError.self) { try Cgroup(layout: layout, path: "rel") }
        #expect(try Cgroup(layout: layout, path: "/abs").directories.first?.path == "/sys/fs/cgroup/memory/abs")
    }
}
