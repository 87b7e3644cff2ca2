import BerthCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The embedded DNS server of one user-defined network, on one address (the network's gateway),
/// UDP and TCP on the same port (53 by default).
///
/// It answers the names its ``DNSResolver`` claims (containers, aliases, links of the network:
/// A and AAAA with a TTL of 600 s, PTR for the network's addresses, an empty NOERROR answer
/// when the name is ours but has no record of the asked type, as Docker answers) and forwards
/// every other query to the upstream name servers (usually ``HostResolvers/upstreams(port:)``):
/// over UDP for UDP queries and TCP for TCP queries, with a fresh random ID and source port per
/// attempt, each attempt bounded by ``Options/forwardTimeout``, trying the next upstream after
/// a timeout, SERVFAIL or REFUSED (at most ``Options/maxUpstreamAttempts``). The upstream's
/// answer is relayed as it came, with the client's ID put back. With no upstreams, or when all
/// fail, the answer is SERVFAIL.
///
/// Lifecycle: `init` → ``start(address:port:)`` once → ``stop()`` (idempotent). Everything
/// runs on event loops and nothing blocks them: the resolver is called synchronously and must
/// be quick. Memory is bounded: at most ``Options/maxInFlightForwards`` forwarded queries at a
/// time (beyond that the answer is SERVFAIL), at most ``Options/maxTCPConnections`` TCP
/// clients, each closed after ``Options/tcpIdleTimeout`` without a query.
public final class DNSServer: Sendable {
    /// Limits and timings.
    public struct Options: Sendable, Equatable {
        /// TTL of the records the server answers itself (Docker uses 600 s).
        public var ttl: UInt32 = 600
        /// How long one forward attempt may take (connect and answer, for TCP).
        public var forwardTimeout: Duration = .seconds(2)
        /// Upstreams tried per query, in order (Docker tries up to 3).
        public var maxUpstreamAttempts = 3
        /// Forwarded queries in flight at once, over UDP and TCP together.
        public var maxInFlightForwards = 256
        /// TCP client connections open at once; more are closed at accept.
        public var maxTCPConnections = 64
        /// A TCP client connection with no query for this long is closed.
        public var tcpIdleTimeout: Duration = .seconds(10)
        /// The largest UDP answer for a query without EDNS (RFC 1035); bigger answers are cut
        /// and flagged TC so the client asks again over TCP.
        public var udpPayloadLimit = 512

        public init() {}
    }

    /// What the server is listening on.
    struct Listening {
        var udp: Channel
        var tcp: Channel
        var address: SocketAddress
    }

    struct State {
        var listening: Listening?
        var started = false
        var stopped = false
        var upstreams: [SocketAddress]
        /// TCP client connections and forwarding channels, closed by `stop()`.
        var channels: [ObjectIdentifier: Channel] = [:]
        var tcpConnections = 0
    }

    let resolver: any DNSResolver
    let options: Options
    let group: any EventLoopGroup
    let logger: Logger
    let state: Mutex<State>
    let inFlightForwards = Atomic<Int>(0)

    /// A server answering from `resolver` and forwarding to `upstreams`. With no
    /// `eventLoopGroup` it runs on NIO's shared singleton group.
    public init(
        resolver: any DNSResolver,
        upstreams: [SocketAddress],
        options: Options = Options(),
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "berth.dns")
    ) {
        self.resolver = resolver
        self.options = options
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.logger = logger
        self.state = Mutex(State(upstreams: upstreams))
    }

    /// Replaces the upstream name servers (when the host's resolv.conf changes). Queries
    /// already being forwarded keep their list.
    public func setUpstreams(_ upstreams: [SocketAddress]) {
        state.withLock { $0.upstreams = upstreams }
    }

    /// The upstream name servers.
    public var upstreams: [SocketAddress] { state.withLock { $0.upstreams } }

    /// The address the server listens on (UDP and TCP), once started.
    public var localAddress: SocketAddress? { state.withLock { $0.listening?.address } }

    /// Binds UDP and TCP on `address`:`port` and starts serving; returns the port. With port 0
    /// the UDP port is picked by the kernel and TCP binds the same one (retrying a few times if
    /// that one is taken for TCP). The address must exist on the host (the gateway address is on
    /// the network's bridge before the server starts). Throws a `BerthError` when binding fails
    /// or the server was already started.
    @discardableResult
    public func start(address: String, port: Int = 53) async throws -> Int {
        try state.withLock { state in
            guard !state.started else { throw BerthError.conflict("dns server already started") }
            state.started = true
        }
        do {
            return try await bind(address: address, port: port)
        } catch {
            state.withLock { $0.started = false }
            throw error
        }
    }

    private func bind(address: String, port: Int) async throws -> Int {
        var lastError: (any Error)?
        for _ in 0..<(port == 0 ? 16 : 1) {
            let udp: Channel
            do {
                udp = try await udpBootstrap().bind(host: address, port: port).get()
            } catch {
                throw BerthError(.system, "dns server: bind udp \(address):\(port)", cause: "\(error)")
            }
            guard let bound = udp.localAddress, let boundPort = bound.port else {
                try? await udp.close().get()
                throw BerthError(.internal, "dns server: udp socket on \(address) has no local address")
            }
            let tcp: Channel
            do {
                tcp = try await tcpBootstrap().bind(host: address, port: boundPort).get()
            } catch {
                try? await udp.close().get()
                lastError = error
                continue
            }
            let registered = state.withLock { state -> Bool in
                guard !state.stopped else { return false }
                state.listening = Listening(udp: udp, tcp: tcp, address: bound)
                return true
            }
            guard registered else {
                try? await udp.close().get()
                try? await tcp.close().get()
                throw BerthError.conflict("dns server stopped while starting")
            }
            logger.debug("dns server listening", metadata: ["address": "\(bound)"])
            return boundPort
        }
        throw BerthError(.system, "dns server: bind tcp \(address):\(port)", cause: lastError.map { "\($0)" })
    }

    /// Closes the listeners, the TCP client connections and the forwarding sockets. Safe to
    /// call more than once and before ``start(address:port:)``.
    public func stop() async {
        let (listening, channels) = state.withLock { state in
            state.stopped = true
            let result = (state.listening, Array(state.channels.values))
            state.listening = nil
            state.channels = [:]
            return result
        }
        if let listening {
            try? await listening.udp.close().get()
            try? await listening.tcp.close().get()
        }
        for channel in channels {
            try? await channel.close().get()
        }
    }

    // MARK: - Bootstraps

    private func udpBootstrap() -> DatagramBootstrap {
        DatagramBootstrap(group: group)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSUDPServerHandler(server: self))
                }
            }
    }

    private func tcpBootstrap() -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(tcpConnection: channel)
                }
            }
    }

    private func configure(tcpConnection channel: Channel) throws {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped, state.tcpConnections < options.maxTCPConnections else { return false }
            state.tcpConnections += 1
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        guard accepted else {
            throw BerthError.conflict("dns server: too many tcp connections")
        }
        channel.closeFuture.whenComplete { [self] _ in
            state.withLock { state in
                state.tcpConnections -= 1
                state.channels.removeValue(forKey: ObjectIdentifier(channel))
            }
        }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(IdleStateHandler(readTimeout: TimeAmount(options.tcpIdleTimeout)))
        try sync.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
        try sync.addHandler(DNSTCPServerHandler(server: self))
    }

    /// Tracks a forwarding channel so `stop()` closes it; false (and the channel is closed)
    /// when the server is stopping.
    func track(_ channel: Channel) -> Bool {
        let tracked = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if tracked {
            channel.closeFuture.whenComplete { [self] _ in
                _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        } else {
            channel.close(promise: nil)
        }
        return tracked
    }

    /// `Web.` → `web`: lower case, one trailing dot dropped (the form resolvers receive).
    static func normalize(_ name: String) -> String {
        var text = String(decoding: name.utf8.map(DNSName.fold), as: UTF8.self)
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Serves UDP queries: one datagram in, at most one out.
final class DNSUDPServerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: DNSServer

    init(server: DNSServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let channel = context.channel
        server.handle(Array(envelope.data.readableBytesView), from: client, transport: .udp,
                      eventLoop: context.eventLoop) { answer in
            let buffer = channel.allocator.buffer(bytes: answer)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: buffer), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket survives errors such as ICMP port unreachable from a client that
        // went away; keep serving.
        server.logger.debug("dns udp error", metadata: ["error": "\(error)"])
    }
}

/// Serves one TCP client: length-prefixed queries in, length-prefixed answers out, in the order
/// they complete (RFC 7766 §6.2.1.1).
final class DNSTCPServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let server: DNSServer

    init(server: DNSServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let channel = context.channel
        guard let client = channel.remoteAddress else { return }
        server.handle(Array(frame.readableBytesView), from: client, transport: .tcp,
                      eventLoop: context.eventLoop) { answer in
            guard answer.count <= Int(UInt16.max) else { return }
            var buffer = channel.allocator.buffer(capacity: answer.count + 2)
            buffer.writeInteger(UInt16(answer.count))
            buffer.writeBytes(answer)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        server.logger.debug("dns tcp connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Splits a TCP stream into DNS messages, each preceded by its 16-bit length (RFC 1035
/// §4.2.2). Zero-length frames are skipped.
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        if length > 0 {
            context.fireChannelRead(wrapInboundOut(frame))
        }
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
