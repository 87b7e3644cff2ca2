#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BerthCore

/// Runs blocking work (large copies, extraction, waitpid) on a thread of its own, never on the
/// cooperative pool (ARCHITECTURE.md, decision 8), and resumes the caller with its result.
public enum BlockingWork {
    /// Runs `body` on a new detached pthread and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let box = ThreadBody {
                do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
            }
            do { try box.start() } catch { c.resume(throwing: error) }
        }
    }
}

/// A closure started on its own pthread (8 MiB stack, detached).
final class ThreadBody: @unchecked Sendable {
    // SAFETY: `work` is set once before the thread starts and read only by that thread.
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }

    func start() throws {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attr, 8 << 20)
        var tid = pthread_t()
        // SAFETY: the retained box is released exactly once by the thread entry.
        let arg = Unmanaged.passRetained(self).toOpaque()
        let r = pthread_create(&tid, &attr, { raw in
            guard let raw else { return nil }
            let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            box.work()
            return nil
        }, arg)
        if r != 0 {
            Unmanaged<ThreadBody>.fromOpaque(arg).release()
            throw BerthError.sys("start a thread", r)
        }
    }
}

/// A bounded queue of byte chunks between a blocking side (a thread reading a tar stream) and
/// an async side (an HTTP body). Either side may be the producer. Closing with an error makes
/// the other side's next call throw it; closing normally makes the consumer see end of stream
/// after the queued chunks.
public final class ByteQueue: @unchecked Sendable {
    // SAFETY: every mutable field is touched only with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var queuedBytes = 0
    private let capacity: Int
    private var closed = false
    private var failure: Error?
    private var consumerGone = false
    private var waitingTakers: [CheckedContinuation<[UInt8]?, Error>] = []
    private var waitingPutters: [CheckedContinuation<Void, Error>] = []
    /// The chunk being read by the blocking `read(into:)` and how far it was read.
    private var current: [UInt8] = []
    private var currentOffset = 0

    /// `capacity`: bytes queued before producers wait.
    public init(capacity: Int = 8 << 20) {
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    private func lock() { pthread_mutex_lock(&mutex) }
    private func unlock() { pthread_mutex_unlock(&mutex) }

    // MARK: producer side

    /// Queues a chunk, suspending while the queue is full (async producer).
    public func put(_ chunk: [UInt8]) async throws {
        if chunk.isEmpty { return }
        while true {
            lock()
            if let failure { unlock(); throw failure }
            if consumerGone { unlock(); throw BerthError(.internal, "the reader stopped") }
            if queuedBytes < capacity || chunks.count - head == 0 {
                enqueueLocked(chunk)
                unlock()
                return
            }
            // Full: wait for the consumer to take something (the unlock happens inside).
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                waitingPutters.append(c)
                unlock()
            }
        }
    }

    /// Queues a chunk, blocking the thread while the queue is full (blocking producer).
    public func putBlocking(_ chunk: [UInt8]) throws {
        if chunk.isEmpty { return }
        lock()
        defer { unlock() }
        while queuedBytes >= capacity && chunks.count - head > 0 && failure == nil && !consumerGone {
            pthread_cond_wait(&cond, &mutex)
        }
        if let failure { throw failure }
        if consumerGone { throw BerthError(.internal, "the reader stopped") }
        enqueueLocked(chunk)
    }

    /// Ends the stream: normally (nil) or with an error both sides see.
    public func close(error: Error? = nil) {
        lock()
        if let error, failure == nil { failure = error }
        closed = true
        let takers = waitingTakers, putters = waitingPutters
        waitingTakers = []
        waitingPutters = []
        pthread_cond_broadcast(&cond)
        // Takers get the queued data first; only when empty do they see the end.
        var resumeTakers: [(CheckedContinuation<[UInt8]?, Error>, Result<[UInt8]?, Error>)] = []
        for t in takers { resumeTakers.append((t, takeLocked())) }
        unlock()
        for (t, r) in resumeTakers { t.resume(with: r) }
        for p in putters {
            if let f = failure { p.resume(throwing: f) } else { p.resume() }
        }
    }

    /// The consumer will read no more: producers' next put throws.
    public func abandon() {
        lock()
        consumerGone = true
        let putters = waitingPutters
        waitingPutters = []
        pthread_cond_broadcast(&cond)
        unlock()
        for p in putters { p.resume(throwing: BerthError(.internal, "the reader stopped")) }
    }

    private func enqueueLocked(_ chunk: [UInt8]) {
        if let t = waitingTakers.first {
            waitingTakers.removeFirst()
            // Hand over directly (resume after unlock is not required for continuations).
            t.resume(returning: chunk)
            return
        }
        chunks.append(chunk)
        queuedBytes += chunk.count
        pthread_cond_broadcast(&cond)
    }

    // MARK: consumer side

    /// The next chunk, or nil at the end (async consumer).
    public func take() async throws -> [UInt8]? {
        lock()
        if chunks.count - head > 0 || closed || failure != nil {
            let r = takeLocked()
            unlock()
            return try r.get()
        }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8]?, Error>) in
            waitingTakers.append(c)
            unlock()
        }
    }

    private func takeLocked() -> Result<[UInt8]?, Error> {
        if chunks.count - head > 0 {
            let c = chunks[head]
            head += 1
            if head > 64 && head * 2 > chunks.count {
                chunks.removeFirst(head)
                head = 0
            }
            queuedBytes -= c.count
            wakeProducersLocked()
            return .success(c)
        }
        if let failure { return .failure(failure) }
        return .success(nil)
    }

    private func wakeProducersLocked() {
        pthread_cond_broadcast(&cond)
        if !waitingPutters.isEmpty && queuedBytes < capacity {
            let putters = waitingPutters
            waitingPutters = []
            for p in putters { p.resume() }
        }
    }

    /// Blocking read into a buffer, for a `TarReader.Source`; 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if currentOffset >= current.count {
            lock()
            while chunks.count - head == 0 && !closed && failure == nil {
                pthread_cond_wait(&cond, &mutex)
            }
            let r = takeLocked()
            unlock()
            guard let next = try r.get() else { return 0 }
            current = next
            currentOffset = 0
        }
        let n = min(buffer.count, current.count - currentOffset)
        current.withUnsafeBytes { src in
            // SAFETY: n ≤ bytes left in `current` and ≤ buffer.count.
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + currentOffset, byteCount: n)
        }
        currentOffset += n
        return n
    }
}
