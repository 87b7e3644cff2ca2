import BerthTestSupport
import BerthCore
import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// Real cgroups on this host (root): everything lives under a unique parent
/// (`/berth-test-<random>`) which is removed from every hierarchy afterwards, even on failure.
final class HostCgroupParent {
    let layout: CgroupLayout
    let name: String

    init(layout: CgroupLayout? = nil) throws {
        self.layout = try layout ?? CgroupLayout.current()
        name = "/berth-test-\(UUID().uuidString.prefix(8).lowercased())"
    }

    deinit { removeAll() }

    /// The parent's host directory in each hierarchy.
    var directories: [String] { layout.hierarchyMounts.map { $0.mountPoint + name } }

    /// Directories of the parent still present.
    func leftovers() -> [String] { directories.filter { FileManager.default.fileExists(atPath: $0) } }

    func removeAll() {
        for d in directories { HostCgroupParent.removeTree(d) }
    }

    static func removeTree(_ dir: String) {
        let kids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for k in kids where RuntimeHarness.isDirectory("\(dir)/\(k)") { removeTree("\(dir)/\(k)") }
        for _ in 0..<100 where rmdir(dir) != 0 && errno == EBUSY { usleep(10_000) }
    }

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Reads a limit back from whichever file holds it on this host (v1 or v2).
func readLimit(_ cg: Cgroup, _ controller: String, v1: String, v2: String) -> String? {
    guard let dir = cg.directory(for: controller) else { return nil }
    let isV2 = dir == cg.unifiedDirectory
    return HostCgroupParent.read(dir + "/" + (isV2 ? v2 : v1))
}

func spawnSleep() throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sleep")
    p.arguments = ["30"]
    try p.run()
    return p
}

@Suite("cgroup on this host", .enabled(if: getuid() == 0, "needs root"))
struct CgroupHostTests {
    static let resources = RuntimeSpec.Resources(
        devices: [.init(allow: false, access: "rwm")],
        memory: .init(limit: 64 << 20),
        cpu: .init(shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0"),
        pids: .init(limit: 20))

    @Test func lifecycle() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        var cg = try Cgroup(layout: parent.layout, path: parent.name + "/c1")
        try cg.create(resources: CgroupHostTests.resources)
        #expect(cg.created.count == 2 * cg.directories.count, "parent and leaf made in every hierarchy")
        for d in cg.directories { #expect(RuntimeHarness.isDirectory(d.path), "\(d.path)") }

        // The limits, read back from the kernel's files.
        #expect(readLimit(cg, "memory", v1: "memory.limit_in_bytes", v2: "memory.max") == "67108864")
        #expect(readLimit(cg, "cpu", v1: "cpu.shares", v2: "cpu.weight") == (cg.directory(for: "cpu") == cg.unifiedDirectory ? "20" : "512"))
        if let dir = cg.directory(for: "cpu"), dir != cg.unifiedDirectory {
            #expect(HostCgroupParent.read(dir + "/cpu.cfs_quota_us") == "50000")
            #expect(HostCgroupParent.read(dir + "/cpu.cfs_period_us") == "100000")
        } else {
            #expect(readLimit(cg, "cpu", v1: "", v2: "cpu.max") == "50000 100000")
        }
        #expect(readLimit(cg, "cpuset", v1: "cpuset.cpus", v2: "cpuset.cpus") == "0")
        #expect(readLimit(cg, "cpuset", v1: "cpuset.mems", v2: "cpuset.mems") == "0")
        #expect(readLimit(cg, "pids", v1: "pids.max", v2: "pids.max") == "20")
        if let dir = cg.directory(for: "devices") {
            let list = HostCgroupParent.read(dir + "/devices.list") ?? ""
            #expect(!list.contains("a *:* rwm"), "\(list)")
            #expect(list.contains("c 1:3 rwm") && list.contains("c 136:* rwm"), "\(list)")
        }
        // The parent cpuset was given the host's cpus and mems (v1 needs them before tasks join).
        if let dir = cg.directory(for: "cpuset"), dir != cg.unifiedDirectory {
            let parentDir = (dir as NSString).deletingLastPathComponent
            #expect(HostCgroupParent.read(parentDir + "/cpuset.cpus")?.isEmpty == false)
        }

        // A real process joins every hierarchy.
        let sleeper = try spawnSleep()
        let pid = sleeper.processIdentifier
        try cg.addProcess(pid: pid)
        let lines = (HostCgroupParent.read("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
        var joined = 0
        for line in lines {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let ours = f[1].isEmpty ? cg.unifiedDirectory != nil
                : cg.directories.contains { !$0.hierarchy.isUnified && Set($0.hierarchy.controllers) == Set(f[1].split(separator: ",").map(String.init)) }
            guard ours else { continue }
            #expect(f[2] == parent.name + "/c1", "\(line)")
            joined += 1
        }
        #expect(joined == cg.directories.count, "\(lines)")
        #expect(try cg.processes() == [pid])
        #expect(try cg.pidsCurrent() == 1)
        _ = try cg.memoryUsage()   // v1 does not move a task's charges with it: may be 0
        #expect(try cg.memoryLimit() == 64 << 20)
        _ = try cg.cpuUsage()
        #expect(try cg.oomKillCount() == 0)

        // Pause and resume.
        try cg.freeze()
        #expect(try cg.isFrozen())
        try cg.thaw()
        #expect(try !cg.isFrozen())

        try cg.killAll()
        sleeper.waitUntilExitReliably()
        #expect(sleeper.terminationReason == .uncaughtSignal)
        #expect(try cg.processes().isEmpty)
        try cg.destroy()
        #expect(parent.leftovers().isEmpty, "\(parent.leftovers())")
    }

    /// An invalid value fails with the file, value and directory named, and nothing stays.
    @Test func invalidCpusetLeavesNothing() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        var cg = try Cgroup(layout: parent.layout, path: parent.name + "/c1")
        do {
            try cg.create(resources: .init(memory: .init(limit: 64 << 20), cpu: .init(cpus: "64-70")))
            Issue.record("cpuset 64-70 accepted")
        } catch let e as BerthError {
            #expect(e.message.contains("cpuset.cpus=64-70"), "\(e.message)")
            #expect(e.message.contains(parent.name + "/c1"), "\(e.message)")
            #expect(e.code == .invalidArgument)
        }
        #expect(parent.leftovers().isEmpty, "\(parent.leftovers())")
        #expect(cg.created.isEmpty)
    }

    /// A parent that existed before (shared by containers) stays after destroy; an empty
    /// cpuset parent someone left behind is filled in.
    @Test func sharedParentStays() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        for d in parent.directories { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false) }
        var a = try Cgroup(layout: parent.layout, path: parent.name + "/a")
        var b = try Cgroup(layout: parent.layout, path: parent.name + "/b")
        try a.create(resources: .init(cpu: .init(cpus: "0")))
        try b.create(resources: nil)
        #expect(a.created.count == a.directories.count)   // leaves only
        let sleeper = try spawnSleep()
        try b.addProcess(pid: sleeper.processIdentifier)
        try a.destroy()
        try b.killAll()
        sleeper.waitUntilExitReliably()
        try b.destroy()
        #expect(parent.leftovers().count == parent.directories.count, "the parent stays in every hierarchy")
        for d in parent.directories {
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).allSatisfy { !RuntimeHarness.isDirectory(d + "/" + $0) })
        }
    }

    /// Two containers under a parent the first one made: destroying the first leaves the
    /// parent for the second; destroying the second removes it.
    @Test func madeParentRemovedWithLastUser() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        var a = try Cgroup(layout: parent.layout, path: parent.name + "/a")
        var b = try Cgroup(layout: parent.layout, path: parent.name + "/b")
        try a.create(resources: nil)
        try b.create(resources: nil)
        try a.destroy()
        #expect(parent.leftovers().count == parent.directories.count)
        try b.destroy()
        #expect(parent.leftovers().count == parent.directories.count, "b did not make the parent")
        parent.removeAll()
        #expect(parent.leftovers().isEmpty)
    }

    /// v1 memory + swap: raising needs memsw first, lowering needs the limit first.
    @Test func updateMemoryBothWays() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        var cg = try Cgroup(layout: parent.layout, path: parent.name + "/m")
        try cg.create(resources: .init(memory: .init(limit: 64 << 20, swap: 128 << 20)))
        defer { try? cg.destroy() }
        guard let dir = cg.directory(for: "memory"), dir != cg.unifiedDirectory,
              FileManager.default.fileExists(atPath: dir + "/memory.memsw.limit_in_bytes") else { return }
        func values() -> [String?] {
            [HostCgroupParent.read(dir + "/memory.limit_in_bytes"), HostCgroupParent.read(dir + "/memory.memsw.limit_in_bytes")]
        }
        #expect(values() == ["67108864", "134217728"])
        try cg.update(resources: .init(memory: .init(limit: 256 << 20, swap: 512 << 20)))
        #expect(values() == ["268435456", "536870912"])
        try cg.update(resources: .init(memory: .init(limit: 32 << 20, swap: 48 << 20)))
        #expect(values() == ["33554432", "50331648"])
        try cg.update(resources: .init(memory: .init(limit: -1)))
        #expect(values().allSatisfy { UInt64($0 ?? "") ?? 0 > 1 << 60 }, "\(values())")
    }

    /// The OOM killer at work: a process over its limit is killed and counted.
    @Test func oomKillCounted() throws {
        let parent = try HostCgroupParent()
        defer { parent.removeAll() }
        var cg = try Cgroup(layout: parent.layout, path: parent.name + "/oom")
        try cg.create(resources: .init(memory: .init(limit: 16 << 20, swap: 16 << 20)))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "read go; exec tail /dev/zero"]
        let input = Pipe()
        p.standardInput = input
        try p.run()
        try cg.addProcess(pid: p.processIdentifier)
        input.fileHandleForWriting.write(Data("go\n".utf8))
        p.waitUntilExitReliably()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL)
        #expect(try cg.oomKillCount() == 1)
        #expect(try cg.memoryEvents().oomKill == 1)
        try cg.destroy()
        #expect(parent.leftovers().isEmpty)
    }

    /// A relative path is below the caller's own cgroup in each hierarchy.
    @Test func relativePath() throws {
        let layout = try CgroupLayout.current()
        let name = "berth-test-rel-\(UUID().uuidString.prefix(8).lowercased())"
        var cg = try Cgroup(layout: layout, path: name)
        defer { for d in cg.directories { HostCgroupParent.removeTree(d.path) } }
        try cg.create(resources: nil)
        for d in cg.directories {
            let own = d.hierarchy.ownPath == "/" ? "" : d.hierarchy.ownPath
            #expect(d.path == d.hierarchy.mountPoint + own + "/" + name)
            #expect(RuntimeHarness.isDirectory(d.path))
        }
        try cg.destroy()
        for d in cg.directories { #expect(!FileManager.default.fileExists(atPath: d.path)) }
    }

    /// cgroup v2 device rules: the eBPF program, attached to a directory of this host's cgroup2
    /// tree (device programs work on any v2 cgroup, even without controllers).
    @Test func v2DeviceFilter() throws {
        let host = try CgroupLayout.current()
        guard var v2 = host.unified else { return }
        v2.controllers = []   // do not touch the host's subtree_control
        let layout = CgroupLayout(mode: .unified, hierarchies: [], unified: v2)
        let parent = try HostCgroupParent(layout: layout)
        defer { parent.removeAll() }
        var cg = try Cgroup(layout: layout, path: parent.name + "/dev")
        try cg.create(resources: .init(devices: [.init(allow: false, access: "rwm")]))
        let dir = try #require(cg.unifiedDirectory)
        let script = """
            echo $$ > \(dir)/cgroup.procs || exit 9
            if (: < /dev/null); then echo null-open; else echo null-denied; fi
            if (: < /dev/kmsg); then echo kmsg-open; else echo kmsg-denied; fi
            """
        func run() throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", script]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExitReliably()
            return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        let output = try run()
        #expect(output.contains("null-open"), "\(output)")
        #expect(output.contains("kmsg-denied"), "\(output)")
        try cg.destroy()
        #expect(parent.leftovers().isEmpty)
    }
}
