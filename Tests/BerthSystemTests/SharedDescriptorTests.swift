import Foundation
import Glibc
import Testing
@testable import BerthSystem

/// `SharedDescriptor`: closed once, never used (or shut down) after the close, and a close
/// that arrives while a user runs waits for it.
@Suite("shared descriptor")
struct SharedDescriptorTests {
    /// Whether `fd` is an open descriptor of this process.
    static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) >= 0 }

    /// `a` → `b` carries a byte.
    static func carries(_ a: Int32, _ b: Int32) -> Bool {
        var byte: UInt8 = 42
        guard write(a, &byte, 1) == 1 else { return false }
        var got: UInt8 = 0
        return read(b, &got, 1) == 1 && got == 42
    }

    @Test func closesOnceAndRefusesUseAfterwards() throws {
        let (a, b) = try FD.socketPair(seqpacket: false)
        defer { FD.close(b) }
        let shared = SharedDescriptor(a)
        #expect(shared.use { $0 } == a)
        #expect(!shared.isClosed)
        shared.close()
        #expect(shared.isClosed)
        #expect(!Self.isOpen(a))
        var ran = false
        #expect(shared.use { _ in ran = true } == nil)
        #expect(!ran)
        // The number is free now; a new socket may well get it. Neither a second close nor a
        // shutdown through the closed descriptor may touch that one.
        let (c, d) = try FD.socketPair(seqpacket: false)
        defer { FD.close(c); FD.close(d) }
        shared.close()
        #expect(!shared.shutdown(Int32(SHUT_RDWR)))
        #expect(Self.isOpen(c) && Self.isOpen(d))
        #expect(Self.carries(c, d) && Self.carries(d, c))
    }

    @Test func closeDuringUseWaitsForTheUser() throws {
        let (a, b) = try FD.socketPair(seqpacket: false)
        defer { FD.close(b) }
        let shared = SharedDescriptor(a)
        let inside = Latch(), release = Latch(), finished = Latch()
        let sawOpen = Box()
        // A thread of its own: the test blocks on the latches.
        Thread.detachNewThread {
            sawOpen.value = shared.use { fd -> Bool in
                inside.open()
                release.wait()
                return Self.isOpen(fd)
            }
            finished.open()
        }
        inside.wait()
        shared.close()
        #expect(shared.isClosed)
        #expect(Self.isOpen(a), "closed under a running user")
        #expect(shared.use { $0 } == nil, "a new user after close")
        release.open()
        finished.wait()
        #expect(sawOpen.value == true)
        #expect(!Self.isOpen(a), "the last user out closes it")
    }

    @Test func shutdownWakesAReaderAndNegativeIsClosed() throws {
        let (a, b) = try FD.socketPair(seqpacket: false)
        defer { FD.close(b) }
        let shared = SharedDescriptor(a)
        let inside = Latch(), finished = Latch()
        let readResult = Box()
        Thread.detachNewThread {
            readResult.count = shared.use { fd -> Int in
                inside.open()
                var byte: UInt8 = 0
                return read(fd, &byte, 1)
            }
            finished.open()
        }
        inside.wait()
        usleep(50_000)
        #expect(shared.shutdown(Int32(SHUT_RDWR)))
        finished.wait()
        #expect(readResult.count == 0)
        shared.close()
        #expect(!Self.isOpen(a))
        let none = SharedDescriptor(-1)
        #expect(none.isClosed && none.use { $0 } == nil)
    }
}

/// Results handed from a test thread (read after the thread signalled `finished`).
private final class Box: @unchecked Sendable {
    var value: Bool?
    var count: Int?
}

/// A one-shot gate for a test thread (a semaphore that stays open).
private final class Latch: @unchecked Sendable {
    private var semaphore = sem_t()
    init() { sem_init(&semaphore, 0, 0) }
    deinit { sem_destroy(&semaphore) }
    func open() { sem_post(&semaphore) }
    func wait() { while sem_wait(&semaphore) != 0 && errno == EINTR {} ; sem_post(&semaphore) }
}
