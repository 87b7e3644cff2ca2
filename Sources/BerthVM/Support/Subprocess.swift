#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Runs helper programs (qemu-img, mke2fs, xz) to completion and collects their output.
///
/// Spawned with BerthSystem's posix_spawn (clean signal mask and dispositions, every other
/// descriptor closed), stdout and stderr into one pipe. Blocking: callers run it through
/// `BlockingWork.run`, never on the cooperative pool.
enum Subprocess {
    /// What a finished program left: its status and its combined output.
    struct Result: Sendable {
        var status: ExitStatus
        var output: [UInt8]
        var text: String { String(decoding: output, as: UTF8.self) }
        /// The last non-empty line of the output (what an error message usually is).
        var lastLine: String {
            text.split(separator: "\n").last.map(String.init)?.trimmingSpaces ?? ""
        }
    }

    static let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]

    /// Runs `path args…` and waits. Throws only if it cannot be started; `tool` names the
    /// package to install when the program is missing.
    static func run(_ path: String, _ args: [String], tool: String) throws -> Result {
        guard access(path, X_OK) == 0 else {
            throw BerthError(.notFound, "\(path) not found (install \(tool))")
        }
        let (r, w) = try FD.pipe()
        let pid: pid_t
        do {
            pid = try ProcessControl.spawn(path: path, args: [path] + args, env: environment, stdio: [1: w, 2: w])
        } catch {
            FD.close(r)
            FD.close(w)
            throw error
        }
        FD.close(w)
        let output = (try? FileSystem.readAll(fd: r, what: "output of \(path)")) ?? []
        FD.close(r)
        guard let (_, status) = try ProcessControl.wait(pid) else {
            throw BerthError(.internal, "wait for \(path): no status")
        }
        return Result(status: status, output: output)
    }

    /// Runs and requires exit 0; otherwise throws `what: <last line of output>`.
    @discardableResult
    static func check(_ path: String, _ args: [String], tool: String, what: String) throws -> Result {
        let r = try run(path, args, tool: tool)
        if r.status != .exited(0) {
            throw BerthError(.system, "\(what): \(r.lastLine.isEmpty ? "exit status \(r.status.code)" : r.lastLine)")
        }
        return r
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s.removeFirst() }
        while let l = s.last, ws.contains(l) { s.removeLast() }
        return String(s)
    }
}
