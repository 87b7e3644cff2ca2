#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

extension ProcessControl {
    /// Starts `path` with posix_spawn: safe in a multi-threaded process (berthd), unlike fork.
    ///
    /// The child gets `/dev/null` as stdin/stdout unless `stdio` maps them, `stderr` likewise,
    /// plus the descriptors in `pass` at the numbers given (`(child, parent)`); every other
    /// descriptor is closed in the child (closefrom after the dup2s). Signal dispositions are
    /// reset and the signal mask is cleared in the child; it starts in a new session.
    /// - Returns: the child's pid; the caller must reap it (`wait`).
    public static func spawn(path: String, args: [String], env: [String], stdio: [Int32: Int32] = [:],
                             pass: [(child: Int32, parent: Int32)] = []) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        // A source descriptor whose number is also a target would be clobbered by an earlier
        // dup2: move such sources out of the way first (closed again below).
        var mapping: [(child: Int32, parent: Int32)] = []
        for fd: Int32 in 0...2 {
            if let p = stdio[fd] { mapping.append((fd, p)) }
        }
        mapping += pass
        let targets = Set(mapping.map(\.child))
        var temporaries: [Int32] = []
        defer { for t in temporaries { FD.close(t) } }
        for i in mapping.indices where targets.contains(mapping[i].parent) && mapping[i].parent != mapping[i].child {
            let moved = fcntl(mapping[i].parent, F_DUPFD_CLOEXEC, 64)
            if moved < 0 { throw BerthError.sys("dup of descriptor \(mapping[i].parent)") }
            temporaries.append(moved)
            mapping[i].parent = moved
        }
        for fd: Int32 in 0...2 where stdio[fd] == nil {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        for m in mapping {
            if m.parent == m.child {
                // dup2 onto itself would keep close-on-exec: go through a spare number.
                posix_spawn_file_actions_adddup2(&actions, m.parent, 1000)
                posix_spawn_file_actions_adddup2(&actions, 1000, m.child)
                posix_spawn_file_actions_addclose(&actions, 1000)
            } else {
                posix_spawn_file_actions_adddup2(&actions, m.parent, m.child)
            }
        }
        // Libraries (SwiftNIO's sockets among them) do not open everything close-on-exec:
        // close all the rest in the child explicitly.
        let firstFree = max(3, (mapping.map(\.child).max() ?? 2) + 1)
        if berth_spawn_addclosefrom(&actions, firstFree) != 0 { throw BerthError.sys("spawn: close descriptors") }

        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF) | 0x80 /* POSIX_SPAWN_SETSID, a GNU extension */))

        let argv = args.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        if rc != 0 { throw BerthError.sys("spawn \(path)", rc) }
        return pid
    }
}
