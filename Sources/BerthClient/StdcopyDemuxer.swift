import BerthAPI

/// Splits Docker's multiplexed stream (stdcopy: an 8-byte header `[stream, 0, 0, 0, size u32
/// BE]` then `size` bytes) back into stdout and stderr payloads, whatever the chunking.
///
/// Feed chunks as they arrive; complete frames come out in order. Frames for stdin (0) are
/// treated as stdout, as Docker's `StdCopy` does; an unknown stream number is an error. At the
/// end, ``finish()`` reports a truncated frame.
public struct StdcopyDemuxer: Sendable {
    /// One payload and where it goes.
    public struct Frame: Sendable, Equatable {
        /// ``StdStream/stdout`` or ``StdStream/stderr``.
        public var stream: UInt8
        public var payload: [UInt8]
        public init(stream: UInt8, payload: [UInt8]) { self.stream = stream; self.payload = payload }
    }

    /// A malformed stream.
    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    var buffer: [UInt8] = []
    var start = 0

    public init() {}

    /// Adds `chunk` and returns the frames it completed.
    public mutating func feed(_ chunk: some Collection<UInt8>) throws -> [Frame] {
        buffer.append(contentsOf: chunk)
        var frames: [Frame] = []
        while buffer.count - start >= 8 {
            let s = buffer[start]
            let size = Int(buffer[start + 4]) << 24 | Int(buffer[start + 5]) << 16 | Int(buffer[start + 6]) << 8 | Int(buffer[start + 7])
            guard buffer.count - start - 8 >= size else { break }
            let stream: UInt8
            switch s {
            case StdStream.stdin, StdStream.stdout: stream = StdStream.stdout
            case StdStream.stderr: stream = StdStream.stderr
            case 3:
                // Docker's systemErr stream: the daemon reports an error in-band.
                let message = String(decoding: buffer[(start + 8)..<(start + 8 + size)], as: UTF8.self)
                throw FormatError(description: message)
            default:
                throw FormatError(description: "unrecognized input header: \(s)")
            }
            frames.append(Frame(stream: stream, payload: Array(buffer[(start + 8)..<(start + 8 + size)])))
            start += 8 + size
        }
        if start > 0 && (start >= 1 << 16 || start == buffer.count) {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }

    /// Whether bytes of an incomplete frame are left.
    public var hasPartialFrame: Bool { buffer.count > start }

    /// Throws if the stream ended inside a frame.
    public func finish() throws {
        if hasPartialFrame { throw FormatError(description: "unexpected EOF in a multiplexed stream") }
    }
}
