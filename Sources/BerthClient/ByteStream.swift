import BerthHTTP

/// A response body as it arrives: chunks of bytes, single consumer, backpressured (the
/// connection stops reading while the consumer is behind).
public struct ByteStream: AsyncSequence, Sendable {
    /// One chunk as read from the socket.
    public typealias Element = [UInt8]

    let body: HTTPBodyStream

    /// Iterates the chunks.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPBodyStream.AsyncIterator

        /// The next chunk, or nil at the end of the body.
        public mutating func next() async throws -> [UInt8]? { try await base.next() }
    }

    /// Makes the (single) iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator()) }
}

/// A stream of newline-delimited JSON documents (a JSON progress stream, `/events`), decoded
/// one by one as they arrive.
public struct JSONLineStream<Element: Decodable & Sendable>: AsyncSequence, Sendable {
    let body: HTTPBodyStream
    let decode: @Sendable ([UInt8]) throws -> Element

    /// Iterates the decoded documents.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPBodyStream.AsyncIterator
        let decode: @Sendable ([UInt8]) throws -> Element
        var buffer: [UInt8] = []
        var start = 0
        var finished = false

        /// The next document, or nil at the end of the stream.
        public mutating func next() async throws -> Element? {
            while true {
                if let nl = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(buffer[start..<nl])
                    start = nl + 1
                    if start > 65536 { buffer.removeFirst(start); start = 0 }
                    if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                    return try decode(line)
                }
                if finished {
                    let rest = Array(buffer[start...])
                    buffer = []
                    start = 0
                    if rest.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { return nil }
                    return try decode(rest)
                }
                if let chunk = try await base.next() {
                    buffer.append(contentsOf: chunk)
                } else {
                    finished = true
                }
            }
        }
    }

    /// Makes the (single) iterator.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: body.makeAsyncIterator(), decode: decode) }
}

/// Supplies a streamed request body: returns the next chunk, or nil at the end. Called
/// repeatedly until it returns nil or throws (which aborts the request).
public typealias ByteSource = @Sendable () async throws -> [UInt8]?
