import NIOCore

/// Event-loop-confined read gate shared by a channel handler and the async sequence it feeds.
///
/// The handler consults `demand` in its outbound `read(context:)`; the consumer side toggles it
/// through `ReadDemandDelegate`. Only touched on the channel's event loop.
final class ReadGate {
    let channel: Channel
    /// Whether the consumer wants more bytes.
    var demand = true
    /// A `read()` arrived while there was no demand; issue it when demand comes back.
    var pendingRead = false

    init(channel: Channel) {
        self.channel = channel
    }

    /// Called from the handler's outbound `read(context:)`.
    func read(context: ChannelHandlerContext) {
        if demand {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The consumer wants more (or has gone away and the rest must be drained).
    func resume() {
        demand = true
        if pendingRead {
            pendingRead = false
            channel.read()
        }
    }
}

/// Bridges `NIOAsyncSequenceProducer` demand signals back to the event loop.
struct ReadDemandDelegate: NIOAsyncSequenceProducerDelegate {
    let eventLoop: EventLoop
    let gate: NIOLoopBound<ReadGate>

    init(gate: ReadGate) {
        self.eventLoop = gate.channel.eventLoop
        self.gate = NIOLoopBound(gate, eventLoop: gate.channel.eventLoop)
    }

    func produceMore() {
        if eventLoop.inEventLoop {
            gate.value.resume()
        } else {
            let gate = self.gate
            eventLoop.execute { gate.value.resume() }
        }
    }

    func didTerminate() {
        // The consumer dropped the sequence: keep reading so the connection can drain the rest.
        produceMore()
    }
}

typealias ChunkProducer = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReadDemandDelegate
>

extension ReadGate {
    /// Makes a fresh backpressured chunk sequence whose demand drives this gate.
    func makeChunkSequence() -> ChunkProducer.NewSequence {
        demand = true
        return ChunkProducer.makeSequence(
            elementType: ByteBuffer.self,
            failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 16),
            finishOnDeinit: false,
            delegate: ReadDemandDelegate(gate: self)
        )
    }

    /// Yields one chunk, pausing reads when the consumer is saturated.
    func yield(_ buffer: ByteBuffer, to source: ChunkProducer.Source) {
        switch source.yield(buffer) {
        case .produceMore, .dropped:
            break
        case .stopProducing:
            demand = false
        }
    }
}
