import BerthCore

/// What the guest agent runs: the host resolves a container's config (Env merged with the
/// image's, WorkingDir, User looked up in the image's /etc/passwd and /etc/group) into this,
/// and it travels to the guest as `/berth/spec.json` in an extra cpio appended to the
/// initramfs (`GuestRunSpec.initramfsAppendix`). The kernel unpacks concatenated newc
/// archives in order, so the guest's initramfs is Berth's shared one plus this file; the
/// kernel command line (2047 bytes) would be too small for a real environment.
public struct GuestRunSpec: Sendable, Codable, Equatable {
    /// The program and its arguments; a program without `/` is looked up in the `PATH` of
    /// `env` inside the root disk.
    public var args: [String]
    /// `KEY=value` entries, exactly the process environment.
    public var env: [String]
    /// The working directory inside the root disk.
    public var cwd: String
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGids: [UInt32]
    /// The guest's hostname, if any.
    public var hostname: String?
    /// Whether stdin comes from the `berth.stdin` port (`-i`); else /dev/null.
    public var stdin: Bool = false
    /// Volumes, binds and tmpfs mounts, in the order the agent mounts them (parents first).
    public var mounts: [GuestMount] = []
    /// `-t`: the command runs on a pty the agent allocates in the guest (its controlling
    /// terminal on stdin, stdout and stderr); the agent copies the pty to the stdout port and
    /// the stdin port (with `stdin`) to the pty, and takes resizes from the control port.
    public var tty: Bool = false
    /// The terminal's initial size (rows, columns) with `tty`; nil: the kernel's 0x0.
    public var consoleRows: UInt16? = nil
    public var consoleColumns: UInt16? = nil
    /// Files the agent writes into the root disk's /etc before the command starts (Docker
    /// bind-mounts them): `hosts`, `hostname`, `resolv.conf` → their contents.
    public var etcFiles: [String: String] = [:]

    public init(args: [String], env: [String], cwd: String = "/", uid: UInt32 = 0, gid: UInt32 = 0,
                additionalGids: [UInt32] = [], hostname: String? = nil) {
        self.args = args
        self.env = env
        self.cwd = cwd
        self.uid = uid
        self.gid = gid
        self.additionalGids = additionalGids
        self.hostname = hostname
    }

    /// Where the agent reads the spec in the initramfs.
    public static let path = "/berth/spec.json"
    /// Names of the virtio-serial ports carrying the command's stdout and stderr
    /// (`/sys/class/virtio-ports/*/name` in the guest).
    public static let stdoutPort = "berth.stdout"
    public static let stderrPort = "berth.stderr"
    /// The port carrying the command's stdin (host → guest), with `stdin`.
    public static let stdinPort = "berth.stdin"
    /// The port carrying control lines (host → guest), with `tty`: `resize ROWS COLS\n`
    /// sets the pty's window size (the kernel then sends SIGWINCH to the foreground group).
    public static let controlPort = "berth.control"
    /// The names `etcFiles` may carry.
    public static let etcFileNames: Set<String> = ["hosts", "hostname", "resolv.conf"]
    /// Printed on the console by the agent once it has opened its input ports (stdin and/or
    /// control): the host connects to the ports' sockets then (see `GuestAgent.waitForHost`).
    public static let stdinReadyMarker = "BERTH_STDIN_READY"
    /// Where the agent is in the initramfs (`GuestInit` execs it with `berth.agent=1`).
    public static let agentPath = "/sbin/berth-vm-agent"
    /// The kernel command line word that makes `/init` hand over to the agent.
    public static let agentWord = "berth.agent=1"

    /// The virtio-fs tag of the share carrying the host side of binds and volumes.
    public static let shareTag = "berth"
    /// Where the agent mounts that share in the initramfs (outside the root disk, so the
    /// command never sees the whole share).
    public static let shareMountPoint = "/run/berth-share"
    /// A control-port line setting the terminal's size.
    public static func resizeLine(rows: UInt16, columns: UInt16) -> String { "resize \(rows) \(columns)\n" }

    /// The size a control-port line (without its newline) asks for, or nil when it is not a
    /// well-formed `resize ROWS COLS`.
    public static func parseResize(_ line: some StringProtocol) -> (rows: UInt16, columns: UInt16)? {
        let f = line.split(separator: " ")
        guard f.count == 3, f[0] == "resize", let r = UInt16(f[1]), let c = UInt16(f[2]) else { return nil }
        return (r, c)
    }

    /// The JSON bytes.
    public func encoded() throws -> [UInt8] {
        var e = BerthJSONEncoder()
        e.options = []
        return try e.encode(self)
    }

    /// Decodes `encoded()`'s bytes.
    public static func decode(_ bytes: [UInt8]) throws -> GuestRunSpec {
        try BerthJSONDecoder().decode(GuestRunSpec.self, from: bytes)
    }

    /// A newc archive holding only `/berth/spec.json`, to append to an initramfs.
    public func initramfsAppendix() throws -> [UInt8] {
        var w = CPIOWriter()
        w.directory("berth", mode: 0o755)
        w.file("berth/spec.json", try encoded(), mode: 0o600)
        return w.finish()
    }
}

/// One mount of a `--isolation vm` container, made by the agent inside the root disk before
/// the command starts.
public struct GuestMount: Sendable, Codable, Equatable {
    /// `share` (a bind of `source` from the virtio-fs share) or `tmpfs`.
    public var type: String
    /// `share`: the entry of the share to bind (the host bind-mounted the bind's source or the
    /// volume's directory there); `tmpfs`: unused.
    public var source: String
    /// The absolute path in the root disk.
    public var target: String
    /// Mounted read-only (the host side of a read-only share is read-only too).
    public var readOnly: Bool
    /// `share`: the source is a file (the target is made as an empty file, not a directory).
    public var isFile: Bool
    /// `tmpfs`: mount(2) flags (`MS_NOSUID`…, from the container's options) and data
    /// (`size=…,mode=…`).
    public var flags: UInt
    public var data: String

    public init(type: String, source: String = "", target: String, readOnly: Bool = false, isFile: Bool = false,
                flags: UInt = 0, data: String = "") {
        self.type = type
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.isFile = isFile
        self.flags = flags
        self.data = data
    }
}
