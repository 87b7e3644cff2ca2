import BerthOCI

/// Docker's defaults for a container: the capability set, masked and read-only paths, the
/// standard mounts and rlimits. Used by `berth-init spec` and by the engine.
public enum SecurityDefaults {
    /// Docker's default capabilities (moby `oci/caps/defaults.go`).
    public static let capabilities: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Docker's masked paths.
    public static let maskedPaths: [String] = [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]

    /// Docker's read-only paths.
    public static let readonlyPaths: [String] = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    /// The standard mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys (ro),
    /// /sys/fs/cgroup (ro).
    public static let mounts: [RuntimeSpec.Mount] = [
        .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
        .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        .init(destination: "/dev/pts", type: "devpts", source: "devpts",
              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        .init(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        .init(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]

    /// A complete default spec, like `runc spec` but with Docker's defaults.
    public static func spec(args: [String] = ["sh"], rootfs: String = "rootfs", terminal: Bool = false) -> RuntimeSpec {
        var process = RuntimeSpec.Process(
            terminal: terminal, user: .init(uid: 0, gid: 0), args: args,
            env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            cwd: "/", capabilities: .all(capabilities),
            rlimits: [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
            noNewPrivileges: true)
        process.oomScoreAdj = nil
        var linux = RuntimeSpec.Linux(
            namespaces: ["pid", "network", "ipc", "uts", "mount", "cgroup"].map { RuntimeSpec.Namespace(type: $0) },
            resources: .init(devices: [.init(allow: false, access: "rwm")]),
            maskedPaths: maskedPaths, readonlyPaths: readonlyPaths)
        linux.seccomp = nil
        return RuntimeSpec(ociVersion: "1.2.0", process: process, root: .init(path: rootfs, readonly: false),
                           hostname: "berth", mounts: mounts, linux: linux)
    }
}
