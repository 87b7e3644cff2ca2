import BerthTestSupport
import Foundation

/// Paths of the binaries and fixtures the CLI tests use.
enum CLIPaths {
    static let packageRoot: String = {
        // …/Tests/IntegrationTests/CLITestSupport.swift → package root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static var berthd: String { ProcessInfo.processInfo.environment["BERTHD"] ?? packageRoot + "/.build/debug/berthd" }
    static var berth: String { ProcessInfo.processInfo.environment["BERTH"] ?? packageRoot + "/.build/debug/berth" }
    static var testImage: String { packageRoot + "/.build/test-image/busybox-test.tar" }
}

/// What a `berth` run produced.
struct CLIOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

struct CLITestFailure: Error, CustomStringConvertible {
    var description: String
}

/// A berthd on a temp root and socket, and a way to run `berth` against it.
/// `stop()` sends SIGTERM, waits, and removes the temp dir; `withCLIDaemon` always calls it.
final class CLIDaemon {
    let dir: String
    let socket: String
    let process = Process()

    var host: String { "unix://" + socket }
    var root: String { dir + "/root" }

    /// This daemon's default bridge and nftables table, removed by `stop`.
    let bridge: String
    let firewallTable: String
    /// Runtime state (short: unix socket paths are limited), removed by `stop`.
    let execRoot: String

    init() throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        bridge = "bc" + tag
        firewallTable = "berth_c" + tag
        execRoot = "/run/berth/c-" + tag
        dir = NSTemporaryDirectory() + "berth-cli-" + tag
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        socket = dir + "/s.sock"
        process.executableURL = URL(fileURLWithPath: CLIPaths.berthd)
        process.arguments = ["--root", dir + "/root", "-H", "unix://" + socket, "--pidfile", dir + "/pid",
                             "--config-file", dir + "/none.json", "--bridge", bridge, "--firewall-table", firewallTable,
                             "--exec-root", execRoot]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        _ = FileManager.default.createFile(atPath: dir + "/berthd.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: dir + "/berthd.log")
        do {
            try process.run()
            try waitForSocket()
        } catch {
            stop()
            throw error
        }
    }

    private func waitForSocket() throws {
        for _ in 0..<600 {
            if FileManager.default.fileExists(atPath: socket) { return }
            if !process.isRunning {
                let log = (try? String(contentsOfFile: dir + "/berthd.log", encoding: .utf8)) ?? ""
                throw CLITestFailure(description: "berthd exited with \(process.terminationStatus): \(log)")
            }
            usleep(10_000)
        }
        throw CLITestFailure(description: "berthd did not create \(socket)")
    }

    /// Runs `berth -H <this daemon> args…`.
    func berth(_ args: [String], stdinFile: String? = nil) throws -> CLIOutput {
        try runBerth(["-H", host] + args, stdinFile: stdinFile, scratch: dir)
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExitReliably()
        }
        for args in [["ip", "link", "del", bridge], ["nft", "delete", "table", "inet", firewallTable]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            if (try? p.run()) != nil { p.waitUntilExitReliably() }
        }
        try? FileManager.default.removeItem(atPath: execRoot)
        try? FileManager.default.removeItem(atPath: dir)
    }
}

/// Runs `berth` with `args`, stdout and stderr collected through files (no pipe deadlocks).
func runBerth(_ args: [String], stdinFile: String? = nil, scratch: String? = nil, env: [String: String] = [:]) throws -> CLIOutput {
    let dir = scratch ?? NSTemporaryDirectory()
    let tag = UUID().uuidString
    let outPath = dir + "/out-" + tag, errPath = dir + "/err-" + tag
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CLIPaths.berth)
    p.arguments = args
    var environment = ProcessInfo.processInfo.environment
    environment["BERTH_HOST"] = nil
    environment["DOCKER_HOST"] = nil
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    p.standardInput = FileHandle(forReadingAtPath: stdinFile ?? "/dev/null")
    p.standardOutput = FileHandle(forWritingAtPath: outPath)
    p.standardError = FileHandle(forWritingAtPath: errPath)
    try p.run()
    p.waitUntilExitReliably()
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return CLIOutput(status: p.terminationStatus, stdout: out, stderr: err)
}

/// Starts a daemon, runs `body`, and always stops the daemon and removes its directory.
func withCLIDaemon<T>(_ body: (CLIDaemon) throws -> T) throws -> T {
    let d = try CLIDaemon()
    defer { d.stop() }
    return try body(d)
}

/// Runs `berth` and fails (with its stderr) unless it exits 0.
@discardableResult
func berthOK(_ d: CLIDaemon, _ args: [String], stdinFile: String? = nil) throws -> CLIOutput {
    let r = try d.berth(args, stdinFile: stdinFile)
    guard r.status == 0 else {
        throw CLITestFailure(description: "berth \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)\(r.stdout)")
    }
    return r
}

/// Parses a JSON document printed by the CLI.
func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}
