import BerthCore
import NIOCore

/// A unicast, backpressured stream of byte chunks: a request body on the server, a response body
/// on the client, or the inbound side of a hijacked connection.
///
/// Chunks arrive as the peer sends them; the connection stops reading from the socket while the
/// consumer is behind, so iterating slowly never buffers an unbounded amount. Only one iterator
/// may be created. Iteration throws if the connection fails before the stream ends normally.
public struct HTTPBodyStream: AsyncSequence, Sendable {
    /// Each element is one chunk as read from the socket (no fixed size).
    public typealias Element = [UInt8]

    enum Storage: Sendable {
        case empty
        case bytes([UInt8])
        case producer(ChunkProducer)
    }

    let storage: Storage

    init(_ storage: Storage) {
        self.storage = storage
    }

    /// An empty body.
    public static var empty: HTTPBodyStream { HTTPBodyStream(.empty) }

    /// A body made of one in-memory chunk (handy for tests and for handlers calling handlers).
    public static func bytes(_ bytes: [UInt8]) -> HTTPBodyStream {
        bytes.isEmpty ? HTTPBodyStream(.empty) : HTTPBodyStream(.bytes(bytes))
    }

    /// Iterates the chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        enum State {
            case done
            case bytes([UInt8])
            case producer(ChunkProducer.AsyncIterator)
        }

        var state: State

        /// Returns the next chunk, or `nil` at the end of the body.
        public mutating func next() async throws -> [UInt8]? {
            switch state {
            case .done:
                return nil
            case .bytes(let bytes):
                state = .done
                return bytes
            case .producer(let iterator):
                guard let buffer = try await iterator.next() else {
                    state = .done
                    return nil
                }
                return Array(buffer.readableBytesView)
            }
        }
    }

    /// Makes the (single) iterator.
    public func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .empty: return AsyncIterator(state: .done)
        case .bytes(let bytes): return AsyncIterator(state: .bytes(bytes))
        case .producer(let producer): return AsyncIterator(state: .producer(producer.makeAsyncIterator()))
        }
    }

    /// Reads the whole stream into memory, failing with `BerthError.invalidArgument` once it
    /// exceeds `limit` bytes (the rest is not read).
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var result: [UInt8] = []
        for try await chunk in self {
            if result.count + chunk.count > limit {
                throw BerthError.invalid("body larger than \(limit) bytes")
            }
            if result.isEmpty {
                result = chunk
            } else {
                result.append(contentsOf: chunk)
            }
        }
        return result
    }
}
