import Synchronization

/// Byte counts of a transfer (a blob pushed or pulled) turned into at most one report per
/// 512 KiB plus the last one, delivered in order on a task of their own, so the transfer's
/// callback (called on the I/O path) never waits for the consumer; only the newest pending
/// count is kept.
final class ByteProgress: Sendable {
    let total: Int64
    let last = Mutex<Int64>(0)
    let sink: AsyncStream<Int64>.Continuation
    let reporter: Task<Void, Never>

    init(total: Int64, report: @escaping @Sendable (Int64) async -> Void) {
        self.total = total
        let (ticks, sink) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        self.sink = sink
        reporter = Task { for await n in ticks { await report(n) } }
    }

    /// The transfer's callback: `n` bytes so far.
    @Sendable func update(_ n: Int64) {
        let due = last.withLock { l -> Bool in
            if n - l >= 512 << 10 || n == total { l = n; return true }
            return false
        }
        if due { sink.yield(n) }
    }

    /// Ends the reports and waits until the last one is delivered.
    func finish() async {
        sink.finish()
        await reporter.value
    }

    deinit { sink.finish() }
}
