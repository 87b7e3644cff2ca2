import BerthCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Docker's credential helper protocol: `docker-credential-<name> get|store|erase`, found on
/// PATH, speaking JSON on stdin/stdout (`{"ServerURL","Username","Secret"}`). config.json
/// names them with `credsStore` (every registry) or `credHelpers` (per registry, first).
struct CredentialHelper {
    let name: String
    /// `PATH`-style directories the program is looked for in.
    let searchPath: String
    var program: String { "docker-credential-" + name }

    /// The program's path in `searchPath`, nil when it is nowhere.
    func resolve() -> String? {
        for dir in searchPath.split(separator: ":") where !dir.isEmpty {
            let candidate = dir + "/" + program
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The stored credentials for `serverURL`, nil when the helper has none.
    func get(_ serverURL: String) throws -> (username: String, password: String)? {
        let r = try run("get", input: Array(serverURL.utf8))
        guard r.status == 0 else {
            let text = String(decoding: r.stdout, as: UTF8.self).trimmingSpacesString()
            if text.lowercased().contains("credentials not found") { return nil }
            throw CLIError.message("error getting credentials - err: exit status \(r.status), out: `\(text)`")
        }
        guard case .object(let o)? = try? JSON.parse(r.stdout), case .string(let user)? = o["Username"],
              case .string(let secret)? = o["Secret"] else {
            throw CLIError.message("error getting credentials - \(program) get: not the helper protocol's JSON")
        }
        return (user, secret)
    }

    func store(_ serverURL: String, username: String, password: String) throws {
        var o = JSONObject()
        o["ServerURL"] = .string(serverURL)
        o["Username"] = .string(username)
        o["Secret"] = .string(password)
        let r = try run("store", input: JSON.serialize(.object(o)))
        guard r.status == 0 else {
            throw CLIError.message("error storing credentials - err: exit status \(r.status), out: `\(String(decoding: r.stdout, as: UTF8.self).trimmingSpacesString())`")
        }
    }

    /// Erases the credentials for `serverURL`; false when the helper had none.
    func erase(_ serverURL: String) throws -> Bool {
        let r = try run("erase", input: Array(serverURL.utf8))
        if r.status == 0 { return true }
        let text = String(decoding: r.stdout, as: UTF8.self).trimmingSpacesString()
        if text.lowercased().contains("credentials not found") { return false }
        throw CLIError.message("error erasing credentials - err: exit status \(r.status), out: `\(text)`")
    }

    /// Marks every open descriptor from 3 up close-on-exec, so the helper (and any agent it
    /// leaves running) holds none of ours, such as the connection to the daemon (SwiftNIO's
    /// sockets are not close-on-exec). The CLI execs nothing that needs them.
    static func markInheritedCloseOnExec() {
        guard let dir = opendir("/proc/self/fd") else { return }
        defer { closedir(dir) }
        var fds: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if let fd = Int32(name), fd > 2 { fds.append(fd) }
        }
        for fd in fds {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Runs the helper with `action`, writes `input` to its stdin, returns its exit status and
    /// stdout (its stderr passes through).
    func run(_ action: String, input: [UInt8]) throws -> (status: Int32, stdout: [UInt8]) {
        guard let executable = resolve() else {
            throw CLIError.message("error getting credentials - err: exec: \"\(program)\": executable file not found in $PATH")
        }
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0 else { throw CLIError.message("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1])
            throw CLIError.message("pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        Self.markInheritedCloseOnExec()
        let argv = [program, action]
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, &cArgs, environ)
        close(inPipe[0]); close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0])
            throw CLIError.message("error getting credentials - err: exec \(executable): \(String(cString: strerror(rc)))")
        }
        // The input is small (a URL or one JSON object): one write fits the pipe.
        _ = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
        close(inPipe[1])
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(outPipe[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, out)
    }
}
