import BerthHTTP

/// A container's (or exec's) standard streams over a hijacked connection (attach, exec start).
///
/// `output` carries what the process writes: stdcopy frames (see ``StdcopyDemuxer``) unless the
/// process has a TTY, then raw bytes. It ends when the daemon closes its side (the process
/// exited, or the detach keys were typed). ``write(_:)`` feeds the process's stdin;
/// ``closeWrite()`` is its end of file. Call ``close()`` when done.
public final class AttachedStream: Sendable {
    let stream: HijackedStream
    /// The response's `Content-Type`: `application/vnd.docker.raw-stream` or
    /// `application/vnd.docker.multiplexed-stream` (API 1.42+; older daemons may send neither).
    public let contentType: String?

    init(stream: HijackedStream, contentType: String?) {
        self.stream = stream
        self.contentType = contentType
    }

    /// Whether the daemon said the stream is stdcopy-framed (nil: it did not say).
    public var isMultiplexed: Bool? {
        guard let t = contentType?.lowercased() else { return nil }
        if t.hasPrefix("application/vnd.docker.multiplexed-stream") { return true }
        if t.hasPrefix("application/vnd.docker.raw-stream") { return false }
        return nil
    }

    /// The process's output, as it arrives (single consumer).
    public var output: ByteStream { ByteStream(body: stream.inbound) }

    /// Sends `bytes` to the process's stdin.
    public func write(_ bytes: [UInt8]) async throws { try await stream.write(bytes) }

    /// Half-closes the connection: the process reads end of file on stdin.
    public func closeWrite() async throws { try await stream.closeWrite() }

    /// Closes the connection.
    public func close() async { await stream.close() }
}
