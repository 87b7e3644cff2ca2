import BerthCore
import NIOCore
import NIOPosix

extension DNSServer {
    /// Forwards `query` (its bytes as the client sent them) to the upstreams in turn and returns
    /// the first usable answer with the client's ID put back. Fails when there is no upstream or
    /// every attempt timed out, failed, or answered SERVFAIL or REFUSED.
    func forward(_ query: [UInt8], question: DNSQuestion, transport: Transport,
                 eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let local = localAddress
        let upstreams = Array(self.upstreams.filter { $0 != local }.prefix(max(options.maxUpstreamAttempts, 1)))
        guard !upstreams.isEmpty else {
            return eventLoop.makeFailedFuture(BerthError(.unsupported, "dns forward: no upstream name server"))
        }
        return attempt(query, question: question, upstreams: upstreams, index: 0, transport: transport,
                       eventLoop: eventLoop)
    }

    private func attempt(_ query: [UInt8], question: DNSQuestion, upstreams: [SocketAddress], index: Int,
                         transport: Transport, eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let upstream = upstreams[index]
        let id = UInt16.random(in: 0...UInt16.max)
        var forwarded = query
        forwarded[0] = UInt8(id >> 8)
        forwarded[1] = UInt8(id & 0xFF)
        let exchange = switch transport {
        case .udp: exchangeUDP(forwarded, id: id, upstream: upstream, eventLoop: eventLoop)
        case .tcp: exchangeTCP(forwarded, id: id, upstream: upstream, eventLoop: eventLoop)
        }
        return exchange
            .flatMapThrowing { answer -> [UInt8] in
                let head = try DNSMessage.decodeHead(answer)
                guard head.isResponse, head.id == id else {
                    throw BerthError(.corrupt, "dns forward: answer from \(upstream) does not match the query")
                }
                if let echoed = head.questions.first {
                    guard head.questions.count == 1, echoed.name.isEquivalent(to: question.name),
                          echoed.type == question.type, echoed.recordClass == question.recordClass
                    else {
                        throw BerthError(.corrupt, "dns forward: answer from \(upstream) is for another question")
                    }
                } else if head.responseCode == .noError {
                    throw BerthError(.corrupt, "dns forward: answer from \(upstream) has no question")
                }
                if head.responseCode == .serverFailure || head.responseCode == .refused {
                    throw BerthError(.system, "dns forward: \(upstream) answered \(head.responseCode)")
                }
                var relayed = answer
                relayed[0] = query[0]
                relayed[1] = query[1]
                return relayed
            }
            .flatMapError { [self] error in
                logger.debug("dns forward attempt failed", metadata: [
                    "upstream": "\(upstream)", "question": "\(question.name) \(question.type)", "error": "\(error)",
                ])
                guard index + 1 < upstreams.count else { return eventLoop.makeFailedFuture(error) }
                return attempt(query, question: question, upstreams: upstreams, index: index + 1,
                               transport: transport, eventLoop: eventLoop)
            }
    }

    /// One UDP exchange from a fresh socket (so a fresh random source port): the first datagram
    /// from `upstream` that is a response with `id` wins; anything else is ignored until the
    /// timeout.
    func exchangeUDP(_ query: [UInt8], id: UInt16, upstream: SocketAddress,
                     eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let wildcard = upstream.protocol == .inet6 ? "::" : "0.0.0.0"
        DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSUpstreamUDPHandler(upstream: upstream, id: id, promise: promise))
                }
            }
            .bind(host: wildcard, port: 0)
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    promise.fail(BerthError(.system, "dns forward: udp socket", cause: "\(error)"))
                case .success(let channel):
                    guard track(channel) else {
                        promise.fail(BerthError.conflict("dns server stopped"))
                        return
                    }
                    let timeout = eventLoop.scheduleTask(in: TimeAmount(options.forwardTimeout)) {
                        promise.fail(BerthError(.system, "dns forward: \(upstream) timed out"))
                    }
                    promise.futureResult.whenComplete { _ in
                        timeout.cancel()
                        channel.close(promise: nil)
                    }
                    let envelope = AddressedEnvelope(remoteAddress: upstream, data: channel.allocator.buffer(bytes: query))
                    channel.writeAndFlush(envelope).whenFailure { error in
                        promise.fail(BerthError(.system, "dns forward: send to \(upstream)", cause: "\(error)"))
                    }
                }
            }
        return promise.futureResult
    }

    /// One TCP exchange on a fresh connection: connect, send the length-prefixed query, take the
    /// first framed response with `id`. Connect and answer together are bounded by the timeout.
    func exchangeTCP(_ query: [UInt8], id: UInt16, upstream: SocketAddress,
                     eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let promise = eventLoop.makePromise(of: [UInt8].self)
        let timeout = eventLoop.scheduleTask(in: TimeAmount(options.forwardTimeout)) {
            promise.fail(BerthError(.system, "dns forward: \(upstream) timed out"))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(options.forwardTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ByteToMessageHandler(DNSTCPFrameDecoder()))
                    try sync.addHandler(DNSUpstreamTCPHandler(upstream: upstream, id: id, promise: promise))
                }
            }
            .connect(to: upstream)
            .whenComplete { [self] result in
                switch result {
                case .failure(let error):
                    promise.fail(BerthError(.system, "dns forward: connect to \(upstream)", cause: "\(error)"))
                case .success(let channel):
                    guard track(channel) else {
                        promise.fail(BerthError.conflict("dns server stopped"))
                        return
                    }
                    promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                    var buffer = channel.allocator.buffer(capacity: query.count + 2)
                    buffer.writeInteger(UInt16(truncatingIfNeeded: query.count))
                    buffer.writeBytes(query)
                    channel.writeAndFlush(buffer).whenFailure { error in
                        promise.fail(BerthError(.system, "dns forward: send to \(upstream)", cause: "\(error)"))
                    }
                }
            }
        return promise.futureResult
    }
}

/// Waits for the upstream's answer on a forwarding UDP socket.
final class DNSUpstreamUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let upstream: SocketAddress
    let id: UInt16
    let promise: EventLoopPromise<[UInt8]>

    init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<[UInt8]>) {
        self.upstream = upstream
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // Only the upstream we asked, only a response with our ID: a spoofed or stray datagram
        // is dropped and the wait goes on.
        guard envelope.remoteAddress == upstream else { return }
        let bytes = Array(envelope.data.readableBytesView)
        guard bytes.count >= DNSMessage.headerLength,
              UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id,
              bytes[2] & 0x80 != 0
        else { return }
        promise.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and the like: this upstream is not answering.
        promise.fail(BerthError(.system, "dns forward: \(upstream)", cause: "\(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(BerthError(.system, "dns forward: socket to \(upstream) closed"))
    }
}

/// Waits for the upstream's answer on a forwarding TCP connection.
final class DNSUpstreamTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let upstream: SocketAddress
    let id: UInt16
    let promise: EventLoopPromise<[UInt8]>

    init(upstream: SocketAddress, id: UInt16, promise: EventLoopPromise<[UInt8]>) {
        self.upstream = upstream
        self.id = id
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        guard bytes.count >= DNSMessage.headerLength,
              UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id,
              bytes[2] & 0x80 != 0
        else { return }
        promise.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(BerthError(.system, "dns forward: \(upstream)", cause: "\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(BerthError(.system, "dns forward: \(upstream) closed the connection"))
    }
}
