import BerthCore
import NIOCore
import NIOHTTP1

/// Pipeline handler names, so a hijack can take the HTTP codec out.
enum PipelineNames {
    static let encoder = "berth.http.encoder"
    static let decoder = "berth.http.decoder"
    static let pipelining = "berth.http.pipelining"
    static let errors = "berth.http.errors"
    static let handler = "berth.http.handler"
    static let tls = "berth.http.tls"
}

/// One per server connection: turns decoded request parts into ``HTTPRequest``s, runs the
/// handler in a task, writes its ``HTTPResponse`` back. Event-loop confined.
///
/// `HTTPServerPipelineHandler` in front of it guarantees one request at a time per connection
/// (later pipelined requests are held back until the response `.end` is written).
final class HTTPServerConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: any HTTPHandler
    private let log: (@Sendable (String) -> Void)?
    private var context: ChannelHandlerContext?
    private var gate: ReadGate?
    private var bodySource: ChunkProducer.Source?
    private var task: Task<Void, Never>?
    private var requestInFlight = false
    private var keepAlive = true
    private var inputClosed = false
    private var isHeadRequest = false
    private var requestVersion = HTTPVersion.http1_1
    private var remoteDescription = ""
    private var hijacked = false
    private var wantsUpgrade = false

    init(handler: any HTTPHandler, log: (@Sendable (String) -> Void)?) {
        self.handler = handler
        self.log = log
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.gate = ReadGate(channel: context.channel)
        if let address = context.channel.remoteAddress, address.protocol != .unix {
            remoteDescription = address.description
        } else {
            remoteDescription = "unix"
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // While the codec is being taken out for a hijack, HTTPServerPipelineHandler may replay
        // parts it held back: they belong to nobody now.
        if hijacked { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            startRequest(context: context, head: head)
        case .body(let buffer):
            if let source = bodySource, let gate {
                gate.yield(buffer, to: source)
            }
        case .end:
            if let source = bodySource {
                bodySource = nil
                source.finish()
            }
        }
    }

    private func startRequest(context: ChannelHandlerContext, head: HTTPRequestHead) {
        requestInFlight = true
        keepAlive = head.isKeepAlive
        isHeadRequest = head.method == .HEAD
        requestVersion = head.version
        wantsUpgrade = false

        var body = HTTPBodyStream.empty
        if Self.hasBody(head.headers), let gate {
            let seq = gate.makeChunkSequence()
            bodySource = seq.source
            body = HTTPBodyStream(.producer(seq.sequence))
        }
        var fields: [(name: String, value: String)] = []
        fields.reserveCapacity(head.headers.count)
        for (name, value) in head.headers { fields.append((name: name, value: value)) }
        var headers = HTTPHeaderFields()
        headers.fields = fields
        let request = HTTPRequest(
            method: head.method.rawValue,
            uri: head.uri,
            headers: headers,
            version: (Int(head.version.major), Int(head.version.minor)),
            remoteDescription: remoteDescription,
            body: body
        )
        wantsUpgrade = request.wantsUpgrade
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        let handler = self.handler
        let log = self.log
        task = Task {
            await HTTPServerConnectionHandler.serve(request: request, handler: handler, channel: channel, bound: bound, log: log)
        }
    }

    static func hasBody(_ headers: HTTPHeaders) -> Bool {
        if let length = headers.first(name: "content-length") {
            return (Int(length) ?? 1) > 0
        }
        return headers.first(name: "transfer-encoding") != nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            if let source = bodySource {
                bodySource = nil
                source.finish(BerthError.invalid("client closed the connection mid-body"))
            }
            if !requestInFlight {
                context.close(promise: nil)
            } else if !wantsUpgrade {
                // Like Go's server (and so dockerd): a client that stops sending has gone away;
                // cancel the handler (ends /events subscriptions). Whatever response is still
                // written goes out, then the connection closes.
                task?.cancel()
            }
            // For an upgrade request the half-close is replayed to the hijacked stream.
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let source = bodySource {
            bodySource = nil
            source.finish(ChannelError.eof)
        }
        task?.cancel()
        task = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let source = bodySource {
            bodySource = nil
            source.finish(error)
        }
        // Decoder errors were answered with 400 by HTTPServerProtocolErrorHandler already.
        context.close(promise: nil)
    }

    // MARK: outbound

    func read(context: ChannelHandlerContext) {
        if let gate {
            gate.read(context: context)
        } else {
            context.read()
        }
    }

    // MARK: responses (all on the event loop)

    private func makeHead(status: Int, headers: HTTPHeaderFields) -> HTTPHeaders {
        var h = HTTPHeaders()
        for field in headers.fields { h.add(name: field.name, value: field.value) }
        if !keepAlive { h.replaceOrAdd(name: "connection", value: "close") }
        return h
    }

    func writeFixed(status: Int, headers: HTTPHeaderFields, body: [UInt8]) {
        guard let context, requestInFlight else { return }
        var h = makeHead(status: status, headers: headers)
        let noBody = status == 204 || status == 304 || (100..<200).contains(status)
        if !noBody { h.replaceOrAdd(name: "content-length", value: String(body.count)) }
        let head = HTTPResponseHead(version: requestVersion, status: .init(statusCode: status), headers: h)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !isHeadRequest && !noBody && !body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        finishResponse(context: context)
    }

    func writeStreamHead(status: Int, headers: HTTPHeaderFields) throws -> Bool {
        guard let context, requestInFlight, context.channel.isActive else { throw ChannelError.ioOnClosedChannel }
        var h = makeHead(status: status, headers: headers)
        h.remove(name: "content-length")
        if isHeadRequest {
            h.replaceOrAdd(name: "content-length", value: "0")
        } else {
            h.replaceOrAdd(name: "transfer-encoding", value: "chunked")
        }
        let head = HTTPResponseHead(version: requestVersion, status: .init(statusCode: status), headers: h)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        if isHeadRequest {
            finishResponse(context: context)
            return false
        }
        return true
    }

    func endStream() {
        guard let context, requestInFlight else { return }
        finishResponse(context: context)
    }

    func abortStream() {
        requestInFlight = false
        context?.close(promise: nil)
    }

    private func finishResponse(context: ChannelHandlerContext) {
        requestInFlight = false
        task = nil
        if let source = bodySource {
            // The handler answered without reading the whole body: end its stream and drain the
            // rest so the connection can carry the next request.
            bodySource = nil
            source.finish()
            gate?.resume()
        }
        if keepAlive && !inputClosed {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Writes the raw head and swaps the HTTP codec for a raw byte stream.
    func hijack(status: Int, headers: HTTPHeaderFields, upgrade: Bool) throws -> HijackedStream {
        guard let context, requestInFlight, context.channel.isActive else { throw ChannelError.ioOnClosedChannel }
        requestInFlight = false
        hijacked = true
        task = nil
        if let source = bodySource {
            bodySource = nil
            source.finish()
        }
        let channel = context.channel
        let pipeline = context.pipeline.syncOperations
        let raw = RawStreamHandler(channel: channel)
        try pipeline.addHandler(raw)
        pipeline.removeHandler(name: PipelineNames.pipelining, promise: nil)
        pipeline.removeHandler(name: PipelineNames.errors, promise: nil)
        pipeline.removeHandler(context: context, promise: nil)
        pipeline.removeHandler(name: PipelineNames.encoder, promise: nil)
        // Last: bytes the client sent right after the request head are forwarded to `raw`.
        pipeline.removeHandler(name: PipelineNames.decoder, promise: nil)

        var head = "HTTP/1.1 \(status) \(status == 101 ? "UPGRADED" : HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n"
        var h = headers
        if status == 101 || upgrade {
            h.replace("Connection", "Upgrade")
            h.replace("Upgrade", "tcp")
        }
        h.remove("Content-Length")
        h.remove("Transfer-Encoding")
        for field in h.fields { head += "\(field.name): \(field.value)\r\n" }
        head += "\r\n"
        channel.writeAndFlush(channel.allocator.buffer(string: head), promise: nil)
        if inputClosed {
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        channel.read()
        return HijackedStream(channel: channel, inbound: raw.stream)
    }

    // MARK: the task side

    static func serve(
        request: HTTPRequest, handler: any HTTPHandler, channel: Channel,
        bound: NIOLoopBound<HTTPServerConnectionHandler>, log: (@Sendable (String) -> Void)?
    ) async {
        let response: HTTPResponse
        do {
            response = try await handler.handle(request)
        } catch {
            log?("\(request.method) \(request.uri): handler failed: \(error)")
            response = .internalError(error)
        }
        let loop = channel.eventLoop
        switch response.body {
        case .bytes(let body):
            let status = response.status
            let headers = response.headers
            loop.execute { bound.value.writeFixed(status: status, headers: headers, body: body) }

        case .stream(let body):
            let status = response.status
            let headers = response.headers
            let wantsBody: Bool
            do {
                wantsBody = try await loop.submit { try bound.value.writeStreamHead(status: status, headers: headers) }.get()
            } catch {
                return
            }
            guard wantsBody else { return }
            do {
                try await body(HTTPBodyWriter(channel: channel, side: .server))
                loop.execute { bound.value.endStream() }
            } catch {
                if channel.isActive {
                    log?("\(request.method) \(request.uri): stream failed: \(error)")
                }
                loop.execute { bound.value.abortStream() }
            }

        case .hijack(let body):
            let status = response.status
            let headers = response.headers
            let upgrade = request.wantsUpgrade
            let stream: HijackedStream
            do {
                stream = try await loop.submit {
                    try bound.value.hijack(status: status, headers: headers, upgrade: upgrade)
                }.get()
            } catch {
                log?("\(request.method) \(request.uri): hijack failed: \(error)")
                channel.close(promise: nil)
                return
            }
            do {
                try await body(stream)
            } catch {
                log?("\(request.method) \(request.uri): hijacked stream failed: \(error)")
            }
            await stream.close()
        }
    }
}
