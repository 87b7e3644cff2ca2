import ArgumentParser

/// The flags `run` and `create` share (docker's `containerOptions`), as typed. Turning them into
/// a `ContainerCreateRequest` is `RunFlags+Request.swift`; values are parsed there so that
/// errors read as docker's (`invalid argument "12x" for "-m, --memory" flag: …`).
///
/// Options that take negative numbers (`--memory-swap -1`, `--pids-limit -1`) read their value
/// unconditionally, as pflag does.
///
/// The image and the command are not here: `run`/`create` capture them with everything after
/// them, so `berth run busybox ls -l` passes `-l` to `ls`.
struct RunFlags: ParsableArguments {
    // Standard streams and terminal.
    @Option(name: [.short, .long], help: "Attach to STDIN, STDOUT or STDERR.")
    var attach: [String] = []
    @Flag(name: [.short, .long], help: "Keep STDIN open even if not attached.")
    var interactive = false
    @Flag(name: [.short, .long], help: "Allocate a pseudo-TTY.")
    var tty = false

    // Identity and process.
    @Option(name: .long, help: "Assign a name to the container.")
    var name: String?
    @Option(name: [.customShort("h"), .long], help: "Container host name.")
    var hostname: String?
    @Option(name: .long, help: "Container NIS domain name.")
    var domainname: String?
    @Option(name: [.short, .long], help: "Username or UID (format: <name|uid>[:<group|gid>]).")
    var user: String?
    @Option(name: [.short, .long], help: "Working directory inside the container.")
    var workdir: String?
    @Option(name: .long, help: "Overwrite the default ENTRYPOINT of the image.")
    var entrypoint: String?
    @Option(name: [.short, .long], help: "Set environment variables.")
    var env: [String] = []
    @Option(name: .long, help: "Read in a file of environment variables.")
    var envFile: [String] = []
    @Option(name: [.short, .long], help: "Set meta data on a container.")
    var label: [String] = []
    @Option(name: .long, help: "Read in a line delimited file of labels.")
    var labelFile: [String] = []
    @Flag(name: .customLong("init"), help: "Run an init inside the container that forwards signals and reaps processes.")
    var initProcess = false
    @Option(name: .long, help: "Signal to stop the container.")
    var stopSignal: String?
    @Option(name: .long, parsing: .unconditional, help: "Timeout (in seconds) to stop a container.")
    var stopTimeout: Int?
    @Option(name: .long, help: "Restart policy to apply when a container exits.")
    var restart: String?
    @Flag(name: .long, help: "Automatically remove the container and its associated anonymous volumes when it exits.")
    var rm = false
    @Option(name: .long, help: "Write the container ID to the file.")
    var cidfile: String?

    // Filesystem.
    @Option(name: [.short, .long], help: "Bind mount a volume.")
    var volume: [String] = []
    @Option(name: .long, help: "Attach a filesystem mount to the container.")
    var mount: [String] = []
    @Option(name: .long, help: "Mount a tmpfs directory.")
    var tmpfs: [String] = []
    @Option(name: .long, help: "Mount volumes from the specified container(s).")
    var volumesFrom: [String] = []
    @Option(name: .long, help: "Optional volume driver for the container.")
    var volumeDriver: String?
    @Flag(name: .long, help: "Mount the container's root filesystem as read only.")
    var readOnly = false
    @Option(name: .long, help: "Storage driver options for the container.")
    var storageOpt: [String] = []

    // Network.
    @Option(name: [.customLong("network"), .customLong("net")], help: "Connect a container to a network.")
    var network: String?
    @Option(name: .long, help: "Add network-scoped alias for the container (accepted, unused).")
    var networkAlias: [String] = []
    @Option(name: .long, help: "Add a custom host-to-IP mapping (host:ip).")
    var addHost: [String] = []
    @Option(name: .long, help: "Set custom DNS servers.")
    var dns: [String] = []
    @Option(name: .long, help: "Set custom DNS search domains.")
    var dnsSearch: [String] = []
    @Option(name: [.customLong("dns-option"), .customLong("dns-opt")], help: "Set DNS options.")
    var dnsOption: [String] = []
    @Option(name: [.short, .long], help: "Publish a container's port(s) to the host.")
    var publish: [String] = []
    @Flag(name: [.customShort("P"), .long], help: "Publish all exposed ports to random ports.")
    var publishAll = false
    @Option(name: .long, help: "Expose a port or a range of ports.")
    var expose: [String] = []
    @Option(name: .long, help: "Container MAC address.")
    var macAddress: String?
    @Option(name: .long, help: "IPv4 address (accepted, unused).")
    var ip: String?
    @Option(name: .long, help: "IPv6 address (accepted, unused).")
    var ip6: String?
    @Option(name: .long, help: "Add link to another container.")
    var link: [String] = []

    // Security.
    @Flag(name: .long, help: "Give extended privileges to this container.")
    var privileged = false
    @Option(name: .long, help: "Add Linux capabilities.")
    var capAdd: [String] = []
    @Option(name: .long, help: "Drop Linux capabilities.")
    var capDrop: [String] = []
    @Option(name: .long, help: "Security Options.")
    var securityOpt: [String] = []
    @Option(name: .long, help: "Add additional groups to join.")
    var groupAdd: [String] = []
    @Option(name: .long, help: "Add a host device to the container.")
    var device: [String] = []
    @Option(name: .long, help: "Add a rule to the cgroup allowed devices list.")
    var deviceCgroupRule: [String] = []
    @Option(name: .long, help: "Sysctl options.")
    var sysctl: [String] = []

    // Namespaces and runtime.
    @Option(name: .long, help: "PID namespace to use.")
    var pid: String?
    @Option(name: .long, help: "IPC mode to use.")
    var ipc: String?
    @Option(name: .long, help: "UTS namespace to use.")
    var uts: String?
    @Option(name: .long, help: "User namespace to use.")
    var userns: String?
    @Option(name: .long, help: "Cgroup namespace to use (host|private).")
    var cgroupns: String?
    @Option(name: .long, help: "Optional parent cgroup for the container.")
    var cgroupParent: String?
    @Option(name: .long, help: "Container isolation technology.")
    var isolation: String?
    @Option(name: .long, help: "Runtime to use for this container.")
    var runtime: String?
    @Option(name: .long, help: "Add an annotation to the container (passed through to the OCI runtime).")
    var annotation: [String] = []

    // Resources.
    @Option(name: [.short, .long], help: "Memory limit.")
    var memory: String?
    @Option(name: .long, parsing: .unconditional, help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap.")
    var memorySwap: String?
    @Option(name: .long, help: "Memory soft limit.")
    var memoryReservation: String?
    @Option(name: .long, parsing: .unconditional, help: "Tune container memory swappiness (0 to 100).")
    var memorySwappiness: Int64?
    @Option(name: .long, help: "Kernel memory limit (accepted, ignored).")
    var kernelMemory: String?
    @Option(name: .long, help: "Number of CPUs.")
    var cpus: String?
    @Option(name: [.customShort("c"), .long], help: "CPU shares (relative weight).")
    var cpuShares: Int64?
    @Option(name: .long, parsing: .unconditional, help: "Limit CPU CFS (Completely Fair Scheduler) quota.")
    var cpuQuota: Int64?
    @Option(name: .long, help: "Limit CPU CFS (Completely Fair Scheduler) period.")
    var cpuPeriod: Int64?
    @Option(name: .long, help: "Limit CPU real-time period in microseconds.")
    var cpuRtPeriod: Int64?
    @Option(name: .long, parsing: .unconditional, help: "Limit CPU real-time runtime in microseconds.")
    var cpuRtRuntime: Int64?
    @Option(name: .long, help: "CPUs in which to allow execution (0-3, 0,1).")
    var cpusetCpus: String?
    @Option(name: .long, help: "MEMs in which to allow execution (0-3, 0,1).")
    var cpusetMems: String?
    @Option(name: .long, help: "Block IO (relative weight), between 10 and 1000, or 0 to disable.")
    var blkioWeight: Int?
    @Option(name: .long, parsing: .unconditional, help: "Tune container pids limit (set -1 for unlimited).")
    var pidsLimit: Int64?
    @Option(name: .long, help: "Ulimit options.")
    var ulimit: [String] = []
    @Option(name: .long, help: "Size of /dev/shm.")
    var shmSize: String?
    @Flag(name: .long, help: "Disable OOM Killer.")
    var oomKillDisable = false
    @Option(name: .long, parsing: .unconditional, help: "Tune host's OOM preferences (-1000 to 1000).")
    var oomScoreAdj: Int?

    // Logging and health.
    @Option(name: .long, help: "Logging driver for the container.")
    var logDriver: String?
    @Option(name: .long, help: "Log driver options.")
    var logOpt: [String] = []
    @Option(name: .long, help: "Command to run to check health.")
    var healthCmd: String?
    @Option(name: .long, parsing: .unconditional, help: "Time between running the check (ms|s|m|h).")
    var healthInterval: String?
    @Option(name: .long, parsing: .unconditional, help: "Maximum time to allow one check to run (ms|s|m|h).")
    var healthTimeout: String?
    @Option(name: .long, parsing: .unconditional, help: "Consecutive failures needed to report unhealthy.")
    var healthRetries: Int?
    @Option(name: .long, parsing: .unconditional, help: "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h).")
    var healthStartPeriod: String?
    @Option(name: .long, parsing: .unconditional, help: "Time between running the check during the start period (ms|s|m|h).")
    var healthStartInterval: String?
    @Flag(name: .long, help: "Disable any container-specified HEALTHCHECK.")
    var noHealthcheck = false

    // Image.
    @Option(name: .long, help: "Set platform if server is multi-platform capable.")
    var platform: String?
    @Option(name: .long, help: "Pull image before creating (\"always\", \"missing\", \"never\").")
    var pull: String = "missing"
    @Flag(name: [.short, .long], help: "Suppress the pull output.")
    var quiet = false
    @Flag(name: .long, help: "Skip image verification (accepted, ignored).")
    var disableContentTrust = false
}
