import BerthCore
import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// Drives the real `berth-init` binary against bundles in a temp directory of the test's own.
/// Everything a test makes lives under `dir` (bundles, state root) or under the cgroup parent
/// `cgroupParent`, and `cleanUp()` removes all of it — containers first.
final class RuntimeHarness: @unchecked Sendable {
    static let repo: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["BERTH_INIT"], !b.isEmpty { return b }
        for c in ["\(repo)/.build/debug/berth-init", "\(repo)/.build/release/berth-init"]
        where FileManager.default.isExecutableFile(atPath: c) { return c }
        return "\(repo)/.build/debug/berth-init"
    }()

    static let imageRootfs = "\(repo)/.build/test-image/rootfs"

    let dir: String
    let stateRoot: String
    let cgroupParent: String
    var ids: [String] = []

    init() throws {
        let name = "berth-rt-\(UUID().uuidString.prefix(8).lowercased())"
        dir = "/tmp/\(name)"
        stateRoot = "\(dir)/state"
        cgroupParent = "/\(name)"
        try FileManager.default.createDirectory(atPath: stateRoot, withIntermediateDirectories: true)
        guard FileManager.default.fileExists(atPath: RuntimeHarness.imageRootfs + "/bin/busybox") else {
            throw BerthError.notFound("test image missing: run scripts/make-test-image")
        }
    }

    /// A bundle with its own copy of the busybox rootfs and a Docker-default config running
    /// `args`, adjusted by `edit`.
    func bundle(_ id: String, args: [String], edit: (inout RuntimeSpec) -> Void = { _ in }) throws -> String {
        let b = "\(dir)/\(id)"
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: "\(b)/rootfs") {
            let cp = try run("/bin/cp", ["-a", RuntimeHarness.imageRootfs, "\(b)/rootfs"])
            guard cp.code == 0 else { throw BerthError(.system, "copy rootfs: \(cp.stderr)") }
        }
        var spec = SecurityDefaults.spec(args: args)
        spec.hostname = "berth-test"
        spec.linux?.cgroupsPath = "\(cgroupParent)/\(id)"
        edit(&spec)
        try writeConfig(spec, bundle: b)
        ids.append(id)
        return b
    }

    func writeConfig(_ spec: RuntimeSpec, bundle: String) throws {
        let data = try BerthJSONEncoder().encode(spec)
        try Data(data).write(to: URL(fileURLWithPath: "\(bundle)/config.json"))
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `berth-init --root <state> ARGS`.
    func initCmd(_ args: [String], stdin: String? = nil, timeout: TimeInterval = 60) throws -> Result {
        try run(RuntimeHarness.binary, ["--root", stateRoot] + args, stdin: stdin, timeout: timeout)
    }

    /// `run` of a fresh bundle: the one-liner most tests need.
    func runContainer(_ id: String, _ args: [String], edit: (inout RuntimeSpec) -> Void = { _ in }) throws -> Result {
        let b = try bundle(id, args: args, edit: edit)
        return try initCmd(["run", "--bundle", b, id])
    }

    /// Runs a program with stdout and stderr going to files (not pipes: a created container
    /// inherits them and keeps them open long after `create` returns, as with runc).
    func run(_ path: String, _ args: [String], stdin: String? = nil, timeout: TimeInterval = 60) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let tag = UUID().uuidString.prefix(8)
        let outPath = "\(dir)/.out-\(tag)", errPath = "\(dir)/.err-\(tag)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: errPath) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try p.run()
        try out.close()
        try err.close()
        if let stdin {
            inPipe.fileHandleForWriting.write(Data(stdin.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(1000) }
        if p.isRunning { p.terminate(); throw BerthError(.internal, "\(path) \(args) timed out") }
        let outData = FileManager.default.contents(atPath: outPath) ?? Data()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(code: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// The exit record a container's monitor wrote, waiting for it (bounded).
    func waitExit(_ id: String, timeout: TimeInterval = 30) throws -> ExitRecord {
        let path = "\(stateRoot)/\(id)/exit.json"
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let d = FileManager.default.contents(atPath: path) {
                return try BerthJSONDecoder().decode(ExitRecord.self, from: [UInt8](d))
            }
            usleep(5000)
        }
        throw BerthError(.internal, "container \(id) did not exit in \(timeout)s")
    }

    /// Directories left below the test's cgroup parent in every hierarchy.
    func leftoverCgroups() -> [String] {
        var out: [String] = []
        for root in RuntimeHarness.cgroupRoots() {
            let p = root + cgroupParent
            if let kids = try? FileManager.default.contentsOfDirectory(atPath: p) {
                for k in kids where RuntimeHarness.isDirectory("\(p)/\(k)") { out.append("\(p)/\(k)") }
            }
        }
        return out
    }

    /// Processes whose command line mentions this test's directory (monitors, containers).
    func leftoverProcesses() -> [String] {
        let me = getpid()
        var out: [String] = []
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(e), pid != me,
                  let d = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { continue }
            let cmd = String(decoding: d.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if cmd.contains(dir) { out.append("\(e): \(cmd)") }
        }
        return out
    }

    /// Removes every container, cgroup and file the test made.
    func cleanUp() {
        for id in ids.reversed() {
            _ = try? initCmd(["delete", "--force", id], timeout: 20)
        }
        for root in RuntimeHarness.cgroupRoots() {
            let p = root + cgroupParent
            if let kids = try? FileManager.default.contentsOfDirectory(atPath: p) {
                for k in kids where RuntimeHarness.isDirectory("\(p)/\(k)") { rmdir("\(p)/\(k)") }
            }
            rmdir(p)
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func isDirectory(_ p: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &isDir) && isDir.boolValue
    }

    /// Every cgroup hierarchy mount point on this host (v1 controllers and v2).
    static func cgroupRoots() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count else { return nil }
            let fs = parts[dash + 1]
            return fs == "cgroup" || fs == "cgroup2" ? String(parts[4]) : nil
        }
    }

    /// Host mount count (container mounts live in their own namespaces and must not show here).
    /// Mounts on the host, leaving out those other suites running in parallel make and remove
    /// on their own: network namespaces pinned by `ip netns add` (nsfs, /run/netns) and the
    /// integration tests' daemons under their temp dirs.
    static func hostMountCount() -> Int {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").split(separator: "\n").filter { line in
            let f = line.split(separator: " ")
            guard f.count > 4 else { return true }
            let point = f[4]
            if point.hasPrefix("/run/netns") || line.contains(" - nsfs ") { return false }
            return !(point.hasPrefix("/tmp/berth-it-") || point.contains("/berth-cli-") || point.hasPrefix("/tmp/berth-bench"))
        }.count
    }
}
