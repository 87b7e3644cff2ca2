import BerthCore
import BerthRuntime
import NIOCore
import NIOPosix

/// Connections to a monitor's attach socket (see `AttachProtocol` in BerthRuntime), on SwiftNIO's
/// shared event loops: one idle watch connection per running container (its EOF means the
/// container exited), and attach connections that carry stdio.
enum MonitorConnection {
    typealias Channel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static var group: MultiThreadedEventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// Connects to `path` and says hello with the streams wanted.
    static func attach(path: String, stdin: Bool, stdout: Bool, stderr: Bool) async throws -> Channel {
        let hello = AttachProtocol.hello(stdout: stdout, stderr: stderr, stdin: stdin)
        do {
            return try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let wrapped = try Channel(wrappingChannelSynchronously: channel)
                    channel.writeAndFlush(ByteBuffer(bytes: hello), promise: nil)
                    return wrapped
                }
            }
        } catch {
            throw BerthError(.internal, "cannot reach the container's monitor at \(path): \(error)")
        }
    }

    /// Adopts an already-connected socket (an exec's monitor), taking ownership of `fd`.
    static func adopt(fd: Int32) async throws -> Channel {
        try await ClientBootstrap(group: group).withConnectedSocket(fd) { channel in
            channel.eventLoop.makeCompletedFuture { try Channel(wrappingChannelSynchronously: channel) }
        }
    }

    /// Watches a monitor: `onClose` runs once when the connection ends (the monitor wrote the
    /// exit record and closed, or it died). Returns false if the socket could not be reached
    /// (the monitor is already gone).
    static func watch(path: String, onClose: @escaping @Sendable () -> Void) async -> Bool {
        do {
            _ = try await ClientBootstrap(group: group).connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WatchHandler(onClose: onClose))
                    return true
                }
            }
            return true
        } catch {
            return false
        }
    }

    /// Ignores what arrives; reports the end of the connection.
    private final class WatchHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let onClose: @Sendable () -> Void
        init(onClose: @escaping @Sendable () -> Void) { self.onClose = onClose }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func channelInactive(context: ChannelHandlerContext) {
            onClose()
            context.fireChannelInactive()
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
}

/// One attach (or exec) connection as the server sees it: output chunks in order, and stdin,
/// resize and close going the other way. `read()` is for one task; the writers may be used from
/// another.
public final class AttachConnection: @unchecked Sendable {
    /// Whether output is a terminal's (one raw stream) or stdout/stderr.
    public let tty: Bool
    /// The exit code, once the monitor sent it.
    public private(set) var exitCode: Int32?
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var decoder = AttachFrameDecoder()

    init(tty: Bool, inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.tty = tty
        iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// The next output chunk: stream 1 (stdout, or the terminal) or 2 (stderr), or nil at the
    /// end (the process exited, or the monitor went away).
    public func read() async throws -> (stream: UInt8, bytes: [UInt8])? {
        while true {
            if let f = try decoder.next() {
                switch f.kind {
                case 1, 2: return (f.kind, f.payload)
                case 6:
                    if f.payload.count == 4 {
                        exitCode = Int32(bitPattern: f.payload.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                    }
                default: continue
                }
                continue
            }
            guard var buffer = try await iterator.next() else { return nil }
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { decoder.append(bytes) }
        }
    }

    /// Sends stdin bytes.
    public func write(stdin bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        var offset = 0
        // Frames of at most 64 KiB.
        while offset < bytes.count {
            let end = min(bytes.count, offset + 65536)
            try await outbound.write(ByteBuffer(bytes: AttachProtocol.frame(kind: 0, payload: bytes[offset..<end])))
            offset = end
        }
    }

    /// Tells the monitor this client's stdin ended.
    public func closeStdin() async throws {
        try await outbound.write(ByteBuffer(bytes: AttachProtocol.frame(kind: 4, payload: [UInt8]())))
    }

    /// Resizes the terminal.
    public func resize(rows: UInt16, cols: UInt16) async throws {
        try await outbound.write(ByteBuffer(bytes: AttachProtocol.resize(rows: rows, cols: cols)))
    }
}

extension MonitorConnection.Channel {
    /// Runs `body` over this channel as an ``AttachConnection`` and closes it after.
    func run<T: Sendable>(tty: Bool, _ body: (AttachConnection) async throws -> T) async throws -> T {
        try await executeThenClose { inbound, outbound in
            try await body(AttachConnection(tty: tty, inbound: inbound, outbound: outbound))
        }
    }
}
