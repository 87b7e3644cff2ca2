import BerthCore
import NIOCore
import NIOHTTP1

/// One per client connection: turns response parts into an ``HTTPClientResponse`` whose body
/// streams with backpressure, and reports when the connection may be reused. Event-loop confined.
final class HTTPClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private let gate: ReadGate
    private var headPromise: EventLoopPromise<HTTPClientResponse>?
    private var source: ChunkProducer.Source?
    private var requestEnded = false
    private var responseEnded = false
    private var keepAlive = true
    private var onReusable: (@Sendable (Channel) -> Void)?

    init(channel: Channel) {
        self.gate = ReadGate(channel: channel)
    }

    /// Arms the handler for one request/response exchange.
    func start(promise: EventLoopPromise<HTTPClientResponse>, onReusable: (@Sendable (Channel) -> Void)?) {
        headPromise = promise
        requestEnded = false
        responseEnded = false
        keepAlive = true
        self.onReusable = onReusable
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            let seq = gate.makeChunkSequence()
            source = seq.source
            var headers = HTTPHeaderFields()
            for (name, value) in head.headers { headers.add(name, value) }
            let response = HTTPClientResponse(
                status: Int(head.status.code), headers: headers, body: HTTPBodyStream(.producer(seq.sequence)))
            let promise = headPromise
            headPromise = nil
            promise?.succeed(response)
        case .body(let buffer):
            if let source { gate.yield(buffer, to: source) }
        case .end:
            if let source {
                self.source = nil
                source.finish()
            }
            responseEnded = true
            releaseIfDone(context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            requestEnded = true
            context.write(data, promise: promise)
            releaseIfDone(context: context)
            return
        }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        gate.read(context: context)
    }

    private func releaseIfDone(context: ChannelHandlerContext) {
        guard requestEnded, responseEnded else { return }
        let callback = onReusable
        onReusable = nil
        if keepAlive, let callback {
            callback(context.channel)
        } else {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            fail(BerthError.invalidResponse("connection closed by server"))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        onReusable = nil
        if let promise = headPromise {
            headPromise = nil
            promise.fail(error)
        }
        if let source {
            self.source = nil
            source.finish(error)
        }
    }
}
