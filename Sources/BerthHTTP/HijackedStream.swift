import NIOCore

/// A connection taken over from HTTP: raw bytes both ways (Docker's attach and exec).
///
/// `inbound` yields what the peer sends and ends when the peer half-closes (or closes) its
/// write side. ``closeWrite()`` half-closes ours: the peer sees end of stream but can keep
/// sending. ``close()`` closes both directions. The server closes the connection when the
/// hijack closure returns; a client must call ``close()`` when done.
public final class HijackedStream: Sendable {
    /// Bytes from the peer, backpressured; ends at the peer's half-close. Single consumer.
    public let inbound: HTTPBodyStream
    let channel: Channel

    init(channel: Channel, inbound: HTTPBodyStream) {
        self.channel = channel
        self.inbound = inbound
    }

    /// Sends `bytes` and waits until they were handed to the socket.
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Sends the UTF-8 bytes of `string`.
    public func write(_ string: String) async throws {
        try await write(Array(string.utf8))
    }

    /// Sends `buffer`.
    public func write(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer).get()
    }

    /// Half-closes our side (`shutdown(SHUT_WR)`): pending writes are flushed, then the peer
    /// reads end of stream. Reading goes on.
    public func closeWrite() async throws {
        try await channel.close(mode: .output).get()
    }

    /// Closes the connection both ways. Never throws; closing twice is fine.
    public func close() async {
        do {
            try await channel.close().get()
        } catch {
            // Already closed.
        }
    }
}
