import NIOCore
import NIOHTTP1

/// Writes the chunks of a streaming body: a server's chunked response or a client's
/// streamed request body.
///
/// Each write is flushed immediately and completes once the bytes were handed to the socket,
/// which is the backpressure: a slow peer slows the writer down. Writes throw once the
/// connection is gone.
public struct HTTPBodyWriter: Sendable {
    enum Side: Sendable {
        case server
        case client
    }

    let channel: Channel
    let side: Side

    /// Sends `bytes` as one chunk (an empty array is a no-op: it would end a chunked body).
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        try await write(channel.allocator.buffer(bytes: bytes))
    }

    /// Sends the UTF-8 bytes of `string` as one chunk.
    public func write(_ string: String) async throws {
        try await write(Array(string.utf8))
    }

    /// Sends `buffer` as one chunk.
    public func write(_ buffer: ByteBuffer) async throws {
        if buffer.readableBytes == 0 { return }
        try Task.checkCancellation()
        switch side {
        case .server:
            try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(buffer))).get()
        case .client:
            try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(buffer))).get()
        }
    }
}
