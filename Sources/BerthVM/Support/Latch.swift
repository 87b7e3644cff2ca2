#if canImport(Glibc)
import Glibc
#endif
import BerthCore

/// A value set once (by any thread) that async callers wait for, with an optional timeout.
///
/// The QEMU reaper thread sets a VM's exit status here; `stop` waits on it with the stop
/// timeout. Every waiter is resumed exactly once: with the value, or with nil at its timeout.
final class Latch<Value: Sendable>: @unchecked Sendable {
    // SAFETY: `value`, `waiters` and `nextToken` are touched only with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var value: Value?
    private var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
    private var nextToken = 0

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    /// The value, if set.
    var current: Value? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return value
    }

    /// Sets the value (the first call wins) and wakes every waiter.
    func set(_ v: Value) {
        pthread_mutex_lock(&mutex)
        if value != nil { pthread_mutex_unlock(&mutex); return }
        value = v
        let all = waiters
        waiters = [:]
        pthread_mutex_unlock(&mutex)
        for (_, c) in all { c.resume(returning: v) }
    }

    /// Waits for the value; nil when `timeout` (seconds) passes first.
    func wait(timeout: Double? = nil) async -> Value? {
        pthread_mutex_lock(&mutex)
        if let value { pthread_mutex_unlock(&mutex); return value }
        let token = nextToken
        nextToken += 1
        return await withCheckedContinuation { (c: CheckedContinuation<Value?, Never>) in
            waiters[token] = c
            pthread_mutex_unlock(&mutex)
            if let timeout {
                Task.detached { [weak self] in
                    try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
                    self?.expire(token)
                }
            }
        }
    }

    private func expire(_ token: Int) {
        pthread_mutex_lock(&mutex)
        let c = waiters.removeValue(forKey: token)
        pthread_mutex_unlock(&mutex)
        c?.resume(returning: nil)
    }
}

/// Monotonic time in seconds (CLOCK_MONOTONIC), for deadlines.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Standard base64 (RFC 4648, with padding): how the guest command travels on the kernel
/// command line (busybox `base64 -d` decodes it in the guest).
func base64Encode(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i < bytes.count {
        let b0 = UInt32(bytes[i])
        let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
        let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
        let n = b0 << 16 | b1 << 8 | b2
        out.append(table[Int(n >> 18 & 63)])
        out.append(table[Int(n >> 12 & 63)])
        out.append(i + 1 < bytes.count ? table[Int(n >> 6 & 63)] : UInt8(ascii: "="))
        out.append(i + 2 < bytes.count ? table[Int(n & 63)] : UInt8(ascii: "="))
        i += 3
    }
    return String(decoding: out, as: UTF8.self)
}
