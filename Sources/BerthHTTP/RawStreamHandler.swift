import BerthCore
import NIOCore

/// Feeds a hijacked (raw) connection's bytes into an ``HTTPBodyStream`` with backpressure.
///
/// On the client it first parses the HTTP response head of an upgrade request itself (for
/// `101` and for Docker's headerless `200` alike) and only then streams the rest.
final class RawStreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Head: Sendable {
        var status: Int
        var headers: HTTPHeaderFields
    }

    let gate: ReadGate
    let source: ChunkProducer.Source
    let stream: HTTPBodyStream
    private var finished = false
    private var headPromise: EventLoopPromise<Head>?
    private var headBuffer: ByteBuffer?

    /// Must be created on the channel's event loop.
    init(channel: Channel, headPromise: EventLoopPromise<Head>? = nil) {
        self.gate = ReadGate(channel: channel)
        let seq = gate.makeChunkSequence()
        self.source = seq.source
        self.stream = HTTPBodyStream(.producer(seq.sequence))
        self.headPromise = headPromise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let promise = headPromise {
            if headBuffer == nil {
                headBuffer = buffer
            } else {
                headBuffer?.writeBuffer(&buffer)
            }
            guard var pending = headBuffer else { return }
            guard let end = pending.readableBytesView.firstRange(of: [13, 10, 13, 10]) else {
                if pending.readableBytes > 64 * 1024 {
                    fail(context: context, BerthError.invalidResponse("response head too large"))
                }
                return
            }
            let headLength = end.upperBound - pending.readableBytesView.startIndex
            guard let headBytes = pending.readBytes(length: headLength) else { return }
            headBuffer = nil
            headPromise = nil
            switch parseResponseHead(headBytes) {
            case .success(let head):
                promise.succeed(head)
            case .failure(let error):
                promise.fail(error)
                context.close(promise: nil)
                return
            }
            if pending.readableBytes > 0 {
                gate.yield(pending, to: source)
            }
            return
        }
        guard !finished else { return }
        gate.yield(buffer, to: source)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            finishInbound(nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finishInbound(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error)
    }

    func read(context: ChannelHandlerContext) {
        gate.read(context: context)
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        finishInbound(error)
        context.close(promise: nil)
    }

    private func finishInbound(_ error: (any Error)?) {
        if let promise = headPromise {
            headPromise = nil
            promise.fail(error ?? BerthError.invalidResponse("connection closed before the response head"))
        }
        guard !finished else { return }
        finished = true
        if let error {
            source.finish(error)
        } else {
            source.finish()
        }
        // Nobody will consume any more: let reads flow so EOF/close is noticed.
        gate.resume()
    }
}

extension BerthError {
    static func invalidResponse(_ message: String) -> BerthError {
        BerthError(.corrupt, "invalid http response: \(message)")
    }
}

/// Parses `HTTP/1.1 101 UPGRADED\r\nName: value\r\n...\r\n\r\n`.
func parseResponseHead(_ bytes: [UInt8]) -> Result<RawStreamHandler.Head, BerthError> {
    let text = String(decoding: bytes, as: UTF8.self)
    var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true).makeIterator()
    guard let statusLine = lines.next() else { return .failure(.invalidResponse("empty head")) }
    let parts = statusLine.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
        return .failure(.invalidResponse("bad status line: \(statusLine)"))
    }
    var headers = HTTPHeaderFields()
    while let line = lines.next() {
        guard let colon = line.firstIndex(of: ":") else {
            return .failure(.invalidResponse("bad header line"))
        }
        headers.add(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingASCIISpaces())
    }
    return .success(RawStreamHandler.Head(status: status, headers: headers))
}
