import BerthCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP/1.1 server on unix sockets and TCP, serving one ``HTTPHandler``.
///
/// Lifecycle: `init` → any number of `listen(…)` calls → `shutdown()`. Connections are
/// keep-alive; each request runs the handler in its own task. `shutdown()` stops accepting,
/// lets in-flight requests finish (up to a timeout), then closes everything.
public final class HTTPServer: Sendable {
    struct State {
        var listeners: [Channel] = []
        var socketPaths: [String] = []
        var connections: [ObjectIdentifier: Channel] = [:]
        var shuttingDown = false
    }

    let handler: any HTTPHandler
    let group: MultiThreadedEventLoopGroup
    let ownsGroup: Bool
    let log: (@Sendable (String) -> Void)?
    let state = Mutex(State())

    /// Makes a server for `handler`. With no `eventLoopGroup`, the server makes its own with one
    /// thread per core and shuts it down in ``shutdown(timeout:)``. `log` receives one line per
    /// handler error or dropped connection.
    public init(
        handler: any HTTPHandler,
        eventLoopGroup: MultiThreadedEventLoopGroup? = nil,
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.handler = handler
        if let eventLoopGroup {
            self.group = eventLoopGroup
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
            self.ownsGroup = true
        }
        self.log = log
    }

    /// Listens on a unix socket at `path`: removes a stale socket file there first (but never
    /// a non-socket file), binds, then sets the file's mode (default 0660).
    public func listen(unixPath path: String, mode: mode_t = 0o660) async throws {
        let channel: Channel
        do {
            channel = try await bootstrap(tcp: false)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        } catch {
            throw BerthError(.system, "listen on \(path)", cause: "\(error)")
        }
        if chmod(path, mode) != 0 {
            let err = errno
            try? await channel.close().get()
            throw BerthError(.system, "chmod \(path)", errno: err)
        }
        try register(listener: channel, path: path)
    }

    /// Listens on TCP `host:port` (port 0 picks a free one) and returns the bound port. With
    /// `tls`, connections are TLS (a client that does not speak it is dropped at the handshake).
    @discardableResult
    public func listen(host: String, port: Int, tls: HTTPServerTLS? = nil) async throws -> Int {
        let channel: Channel
        do {
            channel = try await bootstrap(tcp: true, tls: tls).bind(host: host, port: port).get()
        } catch {
            throw BerthError(.system, "listen on \(host):\(port)", cause: "\(error)")
        }
        try register(listener: channel, path: nil)
        return channel.localAddress?.port ?? port
    }

    private func register(listener: Channel, path: String?) throws {
        let accepted = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.listeners.append(listener)
            if let path { state.socketPaths.append(path) }
            return true
        }
        if !accepted {
            listener.close(promise: nil)
            throw BerthError(.conflict, "http server is shutting down")
        }
    }

    private func bootstrap(tcp: Bool, tls: HTTPServerTLS? = nil) -> ServerBootstrap {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 16)
        if tcp {
            bootstrap = bootstrap
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        return bootstrap.childChannelInitializer { [self] channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls {
                    // First in the pipeline: everything after it sees plaintext (hijacked
                    // streams too, since the TLS handler stays when HTTP handlers are removed).
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context), name: PipelineNames.tls)
                }
                try self.configure(connection: channel)
            }
        }
    }

    private func configure(connection channel: Channel) throws {
        let tracked = state.withLock { state -> Bool in
            guard !state.shuttingDown else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
        guard tracked else {
            throw BerthError(.conflict, "http server is shutting down")
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
        }
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(HTTPResponseEncoder(), name: PipelineNames.encoder)
        try pipeline.addHandler(
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
            name: PipelineNames.decoder)
        try pipeline.addHandler(HTTPServerPipelineHandler(), name: PipelineNames.pipelining)
        try pipeline.addHandler(HTTPServerProtocolErrorHandler(), name: PipelineNames.errors)
        try pipeline.addHandler(HTTPServerConnectionHandler(handler: handler, log: log), name: PipelineNames.handler)
    }

    /// Stops accepting, asks idle and finishing connections to close, waits up to `timeout` for
    /// in-flight requests (streams, hijacks) to end, closes what is left, removes the unix socket
    /// files and (if the server made it) shuts down its event loop group. Safe to call twice.
    public func shutdown(timeout: Duration = .seconds(10)) async {
        let (listeners, paths, alreadyShuttingDown) = state.withLock { state in
            let result = (state.listeners, state.socketPaths, state.shuttingDown)
            state.shuttingDown = true
            state.listeners = []
            state.socketPaths = []
            return result
        }
        if alreadyShuttingDown && listeners.isEmpty { return }
        for listener in listeners {
            try? await listener.close().get()
        }
        for path in paths {
            unlink(path)
        }
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        // Future waits are not cancellable, so poll instead of racing them against a timer.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline, state.withLock({ !$0.connections.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let remaining = state.withLock { Array($0.connections.values) }
        for connection in remaining {
            try? await connection.close().get()
        }
        if ownsGroup {
            try? await group.shutdownGracefully()
        }
    }
}
