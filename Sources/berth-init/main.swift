// berth-init: Berth's OCI runtime and per-container monitor, with a runc-like command line.
// See Sources/BerthRuntime/README.md. Single-threaded by design; links no Foundation.
#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem

let usage = """
usage: berth-init [--root DIR] COMMAND [OPTIONS] [ID]

commands:
  spec    [--bundle DIR] [--args 'sh -c ...'] [--seccomp default|unconfined|FILE]
          write a config.json with Docker's defaults (caps, masks, seccomp profile)
  create  --bundle DIR [--console-socket S] [--pid-file F] [--log-path F] [--keep-stdin]
          [--attach-socket S [--stdin-once]] ID
  start   ID
  run     --bundle DIR [--detach] [--console-socket S] [--pid-file F] [--log-path F] [--keep-stdin]
          [--attach-socket S [--stdin-once]] ID
  state   ID
  list
  kill    [--all] ID [SIGNAL]
  delete  [--force] ID
  exec    [--tty] [--cwd DIR] [--env K=V]... [--user UID[:GID]] [--process FILE] [--privileged]
          [--detach] [--pid-file F] [--attach-fd N [--keep-stdin]] ID [ARGS...]

--attach-socket: the monitor listens there for attach clients (see AttachProtocol in
Sources/BerthRuntime); --attach-fd: an inherited, connected socket that is exec's attach client.

The state root defaults to /run/berth/runtime.
"""

struct Args {
    var words: [String]
    var i = 0
    init(_ w: [String]) { words = w }
    mutating func next() -> String? { i < words.count ? (i += 1, words[i - 1]).1 : nil }
    mutating func value(_ flag: String) throws -> String {
        guard let v = next() else { throw BerthError.invalid("flag \(flag) needs a value") }
        return v
    }
}

/// Splits `--flag=value` into two words.
func expand(_ args: [String]) -> [String] {
    var out: [String] = []
    var passthrough = false
    for a in args {
        if passthrough || !a.hasPrefix("--") { out.append(a); if a == "--" { passthrough = true }; continue }
        if let eq = a.firstIndex(of: "=") {
            out.append(String(a[..<eq]))
            out.append(String(a[a.index(after: eq)...]))
        } else {
            out.append(a)
        }
    }
    return out
}

func signalNumber(_ s: String) throws -> Int32 {
    guard let sig = Signals.number(s) else { throw BerthError.invalid("unknown signal \"\(s)\"") }
    return sig
}

func printJSON<T: Encodable>(_ v: T) throws {
    var e = BerthJSONEncoder()
    e.options = .prettyPrinted
    try FD.writeAll(1, try e.encode(v) + [10])
}

func main() throws -> Int32 {
    var args = Args(expand(Array(CommandLine.arguments.dropFirst())))
    var root = "/run/berth/runtime"
    var command: String?
    while let w = args.next() {
        switch w {
        case "--root": root = try args.value(w)
        case "--log", "--log-format", "--criu", "--rootless": _ = try args.value(w)
        case "--debug", "--systemd-cgroup": break
        case "-h", "--help", "help": try FD.writeAll(1, usage); return 0
        case "-v", "--version", "version": try FD.writeAll(1, "berth-init 0.1.0\nspec: 1.2.0\n"); return 0
        default: command = w
        }
        if command != nil { break }
    }
    guard let command else { try FD.writeAll(2, usage); return 2 }
    if command == "__monitor" {
        // Internal: the monitor re-exec'd by `create` (see Runtime.reexecMonitor).
        var flags: [String: [String]] = [:]
        var key = ""
        for w in args.words[args.i...] {
            if w.hasPrefix("--") { key = w; if flags[w] == nil { flags[w] = [] } } else { flags[key, default: []].append(w) }
        }
        return Runtime.resumeMonitor(flags)
    }

    var bundle = "."
    var consoleSocket: String?, pidFile: String?, logPath: String?
    var detach = false, keepStdin = false, force = false, all = false, tty = false
    var attachSocket: String?, attachFD: Int32?, stdinOnce = false, privileged = false
    var cwd: String?, user: String?, processFile: String?, specArgs: String?
    var seccompProfile = "default"
    var env: [String] = []
    var positional: [String] = []
    while let w = args.next() {
        if !positional.isEmpty && command == "exec" { positional.append(w); continue }
        switch w {
        case "--bundle", "-b": bundle = try args.value(w)
        case "--console-socket": consoleSocket = try args.value(w)
        case "--pid-file": pidFile = try args.value(w)
        case "--log-path": logPath = try args.value(w)
        case "--detach", "-d": detach = true
        case "--keep-stdin", "-i": keepStdin = true
        case "--attach-socket": attachSocket = try args.value(w)
        case "--stdin-once": stdinOnce = true
        case "--privileged": privileged = true
        case "--attach-fd":
            let v = try args.value(w)
            guard let n = Int32(v), n >= 0 else { throw BerthError.invalid("--attach-fd wants a descriptor number, not \"\(v)\"") }
            attachFD = n
        case "--force", "-f": force = true
        case "--all", "-a": all = true
        case "--tty", "-t": tty = true
        case "--cwd": cwd = try args.value(w)
        case "--env", "-e": env.append(try args.value(w))
        case "--user", "-u": user = try args.value(w)
        case "--process", "-p": processFile = try args.value(w)
        case "--args": specArgs = try args.value(w)
        case "--seccomp": seccompProfile = try args.value(w)
        case "--no-pivot", "--no-new-keyring", "--preserve-fds", "--format":
            if w == "--preserve-fds" || w == "--format" { _ = try args.value(w) }
        case "--": continue
        default:
            if w.hasPrefix("-") && w.count > 1 && Int(w) == nil {
                throw BerthError.invalid("unknown flag \(w) for \(command)")
            }
            positional.append(w)
        }
    }
    func needID() throws -> String {
        guard let id = positional.first else { throw BerthError.invalid("\(command) needs a container id") }
        return id
    }
    func launchOptions() throws -> LaunchOptions {
        var o = LaunchOptions(id: try needID(), bundle: bundle, stateRoot: root)
        o.consoleSocket = consoleSocket
        o.pidFile = pidFile
        o.logPath = logPath
        o.keepStdin = keepStdin
        o.attachSocket = attachSocket
        o.stdinOnce = stdinOnce
        return o
    }

    switch command {
    case "spec":
        let argv = specArgs.map { ["sh", "-c", $0] } ?? ["sh"]
        var spec = SecurityDefaults.spec(args: argv, terminal: tty)
        if seccompProfile != "unconfined" {
            let profile = seccompProfile == "default" ? try DockerSeccompProfile.default
                : try DockerSeccompProfile.parse(try FileSystem.read(seccompProfile))
            spec.linux?.seccomp = try profile.ociConfig(capabilities: SecurityDefaults.capabilities)
        }
        let path = "\(bundle)/config.json"
        if FileSystem.exists(path) { throw BerthError.conflict("file \(path) exists; remove it first") }
        var e = BerthJSONEncoder()
        e.options = .prettyPrinted
        try FileSystem.writeAtomically(path, try e.encode(spec) + [10])
        return 0
    case "create":
        try Runtime.create(try launchOptions())
        return 0
    case "start":
        try Runtime.start(id: try needID(), stateRoot: root)
        return 0
    case "run":
        let o = try launchOptions()
        if detach {
            try Runtime.create(o)
            try Runtime.start(id: o.id, stateRoot: root)
            return 0
        }
        return try Runtime.run(o)
    case "state":
        try printJSON(try Runtime.state(id: try needID(), stateRoot: root))
        return 0
    case "list", "ps":
        try printJSON(Runtime.list(stateRoot: root))
        return 0
    case "kill":
        let id = try needID()
        let sig = try positional.count > 1 ? signalNumber(positional[1]) : SIGTERM
        try Runtime.kill(id: id, stateRoot: root, signal: sig, all: all)
        return 0
    case "delete", "rm":
        for id in positional { try Runtime.delete(id: id, stateRoot: root, force: force) }
        if positional.isEmpty { throw BerthError.invalid("delete needs a container id") }
        return 0
    case "exec":
        let id = try needID()
        var o = ExecOptions(id: id, stateRoot: root)
        o.args = Array(positional.dropFirst())
        o.tty = tty
        o.cwd = cwd
        o.env = env
        o.user = user
        o.processFile = processFile
        o.detach = detach
        o.pidFile = pidFile
        o.attachFD = attachFD
        o.keepStdin = keepStdin
        o.privileged = privileged
        return try Runtime.exec(o)
    default:
        throw BerthError.invalid("unknown command \"\(command)\" (see berth-init --help)")
    }
}

do {
    exit(try main())
} catch let e as BerthError {
    try? FD.writeAll(2, "berth-init: \(e.message)\n")
    exit(e.code == .invalidArgument && e.message.hasPrefix("unknown flag") ? 2 : 1)
} catch {
    try? FD.writeAll(2, "berth-init: \(error)\n")
    exit(1)
}
