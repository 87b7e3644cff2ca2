#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// An rtnetlink socket (`NETLINK_ROUTE`): creates, configures and lists network interfaces,
/// addresses and routes of one network namespace, without shelling out to `ip`.
///
/// Lifecycle: `open()` (the calling thread's namespace) or `open(inNamespaceOf:)` (another one)
/// makes the socket; each operation sends one request and waits for the kernel's answer; `close()`
/// or deinit closes it. A socket stays bound to the namespace it was created in, whatever thread
/// uses it later, so one opened for a container's namespace acts there for its whole life.
///
/// Every change is sent with `NLM_F_ACK`; a negative errno in the kernel's `NLMSG_ERROR` throws
/// `BerthError.sys` naming the operation and the object (`create bridge berth0: File exists`),
/// with the kernel's extended-ack text, when it gives one, as the cause. A missing interface
/// (`ENODEV`) is `.notFound`. Lists are multipart dumps (`NLM_F_DUMP` until `NLMSG_DONE`),
/// repeated when the kernel flags one as interrupted by a concurrent change.
///
/// Calls block the calling thread (briefly: the kernel answers at once), and a value must not be
/// used from two threads at a time, so it is not `Sendable`: open one where it is used (in
/// `BlockingWork.run`, or an actor), they are cheap. Needs CAP_NET_ADMIN in the namespace's
/// owning user namespace for changes; listing needs nothing.
public final class Netlink {
    private var fd: Int32
    private var sequence: UInt32 = 0

    private init(adopting fd: Int32) { self.fd = fd }

    deinit { FD.close(fd) }

    /// Closes the socket; later calls fail with EBADF.
    public func close() {
        FD.close(fd)
        fd = -1
    }

    /// Opens an rtnetlink socket in the calling thread's network namespace.
    public static func open() throws -> Netlink {
        let (fd, code) = makeSocket()
        if fd < 0 { throw BerthError.sys("open rtnetlink socket", code) }
        return Netlink(adopting: fd)
    }

    /// Opens an rtnetlink socket in the network namespace referred to by `namespaceFD` (an open
    /// `/proc/PID/ns/net` or `/run/netns/NAME`), without moving the caller.
    ///
    /// `setns(CLONE_NEWNET)` changes the namespace of the calling *thread* only, and berthd is
    /// multi-threaded (SwiftNIO event loops, the cooperative pool): a borrowed thread switched to
    /// a container's namespace would go on running unrelated work there (every socket, every
    /// interface lookup silently in the container) and could not be trusted to switch back if
    /// anything failed. So a dedicated pthread does it: it joins the namespace, creates the
    /// socket and exits, and the namespace change dies with it. The socket keeps the namespace
    /// it was created in. Needs CAP_SYS_ADMIN (setns).
    public static func open(inNamespaceOf namespaceFD: Int32) throws -> Netlink {
        try open(inNamespaceOf: namespaceFD, naming: "fd \(namespaceFD)")
    }

    /// Opens an rtnetlink socket in the network namespace at `path` (`/proc/PID/ns/net`,
    /// `/run/netns/NAME`); see `open(inNamespaceOf:)`.
    public static func open(inNamespaceAt path: String) throws -> Netlink {
        let fd = try FD.open(path, O_RDONLY)
        defer { FD.close(fd) }
        return try open(inNamespaceOf: fd, naming: path)
    }

    private static func open(inNamespaceOf namespaceFD: Int32, naming name: String) throws -> Netlink {
        let job = NamespaceSocketJob(namespaceFD: namespaceFD)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 256 << 10)
        var thread = pthread_t()
        // SAFETY: the +1 reference passed to the thread is taken back exactly once: by the thread
        // entry, or below when the thread could not be started. `job` stays alive for the join
        // through the local reference, and the join orders the thread's writes before our reads.
        let argument = Unmanaged.passRetained(job).toOpaque()
        let r = pthread_create(&thread, &attributes, { raw in
            guard let raw else { return nil }
            let job = Unmanaged<NamespaceSocketJob>.fromOpaque(raw).takeRetainedValue()
            job.run()
            return nil
        }, argument)
        if r != 0 {
            Unmanaged<NamespaceSocketJob>.fromOpaque(argument).release()
            throw BerthError.sys("start a thread to open rtnetlink in a network namespace", r)
        }
        pthread_join(thread, nil)
        if job.socket < 0 {
            throw BerthError.sys(job.joined
                ? "open rtnetlink socket in network namespace \(name)"
                : "join network namespace \(name)", job.errorCode)
        }
        return Netlink(adopting: job.socket)
    }

    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)` with extended and capped
    /// acknowledgements (the kernel's error text, without echoing our request back). Returns the
    /// descriptor, or -1 and the errno. Does not throw, so it can run on a bare thread.
    static func makeSocket() -> (fd: Int32, errno: Int32) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        if fd < 0 { return (-1, errno) }
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        // Both are optional (older kernels): failures only lose detail in error messages.
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, size)
        _ = setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, size)
        return (fd, 0)
    }

    // MARK: - Requests

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// Sends a request with `NLM_F_REQUEST | NLM_F_ACK | flags` and waits for the kernel's
    /// acknowledgement. Returns the replies that came before it (the answer to a single `GET`).
    @discardableResult
    func transact(_ type: UInt16, flags: UInt16 = 0, payload: [UInt8], what: String) throws -> [NetlinkMessage] {
        let seq = nextSequence()
        try send(NetlinkMessage(type: type, flags: RTNL.request | RTNL.ack | flags, sequence: seq, payload: payload), what: what)
        var replies: [NetlinkMessage] = []
        while true {
            for m in try receive(what: what) where m.sequence == seq {
                switch m.type {
                case RTNL.error:
                    let code = m.errorCode ?? EPROTO
                    if code == 0 { return replies }
                    throw Self.failure(what, code, m.extendedAckMessage)
                case RTNL.done:
                    return replies
                case RTNL.noop:
                    continue
                default:
                    replies.append(m)
                }
            }
        }
    }

    /// A multipart dump: sends `NLM_F_REQUEST | NLM_F_DUMP` and collects messages until
    /// `NLMSG_DONE`. A dump the kernel flags `NLM_F_DUMP_INTR` (the table changed meanwhile) is
    /// started again, up to 5 times.
    func dump(_ type: UInt16, payload: [UInt8], what: String) throws -> [NetlinkMessage] {
        let attempts = 5
        for _ in 0..<attempts {
            let seq = nextSequence()
            try send(NetlinkMessage(type: type, flags: RTNL.request | RTNL.dump, sequence: seq, payload: payload), what: what)
            var out: [NetlinkMessage] = []
            var interrupted = false
            receiving: while true {
                for m in try receive(what: what) where m.sequence == seq {
                    if m.flags & RTNL.dumpInterrupted != 0 { interrupted = true }
                    switch m.type {
                    case RTNL.done, RTNL.error:
                        let code = m.errorCode ?? EPROTO
                        if code != 0 { throw Self.failure(what, code, m.extendedAckMessage) }
                        break receiving
                    case RTNL.noop:
                        continue
                    default:
                        out.append(m)
                    }
                }
            }
            if !interrupted { return out }
        }
        throw BerthError(.system, "\(what): dump interrupted by concurrent changes \(attempts) times")
    }

    private func send(_ message: NetlinkMessage, what: String) throws {
        let bytes = message.encoded
        // An unconnected netlink socket sends to the kernel (port 0) and binds itself on first use.
        let n = try bytes.withUnsafeBytes { b in
            try sysCall(what) { Glibc.send(fd, b.baseAddress, b.count, 0) }
        }
        if n != bytes.count { throw BerthError.sys(what, EMSGSIZE) }
    }

    /// Reads one datagram and splits it into messages. The datagram's size is peeked first
    /// (`MSG_PEEK | MSG_TRUNC`), so a large dump part is never truncated.
    private func receive(what: String) throws -> [NetlinkMessage] {
        let size = try sysCall(what) { recv(fd, nil, 0, Int32(MSG_PEEK) | Int32(MSG_TRUNC)) }
        var buffer = [UInt8](repeating: 0, count: max(size, NetlinkMessage.headerSize))
        let n = try buffer.withUnsafeMutableBytes { b in
            try sysCall(what) { recv(fd, b.baseAddress, b.count, 0) }
        }
        buffer.removeLast(buffer.count - n)
        return try NetlinkMessage.decode(buffer)
    }

    /// The error for a failed request: `BerthError.sys(what, code)`, `.notFound` for ENODEV,
    /// with the kernel's extended-ack text as the cause.
    static func failure(_ what: String, _ code: Int32, _ detail: String?) -> BerthError {
        var e = BerthError.sys(what, code)
        if code == ENODEV { e.code = .notFound }
        e.cause = detail
        return e
    }
}

/// The state shared with the thread that opens a socket in another network namespace.
private final class NamespaceSocketJob: @unchecked Sendable {
    // SAFETY: written only by the job's thread, read only after pthread_join returned.
    let namespaceFD: Int32
    var socket: Int32 = -1
    var errorCode: Int32 = 0
    var joined = false

    init(namespaceFD: Int32) { self.namespaceFD = namespaceFD }

    /// On the dedicated thread: join the namespace, open the socket. The thread then exits, and
    /// its namespace membership with it.
    func run() {
        if berth_setns(namespaceFD, CLONE_NEWNET) != 0 {
            errorCode = errno
            return
        }
        joined = true
        let (fd, code) = Netlink.makeSocket()
        socket = fd
        errorCode = code
    }
}

/// rtnetlink numbers as the types the codec uses (the C headers import them as `Int`, `Int32`
/// or enums, depending on how each is declared).
enum RTNL {
    // Message types.
    static let newLink = UInt16(RTM_NEWLINK)
    static let delLink = UInt16(RTM_DELLINK)
    static let getLink = UInt16(RTM_GETLINK)
    static let setLink = UInt16(RTM_SETLINK)
    static let newAddress = UInt16(RTM_NEWADDR)
    static let delAddress = UInt16(RTM_DELADDR)
    static let getAddress = UInt16(RTM_GETADDR)
    static let newRoute = UInt16(RTM_NEWROUTE)
    static let delRoute = UInt16(RTM_DELROUTE)
    static let getRoute = UInt16(RTM_GETROUTE)
    static let noop = UInt16(NLMSG_NOOP)
    static let error = UInt16(NLMSG_ERROR)
    static let done = UInt16(NLMSG_DONE)

    // Header flags.
    static let request = UInt16(NLM_F_REQUEST)
    static let ack = UInt16(NLM_F_ACK)
    static let dump = UInt16(NLM_F_DUMP)
    static let create = UInt16(NLM_F_CREATE)
    static let exclusive = UInt16(NLM_F_EXCL)
    static let dumpInterrupted = UInt16(NLM_F_DUMP_INTR)

    // Link attributes.
    static let ifName = UInt16(IFLA_IFNAME)
    static let mtu = UInt16(IFLA_MTU)
    static let hardwareAddress = UInt16(IFLA_ADDRESS)
    static let master = UInt16(IFLA_MASTER)
    static let link = UInt16(IFLA_LINK)
    static let linkInfo = UInt16(IFLA_LINKINFO)
    static let infoKind = UInt16(IFLA_INFO_KIND)
    static let infoData = UInt16(IFLA_INFO_DATA)
    static let netnsFD = UInt16(IFLA_NET_NS_FD)
    static let netnsPID = UInt16(IFLA_NET_NS_PID)
    static let linkNetnsID = UInt16(IFLA_LINK_NETNSID)
    static let stats = UInt16(IFLA_STATS)
    static let stats64 = UInt16(IFLA_STATS64)
    static let operationalState = UInt16(IFLA_OPERSTATE)
    static let vethPeer = UInt16(VETH_INFO_PEER)
    static let interfaceUp = UInt32(IFF_UP)

    // Address attributes.
    static let ifaAddress = UInt16(IFA_ADDRESS)
    static let ifaLocal = UInt16(IFA_LOCAL)
    static let ifaLabel = UInt16(IFA_LABEL)
    static let ifaBroadcast = UInt16(IFA_BROADCAST)
    static let ifaFlags = UInt16(IFA_FLAGS)
    static let noDAD = UInt32(IFA_F_NODAD)

    // Route attributes and values.
    static let rtaDestination = UInt16(RTA_DST.rawValue)
    static let rtaGateway = UInt16(RTA_GATEWAY.rawValue)
    static let rtaOutputInterface = UInt16(RTA_OIF.rawValue)
    static let rtaPriority = UInt16(RTA_PRIORITY.rawValue)
    static let rtaPreferredSource = UInt16(RTA_PREFSRC.rawValue)
    static let rtaTable = UInt16(RTA_TABLE.rawValue)
    static let rtaMultipath = UInt16(RTA_MULTIPATH.rawValue)
    static let tableMain = UInt8(RT_TABLE_MAIN.rawValue)
    static let protocolBoot = UInt8(RTPROT_BOOT)
    static let scopeUniverse = UInt8(RT_SCOPE_UNIVERSE.rawValue)
    static let scopeLink = UInt8(RT_SCOPE_LINK.rawValue)
    static let scopeNowhere = UInt8(RT_SCOPE_NOWHERE.rawValue)
    static let typeUnicast = UInt8(RTN_UNICAST)

    // Address families.
    static let inet = UInt8(AF_INET)
    static let inet6 = UInt8(AF_INET6)

    /// The kernel's limit on interface names (IFNAMSIZ − 1).
    static let maxNameLength = 15
}

/// One rtnetlink request before it is numbered and sent: the message type, the flags added to
/// `NLM_F_REQUEST | NLM_F_ACK`, the payload (fixed header and attributes) and what it does, for
/// error messages. Built by pure functions, so tests check the bytes without a socket.
struct NetlinkRequest: Sendable, Equatable {
    var type: UInt16
    var flags: UInt16 = 0
    var payload: [UInt8]
    var what: String
}

extension Netlink {
    /// Sends a change and waits for its acknowledgement.
    @discardableResult
    func perform(_ request: NetlinkRequest) throws -> [NetlinkMessage] {
        try transact(request.type, flags: request.flags, payload: request.payload, what: request.what)
    }

    /// Checks an interface name as the kernel's `dev_valid_name` does: 1 to 15 bytes, not `.` or
    /// `..`, no `/`, `:` or white space.
    static func checkInterfaceName(_ name: String) throws {
        let bytes = Array(name.utf8)
        let bad: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0]
        guard (1...RTNL.maxNameLength).contains(bytes.count), name != ".", name != "..",
              !bytes.contains(where: bad.contains) else {
            throw BerthError.invalid("invalid network interface name \"\(name)\": 1 to \(RTNL.maxNameLength) bytes, no '/', ':' or spaces")
        }
    }

    /// `aa:bb:cc:dd:ee:ff` for a hardware address.
    public static func formatMAC(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (six two-digit hex parts, either case, `:` or `-` between);
    /// `nil` for anything else.
    public static func parseMAC(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let groups = parts.count == 6 ? parts : text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 6 else { return nil }
        var out: [UInt8] = []
        for g in groups {
            guard g.utf8.count == 2, g.allSatisfy(\.isHexDigit), let b = UInt8(g, radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}
