import BerthCore
import BerthSystem

/// What a finished command printed, and how it ended.
struct CommandOutput: Sendable {
    var status: ExitStatus
    var stdout: String
    var stderr: String

    var succeeded: Bool { status == .exited(0) }

    /// stderr (or stdout when stderr is empty), trimmed, for error messages.
    var message: String {
        let text = stderr.isEmpty ? stdout : stderr
        return text.split(whereSeparator: \.isNewline).map { $0.trimmedLine }.filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}

/// Runs nft and the iptables tools with `ProcessControl.spawn` (berthd never forks), in the
/// host's network namespace or, for tests, inside a named one (`ip netns exec`).
struct FirewallCommands: Sendable {
    /// A network namespace name (`/run/netns/NAME`) to run every command in; nil: ours.
    let namespace: String?

    static let searchPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    static let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]

    /// The full path of a program on the standard system path, nil if not installed.
    static func find(_ program: String) -> String? {
        searchPath.map { "\($0)/\(program)" }.first { FileSystem.exists($0) }
    }

    /// True when `program` is installed.
    func exists(_ program: String) -> Bool { Self.find(program) != nil }

    /// Runs `program` with `args`, feeding `input` on stdin, and collects its output.
    /// - Throws: only when the program cannot be started (not installed, spawn failed); a
    ///   non-zero exit is returned in the output for the caller to judge.
    func run(_ program: String, _ args: [String], input: String? = nil) throws -> CommandOutput {
        var path: String
        var argv: [String]
        if let namespace {
            guard let ip = Self.find("ip") else {
                throw BerthError.unsupported("ip (iproute2) not found: needed to run \(program) in network namespace \(namespace)")
            }
            guard Self.find(program) != nil else { throw Self.missing(program) }
            path = ip
            argv = ["ip", "netns", "exec", namespace, program] + args
        } else {
            guard let p = Self.find(program) else { throw Self.missing(program) }
            path = p
            argv = [program] + args
        }
        return try Self.spawnCollecting(path: path, args: argv, input: input)
    }

    static func missing(_ program: String) -> BerthError {
        let package = program == "nft" ? "nftables" : "iptables"
        return BerthError.unsupported("\(program) not found (install the \(package) package): needed for bridge networking")
    }

    /// A pipe holds 64 KiB by default: input up to this size is written before the child
    /// starts, so no write can block or meet a reader that has gone.
    static let prefillLimit = 65536
    /// Linux's EAGAIN (BerthNetwork does not import libc).
    static let errnoAgain: Int32 = 11

    static func spawnCollecting(path: String, args: [String], input: String?) throws -> CommandOutput {
        var opened: [Int32] = []
        defer { for fd in opened { FD.close(fd) } }
        func closeNow(_ fd: Int32) {
            FD.close(fd)
            opened.removeAll { $0 == fd }
        }
        let out = try FD.pipe()
        opened += [out.read, out.write]
        let err = try FD.pipe()
        opened += [err.read, err.write]
        let bytes = Array((input ?? "").utf8)
        var stdin: (read: Int32, write: Int32)?
        if input != nil {
            let p = try FD.pipe()
            opened += [p.read, p.write]
            stdin = p
            if bytes.count <= prefillLimit {
                try FD.writeAll(p.write, bytes)
                closeNow(p.write)
                stdin = (p.read, -1)
            }
        }
        var stdio: [Int32: Int32] = [1: out.write, 2: err.write]
        if let stdin { stdio[0] = stdin.read }
        let pid = try ProcessControl.spawn(path: path, args: args, env: environment, stdio: stdio)
        closeNow(out.write)
        closeNow(err.write)
        var early: ExitStatus?
        if let stdin, stdin.write >= 0 {
            // Large input: we keep our copy of the read end open while writing, so a child
            // that quits early can never raise SIGPIPE here; the write end is non-blocking and
            // written in PIPE_BUF pieces (atomic: all or EAGAIN), and a full pipe whose reader
            // has exited ends the writing instead of blocking for ever.
            try FD.setNonBlocking(stdin.write)
            var offset = 0
            writing: while offset < bytes.count {
                let end = min(offset + 4096, bytes.count)
                do {
                    try FD.writeAll(stdin.write, Array(bytes[offset..<end]))
                    offset = end
                } catch let e as BerthError where e.errno == errnoAgain {
                    if let done = try ProcessControl.wait(pid, noHang: true) {
                        early = done.status
                        break writing
                    }
                }
            }
            closeNow(stdin.write)
        }
        if let stdin { closeNow(stdin.read) }
        let stdoutBytes = try FileSystem.readAll(fd: out.read, what: "output of \(args[0])")
        let stderrBytes = try FileSystem.readAll(fd: err.read, what: "errors of \(args[0])")
        let status: ExitStatus
        if let early {
            status = early
        } else {
            status = try ProcessControl.wait(pid)?.status ?? .exited(-1)
        }
        return CommandOutput(status: status, stdout: String(decoding: stdoutBytes, as: UTF8.self),
                             stderr: String(decoding: stderrBytes, as: UTF8.self))
    }

    /// Reads a small file of the namespace the commands run in (`/proc/net/...`): directly
    /// when that is ours, else through `cat` inside the namespace. nil when it does not exist.
    func readFile(_ path: String) -> String? {
        if namespace == nil {
            return try? FileSystem.readString(path)
        }
        guard let r = try? run("cat", [path]), r.succeeded else { return nil }
        return r.stdout
    }
}
