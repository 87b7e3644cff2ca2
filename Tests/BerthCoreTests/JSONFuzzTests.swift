import Testing
@testable import BerthCore

/// A small deterministic PRNG (SplitMix64), so fuzz runs are reproducible from their seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum JSONFixtures {
    /// An OCI-style config.json with a seccomp profile, like the ones berth-init parses on the
    /// start path (~30 KB pretty-printed).
    static func configDocument() -> JSONValue {
        let syscalls = [
            "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod",
            "chown", "chown32", "clock_adjtime", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
            "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
            "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_wait", "eventfd", "eventfd2", "execve", "execveat",
            "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fanotify_mark", "fchdir",
            "fchmod", "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock",
            "fork", "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "getcpu",
            "getcwd", "getdents", "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer",
            "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
            "getresuid", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
            "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr", "inotify_add_watch", "inotify_init",
            "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
            "ioprio_get", "ioprio_set", "io_setup", "io_submit", "io_uring_enter", "io_uring_register",
            "io_uring_setup", "ipc", "kill", "landlock_add_rule", "lchown", "lgetxattr", "link", "linkat", "listen",
            "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "madvise", "membarrier",
            "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
            "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
            "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap", "nanosleep",
            "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
            "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "pselect6", "pwrite64", "pwritev",
            "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
            "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
            "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
            "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
            "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
            "sched_rr_get_interval", "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
            "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "send", "sendfile",
            "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid",
            "setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "set_robust_list",
            "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setxattr", "shmat", "shmctl",
            "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "socket", "socketcall",
            "socketpair", "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
            "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
            "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime", "times",
            "tkill", "truncate", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimes", "vfork",
            "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
        ]
        var rules: [JSONValue] = []
        // The default profile groups syscalls into rules; repeat groups with argument filters.
        for (n, chunk) in stride(from: 0, to: syscalls.count, by: 12).enumerated() {
            var rule: JSONObject = [
                "names": .array(syscalls[chunk..<min(chunk + 12, syscalls.count)].map { .string($0) }),
                "action": "SCMP_ACT_ALLOW",
            ]
            if n % 3 == 1 {
                rule["args"] = [["index": 0, "value": 2_114_060_288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"]]
                rule["comment"] = "clone flags without namespaces \u{2014} \"quoted\" \\ escaped"
            }
            if n % 4 == 2 { rule["includes"] = ["caps": ["CAP_SYS_ADMIN"], "minKernel": "4.8"] }
            rules.append(.object(rule))
        }
        let caps: JSONValue = .array(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"].map { .string($0) })
        var mounts: [JSONValue] = []
        for (dest, type, source, options) in [
            ("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
            ("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            ("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            ("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
            ("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
            ("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]),
            ("/etc/resolv.conf", "bind", "/var/lib/berth/containers/4f3c2a/resolv.conf", ["rbind", "rprivate"]),
            ("/etc/hostname", "bind", "/var/lib/berth/containers/4f3c2a/hostname", ["rbind", "rprivate"]),
            ("/etc/hosts", "bind", "/var/lib/berth/containers/4f3c2a/hosts", ["rbind", "rprivate"]),
        ] {
            mounts.append(["destination": .string(dest), "type": .string(type), "source": .string(source),
                           "options": .array(options.map { .string($0) })])
        }
        let masked: JSONValue = .array(["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                        "/sys/firmware", "/sys/devices/virtual/powercap"].map { .string($0) })
        return [
            "ociVersion": "1.2.0",
            "process": [
                "terminal": false,
                "user": ["uid": 0, "gid": 0, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27]],
                "args": ["/usr/local/bin/docker-entrypoint.sh", "postgres", "-c", "shared_buffers=256MB"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=4f3c2a",
                        "LANG=en_US.utf8", "PG_MAJOR=16", "PG_VERSION=16.2-1.pgdg120+2", "PGDATA=/var/lib/postgresql/data",
                        "GOSU_VERSION=1.17", "POSTGRES_PASSWORD=s3cr\u{e9}t"],
                "cwd": "/",
                "capabilities": ["bounding": caps, "effective": caps, "permitted": caps],
                "rlimits": [["type": "RLIMIT_NOFILE", "hard": 1_048_576, "soft": 1_048_576]],
                "noNewPrivileges": true,
                "oomScoreAdj": 0,
            ],
            "root": ["path": "/var/lib/berth/overlay/4f3c2a/merged", "readonly": false],
            "hostname": "4f3c2a",
            "mounts": .array(mounts),
            "annotations": ["org.opencontainers.image.title": "postgres", "io.berth.created": "2024-05-01T10:00:00Z"],
            "org.example.extension": ["big": .number("18446744073709551615"), "ratio": 0.75, "tiny": .number("-1.5e-300")],
            "linux": [
                "resources": [
                    "devices": [["allow": false, "access": "rwm"], ["allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"]],
                    "memory": ["limit": 536_870_912, "swap": -1],
                    "cpu": ["shares": 1024, "quota": 150_000, "period": 100_000, "cpus": "0-1"],
                    "pids": ["limit": 4096],
                ],
                "cgroupsPath": "/berth/4f3c2a",
                "namespaces": [["type": "pid"], ["type": "network", "path": "/run/berth/netns/4f3c2a"], ["type": "ipc"],
                               ["type": "uts"], ["type": "mount"], ["type": "cgroup"]],
                "seccomp": [
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "defaultErrnoRet": 1,
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                    "syscalls": .array(rules + rules),
                ],
                "maskedPaths": masked,
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            ],
        ]
    }

    /// Seeds for mutation: small documents covering every syntax element, plus the config.
    static let seeds: [String] = [
        "{\"a\":[1,2.5e-3,-0,true,false,null],\"b\":{\"c\":\"d\\n\\u00e9\\uD834\\uDD1E\"}}",
        "[\"<>&\\u2028\",{\"k\":{}},[],[[[1]]],\"é中\",123456789012345678901234567890]",
        "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"n\":-1.5E+10,\"z\":0.0}",
        "  [ 1 , { \"x\" : [ null ] } ]  ",
        "\"just a string\"",
        "-12.5e7",
    ]
}

@Suite("JSON fuzz")
struct JSONFuzzTests {
    /// Bytes that tend to matter to a JSON parser.
    static let interesting: [UInt8] = Array("{}[],:\"\\/0123456789-+.eEtrufalsn \n\t\r".utf8)
        + [0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let op = Int.random(in: 0..<7, using: &rng)
            if b.isEmpty {
                b.append(interesting.randomElement(using: &rng) ?? 0x20)
                continue
            }
            let i = Int.random(in: 0..<b.count, using: &rng)
            switch op {
            case 0: b[i] = interesting.randomElement(using: &rng) ?? 0
            case 1: b.insert(interesting.randomElement(using: &rng) ?? 0, at: i)
            case 2: b.remove(at: i)
            case 3: b[i] = UInt8.random(in: 0...255, using: &rng)
            case 4:  // duplicate a slice
                let j = Int.random(in: i..<min(b.count, i + 16), using: &rng)
                b.insert(contentsOf: b[i...j], at: j + 1)
            case 5: b.removeSubrange(i..<min(b.count, i + Int.random(in: 1...8, using: &rng)))
            default: b.removeSubrange(i...)  // truncate
            }
        }
        return b
    }

    @Test func mutatedDocumentsNeverCrashAndRoundTrip() throws {
        var rng = SplitMix64(seed: 0xBE27_4A50)
        let config = JSON.serialize(JSONFixtures.configDocument(), options: .prettyPrinted)
        let seeds = JSONFixtures.seeds.map { Array($0.utf8) }
        var accepted = 0
        var rejected = 0
        for n in 0..<20_000 {
            // The 30 KB config is mutated less often: it dominates the run time.
            let seed = n % 50 == 0 ? config : seeds[n % seeds.count]
            let input = Self.mutate(seed, &rng)
            do {
                let v = try JSON.parse(input)
                accepted += 1
                for options: JSONWriteOptions in [[], [.prettyPrinted, .sortedKeys, .escapeHTML]] {
                    let text = JSON.serialize(v, options: options)
                    let again = try JSON.parse(text)
                    #expect(again == v, "round trip of \(String(decoding: input, as: UTF8.self).debugDescription)")
                }
            } catch {
                rejected += 1
                #expect(error.message.hasPrefix("invalid json: line "), "\(error.message)")
            }
        }
        // The mutations must exercise both outcomes.
        #expect(accepted > 1000 && rejected > 1000, "accepted \(accepted), rejected \(rejected)")
    }

    @Test func configRoundTripsThroughCodable() throws {
        let doc = JSONFixtures.configDocument()
        let text = JSON.serialize(doc, options: .prettyPrinted)
        #expect(text.count > 20_000)
        let decoded = try BerthJSONDecoder().decode(JSONValue.self, from: text)
        #expect(decoded == doc)
        #expect(try BerthJSONEncoder(options: .prettyPrinted).encode(decoded) == text)
    }
}
