import BerthCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request body for ``HTTPClient``.
public enum HTTPClientRequestBody: Sendable {
    /// No body.
    case none
    /// A fixed body, sent with `Content-Length`.
    case bytes([UInt8])
    /// A chunked body produced by a closure (runs concurrently with reading the response).
    case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
}

/// A response received by ``HTTPClient``: the head, and the body as a stream.
public struct HTTPClientResponse: Sendable {
    /// The status code.
    public let status: Int
    /// The header fields as received.
    public let headers: HTTPHeaderFields
    /// The body, streamed as it arrives (single consumer). Consume it to the end (or drop it)
    /// so the connection can be reused.
    public let body: HTTPBodyStream

    /// Makes a response value (the client does this; public for tests and fakes).
    public init(status: Int, headers: HTTPHeaderFields, body: HTTPBodyStream) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Reads the whole body (at most `limit` bytes, else throws).
    public func collect(upTo limit: Int = 64 << 20) async throws -> [UInt8] {
        try await body.collect(upTo: limit)
    }
}

/// The server refused an upgrade (hijack) request with a status other than 101 or 200.
public struct HTTPUpgradeRefused: Error, Sendable, CustomStringConvertible {
    /// The status code.
    public let status: Int
    /// The header fields.
    public let headers: HTTPHeaderFields
    /// The body (up to 1 MiB).
    public let body: [UInt8]

    /// `upgrade refused: 404 {"message": ...}`.
    public var description: String {
        "upgrade refused: \(status) \(String(decoding: body, as: UTF8.self))"
    }
}

/// An HTTP/1.1 client for one server (unix socket or TCP), with a small keep-alive pool.
///
/// Runs on NIO's shared event loop group. Requests may be issued concurrently; each uses its own
/// connection (an idle pooled one when available).
public final class HTTPClient: Sendable {
    enum Target: Sendable {
        case unix(String)
        case tcp(String, Int)
    }

    let target: Target
    let group: MultiThreadedEventLoopGroup
    let idle = Mutex<[Channel]>([])
    /// The `Host` header sent when the caller gives none.
    let hostHeader: String
    static let maxIdle = 8

    /// A client for the server listening on the unix socket at `path`.
    public init(unixSocketPath path: String) {
        self.target = .unix(path)
        self.group = MultiThreadedEventLoopGroup.singleton
        self.hostHeader = "localhost"
    }

    /// A client for the server at `host:port` over TCP.
    public init(host: String, port: Int) {
        self.target = .tcp(host, port)
        self.group = MultiThreadedEventLoopGroup.singleton
        self.hostHeader = port == 80 ? host : "\(host):\(port)"
    }

    // MARK: requests

    /// Sends a request and returns once the response head arrived; the body streams after.
    /// `path` includes the query (`/containers/json?all=1`).
    public func execute(
        method: String = "GET", path: String, headers: HTTPHeaderFields = [], body: HTTPClientRequestBody = .none
    ) async throws -> HTTPClientResponse {
        if let channel = takeIdle() {
            do {
                return try await send(on: channel, method: method, path: path, headers: headers, body: body)
            } catch {
                // A pooled connection the server closed meanwhile; retry once on a fresh one,
                // unless the body was a stream we may have consumed.
                if case .stream = body { throw error }
                channel.close(promise: nil)
            }
        }
        let channel = try await connect(raw: nil)
        return try await send(on: channel, method: method, path: path, headers: headers, body: body)
    }

    private func send(
        on channel: Channel, method: String, path: String, headers: HTTPHeaderFields, body: HTTPClientRequestBody
    ) async throws -> HTTPClientResponse {
        var h = HTTPHeaders()
        for field in headers.fields { h.add(name: field.name, value: field.value) }
        if !h.contains(name: "host") { h.add(name: "Host", value: hostHeader) }
        switch body {
        case .none:
            if ["POST", "PUT", "PATCH"].contains(method) && !h.contains(name: "content-length") {
                h.add(name: "Content-Length", value: "0")
            }
        case .bytes(let bytes):
            h.replaceOrAdd(name: "Content-Length", value: String(bytes.count))
        case .stream:
            h.remove(name: "Content-Length")
            h.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: h)
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        let onReusable: @Sendable (Channel) -> Void = { [weak self] channel in
            self?.putIdle(channel)
        }
        let isStream: Bool
        if case .stream = body { isStream = true } else { isStream = false }
        try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: HTTPClientConnectionHandler.self)
            handler.start(promise: promise, onReusable: onReusable)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if case .bytes(let bytes) = body, !bytes.isEmpty {
                channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))), promise: nil)
            }
            if isStream {
                channel.flush()
            } else {
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
        }.get()
        if case .stream(let produce) = body {
            Task {
                do {
                    try await produce(HTTPBodyWriter(channel: channel, side: .client))
                    try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
                } catch {
                    channel.close(promise: nil)
                }
            }
        }
        return try await promise.futureResult.get()
    }

    /// Sends a request with `Connection: Upgrade` and `Upgrade: tcp` and, when the server answers
    /// 101 (or Docker's headerless 200), returns the head and the raw stream. The caller owns the
    /// stream and must `close()` it. Other statuses throw ``HTTPUpgradeRefused``.
    public func upgrade(
        method: String = "POST", path: String, headers: HTTPHeaderFields = [], body: [UInt8] = []
    ) async throws -> (response: HTTPClientResponse, stream: HijackedStream) {
        let loop = group.next()
        let promise = loop.makePromise(of: RawStreamHandler.Head.self)
        let channel = try await connect(raw: promise, on: loop)
        var h = headers
        if !h.contains("host") { h.add("Host", hostHeader) }
        h.replace("Connection", "Upgrade")
        h.replace("Upgrade", "tcp")
        h.replace("Content-Length", String(body.count))
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for field in h.fields { text += "\(field.name): \(field.value)\r\n" }
        text += "\r\n"
        var buffer = channel.allocator.buffer(capacity: text.utf8.count + body.count)
        buffer.writeString(text)
        buffer.writeBytes(body)
        do {
            try await channel.writeAndFlush(buffer).get()
            let head = try await promise.futureResult.get()
            let raw = try await loop.submit {
                try channel.pipeline.syncOperations.handler(type: RawStreamHandler.self).stream
            }.get()
            let stream = HijackedStream(channel: channel, inbound: raw)
            guard head.status == 101 || head.status == 200 else {
                var collected: [UInt8] = []
                let length = head.headers["content-length"].flatMap { Int($0) } ?? Int.max
                for try await chunk in raw {
                    collected.append(contentsOf: chunk)
                    if collected.count >= length || collected.count >= 1 << 20 { break }
                }
                await stream.close()
                throw HTTPUpgradeRefused(status: head.status, headers: head.headers, body: Array(collected.prefix(length)))
            }
            return (HTTPClientResponse(status: head.status, headers: head.headers, body: .empty), stream)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// Closes pooled connections; later requests still work (they open new ones).
    public func shutdown() async {
        let channels = idle.withLock { pool -> [Channel] in
            let all = pool
            pool = []
            return all
        }
        for channel in channels {
            try? await channel.close().get()
        }
    }

    // MARK: connections

    private func takeIdle() -> Channel? {
        idle.withLock { pool in
            while let channel = pool.popLast() {
                if channel.isActive { return channel }
            }
            return nil
        }
    }

    private func putIdle(_ channel: Channel) {
        let kept = idle.withLock { pool -> Bool in
            guard pool.count < Self.maxIdle else { return false }
            pool.append(channel)
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    private func connect(
        raw headPromise: EventLoopPromise<RawStreamHandler.Head>?, on loop: EventLoop? = nil
    ) async throws -> Channel {
        var bootstrap = ClientBootstrap(group: loop ?? group.next())
            .channelOption(.allowRemoteHalfClosure, value: true)
        if case .tcp = target {
            bootstrap = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                if let headPromise {
                    try pipeline.addHandler(RawStreamHandler(channel: channel, headPromise: headPromise))
                } else {
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(HTTPClientConnectionHandler(channel: channel))
                }
            }
        }
        do {
            switch target {
            case .unix(let path):
                return try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port):
                return try await bootstrap.connect(host: host, port: port).get()
            }
        } catch {
            headPromise?.fail(error)
            let where_: String
            switch target {
            case .unix(let path): where_ = path
            case .tcp(let host, let port): where_ = "\(host):\(port)"
            }
            throw BerthError(.system, "connect to \(where_)", cause: "\(error)")
        }
    }
}
