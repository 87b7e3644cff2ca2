#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// The last steps before exec, shared by a container's init and by `exec`: rlimits, OOM score,
/// credentials, capabilities, seccomp, cwd, and the program lookup — in the order the kernel's
/// rules require (runc's order):
///
/// 1. rlimits and oom_score_adj (while still privileged);
/// 2. no_new_privs; seccomp now if it is *not* set (loading needs CAP_SYS_ADMIN then);
/// 3. drop the bounding set, keep caps across the uid change, setgroups/setresgid/setresuid;
/// 4. capset effective/permitted/inheritable, raise ambient;
/// 5. umask, chdir, resolve the program in PATH;
/// 6. (caller) report ready and wait for start; 7. seccomp if no_new_privs; 8. exec.
struct ProcessSetup {
    var process: RuntimeSpec.Process
    var seccomp: SeccompProgram?

    /// Steps 1–5. Returns the resolved program path and environment.
    func prepare() throws -> (path: String, env: [String]) {
        for r in process.rlimits ?? [] {
            guard let n = Rlimits.number(of: r.type) else { throw BerthError.invalid("unknown rlimit \(r.type)") }
            try ProcessControl.setResourceLimit(n, soft: r.soft, hard: r.hard, name: r.type)
        }
        if let adj = process.oomScoreAdj {
            try FileSystem.writeExisting("/proc/self/oom_score_adj", String(adj))
        }
        let nnp = process.noNewPrivileges ?? false
        if nnp { try ProcessControl.setNoNewPrivileges() }
        if let s = seccomp, !nnp { try s.load() }

        let caps = process.capabilities
        let bounding = try Capabilities.mask(caps?.bounding)
        try Capabilities.limitBoundingSet(to: bounding)
        try ProcessControl.setKeepCapabilities(true)
        try ProcessControl.setCredentials(uid: process.user.uid, gid: process.user.gid,
                                          groups: process.user.additionalGids ?? [])
        try ProcessControl.setKeepCapabilities(false)
        let permitted = try Capabilities.mask(caps?.permitted)
        let inheritable = try Capabilities.mask(caps?.inheritable)
        try Capabilities.set(effective: try Capabilities.mask(caps?.effective),
                             permitted: permitted, inheritable: inheritable)
        // The kernel allows ambient only within permitted ∩ inheritable; like runc, ambient caps
        // outside that are left out rather than failing the container.
        let ambient = try Capabilities.mask(caps?.ambient) & permitted & inheritable
        if ambient != 0 { try Capabilities.raiseAmbient(ambient) }

        if let mask = process.user.umask { ProcessControl.setUmask(mask) }
        try ProcessControl.changeDirectory(process.cwd)

        var env = process.env ?? []
        if !env.contains(where: { $0.hasPrefix("HOME=") }) {
            env.append("HOME=\(ProcessSetup.home(uid: process.user.uid))")
        }
        let args = process.args ?? []
        guard let program = args.first else { throw BerthError.invalid("process.args is empty") }
        return (try ProcessSetup.lookPath(program, env: env), env)
    }

    /// Steps 7–8.
    func exec(path: String, env: [String]) throws -> Never {
        if let s = seccomp, process.noNewPrivileges ?? false { try s.load() }
        do {
            try ProcessControl.exec(path: path, args: process.args ?? [], env: env)
        } catch let e as BerthError {
            throw BerthError(.system, "exec \(process.args?.first ?? path): \(errnoDescription(e.errno ?? EIO))", errno: e.errno)
        }
    }

    /// Finds a program as execvp would, in the PATH of `env` (default PATH when unset).
    /// The error wording follows runc's, which Docker users know.
    static func lookPath(_ program: String, env: [String]) throws -> String {
        if program.contains("/") {
            var st = stat()
            if stat(program, &st) != 0 {
                // Go's wording (lower case), which clients match on: the docker CLI exits 127 on
                // "no such file or directory" and 126 on "permission denied".
                throw BerthError.notFound("exec: \"\(program)\": stat \(program): \(errnoDescription(errno).lowercased())")
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                throw BerthError.invalid("exec: \"\(program)\": is a directory")
            }
            if st.st_mode & 0o111 == 0 {
                throw BerthError.permissionDenied("exec: \"\(program)\": permission denied")
            }
            return program
        }
        let pathVar = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in pathVar.split(separator: ":", omittingEmptySubsequences: false) {
            let d = dir.isEmpty ? "." : String(dir)
            let candidate = "\(d)/\(program)"
            var st = stat()
            if stat(candidate, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && (st.st_mode & 0o111) != 0 {
                return candidate
            }
        }
        throw BerthError.notFound("exec: \"\(program)\": executable file not found in $PATH")
    }

    /// The home directory of `uid` from the container's /etc/passwd, else `/`.
    static func home(uid: UInt32) -> String {
        guard let text = try? FileSystem.readString("/etc/passwd") else { return "/" }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            if f.count >= 6, UInt32(f[2]) == uid { return f[5].isEmpty ? "/" : String(f[5]) }
        }
        return "/"
    }
}
