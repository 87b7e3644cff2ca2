import BerthCore
import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// A fake cgroup v2 tree in a temp directory: directories with empty control files, so the
/// writes `Cgroup` makes can be read back. (Regular files are not truncated by cgroup-style
/// writes, so each file is written at most once per test.)
final class FakeCgroupTree {
    let root: String

    init(controllers: String = "cpuset cpu io memory hugetlb pids") throws {
        root = NSTemporaryDirectory() + "berth-cgfake-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try file("cgroup.controllers", controllers)
        try file("cgroup.subtree_control")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Makes a directory below the root with empty control files.
    func dir(_ path: String, files: [String]) throws {
        try FileManager.default.createDirectory(atPath: root + path, withIntermediateDirectories: true)
        for f in files { try file(path + "/" + f) }
    }

    func file(_ path: String, _ content: String = "") throws {
        let p = path.hasPrefix("/") ? root + path : root + "/" + path
        try content.write(toFile: p, atomically: false, encoding: .utf8)
    }

    func read(_ path: String) -> String? {
        try? String(contentsOfFile: root + path, encoding: .utf8)
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: root + path) }

    var layout: CgroupLayout {
        CgroupLayout(mode: .unified, hierarchies: [],
                     unified: .init(name: "cgroup", controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"],
                                    mountPoint: root, fsType: "cgroup2"))
    }

    static let leafFiles = [
        "cgroup.procs", "memory.max", "memory.swap.max", "memory.low", "memory.high", "cpu.weight", "cpu.max",
        "cpu.max.burst", "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max", "hugetlb.2MB.max",
    ]
}

/// Decodes an OCI value from JSON (the OCI types with no public memberwise init).
func decodeOCI<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

@Suite("cgroup v2 writes (fake tree)")
struct CgroupWriteTests {
    @Test func everyV2File() throws {
        let tree = try FakeCgroupTree()
        try tree.dir("/berth", files: ["cgroup.controllers", "cgroup.subtree_control"])
        try tree.dir("/berth/c1", files: FakeCgroupTree.leafFiles)
        var r = RuntimeSpec.Resources(
            memory: .init(limit: 64 << 20, reservation: 32 << 20, swap: 128 << 20),
            cpu: .init(shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0"),
            pids: .init(limit: 20),
            unified: ["memory.high": "100M"])
        r.blockIO = try decodeOCI(RuntimeSpec.BlockIO.self, """
            {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}
            """)
        r.hugepageLimits = [try decodeOCI(RuntimeSpec.HugepageLimit.self, #"{"pageSize": "2MB", "limit": 4194304}"#)]
        r.cpu?.burst = 1000
        var cg = try Cgroup(layout: tree.layout, path: "/berth/c1")
        try cg.create(resources: r)

        let expected: [String: String] = [
            "/berth/c1/memory.max": "67108864",
            "/berth/c1/memory.swap.max": "67108864",   // (memory+swap) − memory
            "/berth/c1/memory.low": "33554432",
            "/berth/c1/cpu.weight": "20",              // 1 + (512−2)·9999/262142
            "/berth/c1/cpu.max": "50000 100000",
            "/berth/c1/cpu.max.burst": "1000",
            "/berth/c1/cpuset.cpus": "0",
            "/berth/c1/cpuset.mems": "0",
            "/berth/c1/pids.max": "20",
            "/berth/c1/io.weight": "4950",             // 1 + (500−10)·9999/990
            "/berth/c1/io.max": "8:0 rbps=1048576",
            "/berth/c1/hugetlb.2MB.max": "4194304",
            "/berth/c1/memory.high": "100M",
            // /berth offered nothing (its cgroup.controllers is empty): the root enables the
            // controllers for /berth, /berth for the container.
            "/cgroup.subtree_control": "+cpuset +cpu +io +memory +hugetlb +pids",
            "/berth/cgroup.subtree_control": "+cpuset +cpu +io +memory +hugetlb +pids",
        ]
        for (file, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(tree.read(file) == value, "\(file)")
        }
        #expect(cg.created.isEmpty)  // everything existed
        try cg.addProcess(pid: 4242)
        #expect(tree.read("/berth/c1/cgroup.procs") == "4242")
    }

    /// Directories made are enabled for their children; the pre-existing parent only when it
    /// lacks something.
    @Test func controllersEnabledInMadeAncestors() throws {
        let tree = try FakeCgroupTree()
        try tree.file("cgroup.subtree_control", "cpuset cpu io memory hugetlb pids")  // all on already
        // Only the leaf is missing: its parent existed, with some controllers on.
        try tree.dir("/berth", files: ["cgroup.controllers", "cgroup.subtree_control"])
        try tree.file("/berth/cgroup.controllers", "cpuset cpu io memory hugetlb pids")
        try tree.file("/berth/cgroup.subtree_control", "cpu memory")
        var cg = try Cgroup(layout: tree.layout, path: "/berth/c2")
        try cg.create(resources: nil)
        #expect(tree.read("/berth/cgroup.subtree_control") == "+cpuset +io +hugetlb +pids")
        #expect(tree.read("/cgroup.subtree_control") == "cpuset cpu io memory hugetlb pids")  // untouched
        #expect(cg.created == [tree.root + "/berth/c2"])
        try cg.destroy()
        #expect(!tree.exists("/berth/c2"))
        #expect(tree.exists("/berth"))  // pre-existing parent stays
    }

    struct CPUMax: Sendable, CustomStringConvertible {
        var quota: Int64?
        var period: UInt64?
        var expected: String
        var description: String { "\(quota.map { "\($0)" } ?? "nil")/\(period.map { "\($0)" } ?? "nil")" }
    }

    @Test(arguments: [
        CPUMax(quota: 50000, period: 100000, expected: "50000 100000"),
        CPUMax(quota: -1, period: 100000, expected: "max 100000"),
        CPUMax(quota: nil, period: 250000, expected: "max 250000"),
        CPUMax(quota: 20000, period: nil, expected: "20000"),
    ])
    func cpuMax(_ c: CPUMax) throws {
        let tree = try FakeCgroupTree()
        try tree.file("cgroup.subtree_control", "cpuset cpu io memory hugetlb pids")
        try tree.dir("/c", files: FakeCgroupTree.leafFiles)
        var cg = try Cgroup(layout: tree.layout, path: "/c")
        try cg.create(resources: .init(cpu: .init(quota: c.quota, period: c.period)))
        #expect(tree.read("/c/cpu.max") == c.expected)
    }

    @Test(arguments: [
        (Int64(0), Int64(-1), Int64?.some(-1)),   // unlimited memory: unlimited swap
        (0, 100, nil),                            // no swap given: unset
        (-1, 100, -1),
        (200, 100, 100),
        (100, 100, 0),
    ])
    func swapConversion(_ swap: Int64, _ limit: Int64, _ expected: Int64?) throws {
        #expect(try Cgroup.unifiedSwap(swap: swap, limit: limit) == expected)
    }

    @Test(arguments: [(Int64(50), Int64(100)), (100, 0), (100, -1)])
    func swapConversionRejects(_ swap: Int64, _ limit: Int64) {
        #expect(throws: BerthError.self) { try Cgroup.unifiedSwap(swap: swap, limit: limit) }
    }

    @Test(arguments: [(UInt64(0), UInt64(0)), (2, 1), (1024, 39), (512, 20), (262144, 10000), (1_000_000, 10000)])
    func cpuWeight(_ shares: UInt64, _ weight: UInt64) {
        #expect(Cgroup.cpuWeight(shares: shares) == weight)
    }

    @Test func unlimitedValues() throws {
        let tree = try FakeCgroupTree()
        try tree.file("cgroup.subtree_control", "cpuset cpu io memory hugetlb pids")
        try tree.dir("/c", files: FakeCgroupTree.leafFiles)
        var cg = try Cgroup(layout: tree.layout, path: "/c")
        try cg.create(resources: .init(memory: .init(limit: -1), pids: .init(limit: 0)))
        #expect(tree.read("/c/memory.max") == "max")
        #expect(tree.read("/c/memory.swap.max") == "max")
        #expect(tree.read("/c/pids.max") == "max")
    }

    struct BadUnified: Sendable, CustomStringConvertible {
        var key: String
        var description: String { key }
    }

    @Test(arguments: ["../memory.max", "a/memory.max", "memory", "memory..max", ".max", "cgroup.procs",
                      "cgroup.subtree_control"].map(BadUnified.init))
    func unifiedKeysRejected(_ k: BadUnified) throws {
        let tree = try FakeCgroupTree()
        var cg = try Cgroup(layout: tree.layout, path: "/berth/u")
        do {
            try cg.create(resources: .init(unified: [k.key: "1"]))
            Issue.record("accepted \(k.key)")
        } catch let e as BerthError {
            #expect(e.message.contains(k.key), "\(e.message)")
        }
        #expect(!tree.exists("/berth"), "nothing made for an invalid spec")
    }

    /// A failed write names the file, the value and the directory, and every directory made
    /// is removed again.
    @Test func failedWriteUndoesDirectories() throws {
        let tree = try FakeCgroupTree()
        try tree.file("cgroup.subtree_control", "cpuset cpu io memory hugetlb pids")
        var cg = try Cgroup(layout: tree.layout, path: "/berth/deep/c3")
        do {
            // The fake's new directories have no pids.max: the write fails like a missing file.
            try cg.create(resources: .init(pids: .init(limit: 5)))
            Issue.record("create succeeded")
        } catch let e as BerthError {
            // Made /berth first: enabling controllers in it fails (no cgroup.subtree_control).
            #expect(e.message.contains("cgroup: write "), "\(e.message)")
            #expect(e.message.contains(tree.root + "/berth"), "\(e.message)")
        }
        #expect(!tree.exists("/berth"))
        #expect(cg.created.isEmpty)
    }

    @Test func v1DeviceLines() throws {
        let rules = try #require(try CgroupDeviceRules([
            .init(allow: false, access: "rwm"),
            .init(allow: true, type: "c", major: 10, minor: 229, access: "rw"),
            .init(allow: true, type: "a", major: 7, access: "wr"),   // split into c and b
            .init(allow: false, type: "b", major: -1, minor: -1, access: "mw"),
        ]))
        let lines = rules.rules.map { ($0.allow ? "allow " : "deny ") + $0.v1Line }
        #expect(Array(lines.prefix(5)) == ["deny a", "allow c 10:229 rw", "allow c 7:* rw", "allow b 7:* rw", "deny b *:* wm"])
        #expect(lines.count == 5 + CgroupDeviceRules.defaults.count)
        #expect(lines.contains("allow c 136:* rwm"))
        #expect(try CgroupDeviceRules(nil) == nil)
        #expect(try CgroupDeviceRules([]) == nil)
        #expect(throws: BerthError.self) { try CgroupDeviceRules([.init(allow: true, type: "x")]) }
        #expect(throws: BerthError.self) { try CgroupDeviceRules([.init(allow: true, type: "c", access: "rwx")]) }
    }

    @Test func deviceProgramShape() throws {
        let rules = try #require(try CgroupDeviceRules([.init(allow: false, access: "rwm")]))
        let p = rules.program
        // Prologue 6, one block per default rule, default verdict 2. The deny-all rule is the
        // default verdict itself (0), not a block.
        #expect(p.count > 6 + 2)
        #expect(p.last == 0x95)                     // exit
        #expect(p[p.count - 2] == 0xB4)             // r0 = 0 (deny)
        let allowAll = try #require(try CgroupDeviceRules([.init(allow: true, type: "c", major: 1, minor: 3)]))
        let q = allowAll.program
        #expect(q[q.count - 2] == 0x0000_0001_0000_00B4)  // r0 = 1 (allow)
    }
}
