import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// Paths of the binaries and the test image.
enum Paths {
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var berthd: String { ProcessInfo.processInfo.environment["BERTHD"] ?? repo + "/.build/debug/berthd" }
    static var berthInit: String { ProcessInfo.processInfo.environment["BERTH_INIT"] ?? repo + "/.build/debug/berth-init" }
    static var berth: String { ProcessInfo.processInfo.environment["BERTH"] ?? repo + "/.build/debug/berth" }
    static var testImage: String { repo + "/.build/test-image/busybox-test.tar" }
    static var testRootfs: String { repo + "/.build/test-image/rootfs" }
}

/// The output of a finished command.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var stdoutData: Data
}

/// Runs a program to completion, with stdin from a file or bytes; output captured through
/// files (no pipe deadlocks).
@discardableResult
func runCommand(_ args: [String], env: [String: String] = [:], stdinFile: String? = nil, stdin: Data? = nil,
                cwd: String? = nil) throws -> CommandResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cmd-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    FileManager.default.createFile(atPath: out.path, contents: nil)
    FileManager.default.createFile(atPath: err.path, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: args[0].hasPrefix("/") ? args[0] : "/usr/bin/env")
    p.arguments = args[0].hasPrefix("/") ? Array(args.dropFirst()) : args
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
    p.standardOutput = outHandle
    p.standardError = errHandle
    if let stdinFile {
        p.standardInput = FileHandle(forReadingAtPath: stdinFile)
    } else if let stdin {
        let inFile = dir.appendingPathComponent("in")
        try stdin.write(to: inFile)
        p.standardInput = FileHandle(forReadingAtPath: inFile.path)
    } else {
        p.standardInput = FileHandle.nullDevice
    }
    try p.run()
    p.waitUntilExitReliably()
    try outHandle.close()
    try errHandle.close()
    let o = try Data(contentsOf: out)
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self), stdoutData: o)
}

/// A berthd on a private root and socket. `stop()` must be called (use `withDaemon`).
final class TestDaemon {
    let dir: String
    var root: String { dir + "/root" }
    var socket: String { dir + "/berth.sock" }
    var host: String { "unix://" + socket }
    /// berthd's pid while it runs. Spawned and reaped through BerthSystem, not Foundation's
    /// `Process`: Foundation's child monitor was seen blocked in wait4 on a running berthd
    /// (two CI runs hung so: no other child's exit was noticed until berthd ended, and the
    /// test that would end it was waiting for one of them).
    private(set) var process: pid_t?
    let logPath: String
    /// More berthd flags (set before `start`).
    var extraArgs: [String] = []

    /// Runtime state (monitor sockets): short, as unix socket paths are limited.
    let execRoot: String
    /// This daemon's default bridge and nftables table, removed by `cleanup`.
    let bridge: String
    let firewallTable: String

    init() throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        dir = "/tmp/berth-it-\(tag)"
        execRoot = "/run/berth/t-\(tag)"
        bridge = "bt\(tag)"
        firewallTable = "berth_t\(tag)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        logPath = dir + "/berthd.log"
    }

    func start() throws {
        let args = [Paths.berthd, "--root", root, "-H", host, "--pidfile", dir + "/berthd.pid", "--init-binary", Paths.berthInit,
                    "--config-file", dir + "/none.json", "--exec-root", execRoot,
                    "--bridge", bridge, "--firewall-table", firewallTable] + extraArgs
        let log = try FD.open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: 0o644)
        defer { FD.close(log) }
        let null = try FD.open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { FD.close(null) }
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let pid = try ProcessControl.spawn(path: Paths.berthd, args: args, env: env, stdio: [0: null, 1: log, 2: log])
        process = pid
        // Wait for the socket to answer.
        for _ in 0..<500 {
            if FileManager.default.fileExists(atPath: socket),
               let r = try? runCommand(["curl", "-sf", "--unix-socket", socket, "http://x/_ping"]), r.stdout == "OK" {
                return
            }
            if !isRunning { break }
            usleep(10_000)
        }
        throw DaemonError("berthd did not start: \(daemonLog)")
    }

    var daemonLog: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Whether berthd still runs (reaps it when it has exited).
    var isRunning: Bool {
        guard let pid = process else { return false }
        if case .some(.some) = try? ProcessControl.wait(pid, noHang: true) {
            process = nil
            return false
        }
        return true
    }

    /// SIGTERM and wait.
    func stop() { end(SIGTERM) }

    /// SIGKILL and wait (a crash).
    func crash() { end(SIGKILL) }

    private func end(_ signal: Int32) {
        guard isRunning, let pid = process else { return }
        kill(pid, signal)
        _ = try? ProcessControl.wait(pid)
        process = nil
    }

    /// Removes everything the daemon made: its containers (through the API while it runs),
    /// then any monitor, cgroup or mount left behind (a test that crashed the daemon), then
    /// its directories.
    func cleanup() {
        if process != nil {
            let ids = (try? docker("ps", "-aq", "--no-trunc"))?.stdout.split(separator: "\n").map(String.init) ?? []
            if !ids.isEmpty { _ = try? runCommand(["docker", "rm", "-f"] + ids, env: ["DOCKER_HOST": host]) }
            _ = try? runCommand(["docker", "network", "prune", "-f"], env: ["DOCKER_HOST": host])
            if FileManager.default.fileExists(atPath: root + "/vms/records") {
                let vms = (try? berth("vm", "ls", "-q"))?.stdout.split(separator: "\n").map(String.init) ?? []
                for vm in vms { _ = try? berth("vm", "rm", "-f", vm) }
            }
        }
        stop()
        // VMs outlive berthd by design: kill any QEMU still recorded under this root.
        let vmState = root + "/vms/state"
        for vm in (try? FileManager.default.contentsOfDirectory(atPath: vmState)) ?? [] {
            if let data = FileManager.default.contents(atPath: vmState + "/" + vm + "/process.json"),
               let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let pid = obj["pid"] as? Int,
               let argv = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
               String(decoding: argv, as: UTF8.self).contains(execRoot + "/vms/") {
                kill(Int32(pid), SIGKILL)
            }
        }
        // QEMUs of --isolation vm containers (state under <exec root>/vm/) left by a test that
        // failed while the daemon was down.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let argv = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let cmd = String(decoding: argv, as: UTF8.self)
            if cmd.hasPrefix("qemu-system") || cmd.contains("/qemu-system"), cmd.contains(execRoot + "/vm/") { kill(pid, SIGKILL) }
        }
        // Bridges of networks left behind (a crashed daemon), the default bridge, the table.
        for bridge in [bridge] + networkBridges() { _ = try? runCommand(["ip", "link", "del", bridge]) }
        _ = try? runCommand(["nft", "delete", "table", "inet", firewallTable])
        for id in (try? FileManager.default.contentsOfDirectory(atPath: execRoot)) ?? [] {
            let state = execRoot + "/" + id + "/state.json"
            if let data = FileManager.default.contents(atPath: state),
               let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                for key in ["pid", "monitorPid"] { if let pid = obj[key] as? Int32 ?? (obj[key] as? Int).map(Int32.init) { kill(pid, SIGKILL) } }
            }
            usleep(100_000)
            for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
                rmdir("/sys/fs/cgroup/\(hierarchy)/berth/\(id)")
            }
            rmdir("/sys/fs/cgroup/berth/\(id)")
        }
        for mount in TestDaemon.mounts(under: dir).reversed() { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: execRoot)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The bridges of the networks in this daemon's records.
    func networkBridges() -> [String] {
        let dir = root + "/networks"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { file in
            guard let data = FileManager.default.contents(atPath: dir + "/" + file),
                  let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return obj["bridge"] as? String
        }
    }

    /// Mount points under a path (from /proc/self/mountinfo).
    static func mounts(under path: String) -> [String] {
        guard let info = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return info.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count > 4 else { return nil }
            let p = String(f[4])
            return p.hasPrefix(path + "/") ? p : nil
        }
    }

    /// Containers' cgroups that still exist (memory hierarchy, or the unified one).
    func leftoverCgroups(_ ids: [String]) -> [String] {
        ids.flatMap { id in
            ["/sys/fs/cgroup/memory/berth/\(id)", "/sys/fs/cgroup/pids/berth/\(id)", "/sys/fs/cgroup/unified/berth/\(id)"]
                .filter { FileManager.default.fileExists(atPath: $0) }
        }
    }

    /// Runs the docker CLI against this daemon.
    @discardableResult
    func docker(_ args: String..., stdinFile: String? = nil, stdin: Data? = nil) throws -> CommandResult {
        try runCommand(["docker"] + args, env: ["DOCKER_HOST": host, "DOCKER_CONFIG": dir + "/docker-config"], stdinFile: stdinFile, stdin: stdin)
    }

    /// Runs our `berth` CLI against this daemon.
    @discardableResult
    func berth(_ args: String..., stdin: Data? = nil) throws -> CommandResult {
        try runCommand([Paths.berth, "-H", host] + args, env: ["DOCKER_CONFIG": dir + "/docker-config"], stdin: stdin)
    }

    /// Runs a python3 snippet with `DOCKER_HOST` set to this daemon.
    @discardableResult
    func python(_ code: String) throws -> CommandResult {
        try runCommand(["python3", "-c", code], env: ["DOCKER_HOST": host])
    }
}

struct DaemonError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs `body` with a started daemon; always stops it and removes its directory.
func withDaemon<T>(_ body: (TestDaemon) throws -> T) throws -> T {
    let d = try TestDaemon()
    defer { d.cleanup() }
    try d.start()
    return try body(d)
}

/// Runs `body` with a started daemon that has the busybox test image loaded.
func withImage<T>(_ body: (TestDaemon) throws -> T) throws -> T {
    try withDaemon { d in
        let load = try d.docker("load", "-i", Paths.testImage)
        #expect(load.status == 0, "\(load.stderr)")
        return try body(d)
    }
}

/// Lists every file under a directory (relative paths).
func filesUnder(_ path: String) -> [String] {
    guard let e = FileManager.default.enumerator(atPath: path) else { return [] }
    var out: [String] = []
    while let f = e.nextObject() as? String { out.append(f) }
    return out
}
