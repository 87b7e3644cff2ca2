import BerthCore

/// The protocol of a monitor's attach socket: how berthd (or any client) reaches a running
/// container's stdio, resizes its terminal and learns when it exits.
///
/// The socket is a `SOCK_STREAM` unix socket (`berth-init create --attach-socket PATH`), or an
/// already-connected stream socket handed to `berth-init exec --attach-fd N`. Both directions
/// carry frames of the same shape as Docker's stdcopy, so output frames can be forwarded to a
/// Docker client verbatim:
///
///     [kind u8][0][0][0][length u32 big-endian][length bytes of payload]
///
/// Client → monitor:
/// - ``Kind/stdin`` (0): bytes for the container's stdin. Ignored unless this client's hello
///   asked to send stdin, and when the container has no stdin to write (no `--keep-stdin` pipe
///   and no terminal held by the monitor).
/// - ``Kind/hello`` (3): one byte of ``HelloFlags``: which output streams the client wants and
///   whether it will send stdin. Until a client says hello it gets no output.
/// - ``Kind/stdinClosed`` (4): this client's stdin ended. With `--stdin-once` the container's
///   stdin pipe is closed (after what is pending is written); with a terminal nothing happens.
/// - ``Kind/resize`` (5): four bytes, rows u16 BE then cols u16 BE: the terminal's new size
///   (ignored without a terminal).
///
/// Monitor → client:
/// - ``Kind/stdout`` (1) and ``Kind/stderr`` (2): output, only of the streams the client asked
///   for. A terminal's output is all ``Kind/stdout``.
/// - ``Kind/exit`` (6): four bytes, the exit code as i32 BE (128 + signal when killed). Sent
///   after the exit record (`exit.json`) is written, just before the monitor closes every client.
///
/// Lifecycle: a client connects, says hello (or not: a client that never does gets nothing but
/// the exit frame and EOF, which is how berthd watches a container for its exit), exchanges
/// frames, and disconnects whenever it likes; disconnecting counts as ``Kind/stdinClosed``.
/// EOF from the monitor always means "the monitor is gone or closing": read `exit.json` for the
/// outcome (the exit frame may be missing if the monitor was killed).
///
/// Flow control: the monitor stops reading the container's output while any client has more
/// than ``maxPendingOutput`` bytes it has not taken yet (the container then blocks on a full
/// pipe, as with `docker attach`), and stops reading clients while the container's stdin has
/// not taken what was sent.
public enum AttachProtocol {
    /// Frame kinds.
    public enum Kind {
        /// Client → monitor: stdin bytes.
        public static let stdin: UInt8 = 0
        /// Monitor → client: stdout bytes (or a terminal's output).
        public static let stdout: UInt8 = 1
        /// Monitor → client: stderr bytes.
        public static let stderr: UInt8 = 2
        /// Client → monitor: one byte of ``HelloFlags``.
        public static let hello: UInt8 = 3
        /// Client → monitor: this client's stdin ended (no payload).
        public static let stdinClosed: UInt8 = 4
        /// Client → monitor: rows u16 BE, cols u16 BE.
        public static let resize: UInt8 = 5
        /// Monitor → client: exit code i32 BE, then the monitor closes the connection.
        public static let exit: UInt8 = 6
    }

    /// The flags byte of a hello frame.
    public struct HelloFlags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Send this client the container's stdout (or terminal output).
        public static let stdout = HelloFlags(rawValue: 0x01)
        /// Send this client the container's stderr.
        public static let stderr = HelloFlags(rawValue: 0x02)
        /// This client will send stdin (and its ``Kind/stdinClosed`` or disconnect counts for
        /// `--stdin-once`).
        public static let stdin = HelloFlags(rawValue: 0x04)
    }

    /// Bytes in a frame header.
    public static let headerSize = 8
    /// The largest payload a decoder accepts by default (1 MiB); larger frames are an error.
    public static let maxPayload = 1 << 20
    /// Output a monitor holds for one client before it stops reading the container (1 MiB).
    public static let maxPendingOutput = 1 << 20

    /// The 8-byte header of a frame with `length` bytes of payload.
    public static func header(kind: UInt8, length: Int) -> [UInt8] {
        let n = UInt32(truncatingIfNeeded: length)
        return [kind, 0, 0, 0, UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16),
                UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
    }

    /// A whole frame: header and payload.
    public static func frame(kind: UInt8, payload: some Collection<UInt8>) -> [UInt8] {
        var out = header(kind: kind, length: payload.count)
        out.reserveCapacity(headerSize + payload.count)
        out.append(contentsOf: payload)
        return out
    }

    /// A hello frame asking for the given streams.
    public static func hello(stdout: Bool, stderr: Bool, stdin: Bool) -> [UInt8] {
        var flags: HelloFlags = []
        if stdout { flags.insert(.stdout) }
        if stderr { flags.insert(.stderr) }
        if stdin { flags.insert(.stdin) }
        return frame(kind: Kind.hello, payload: [flags.rawValue])
    }

    /// A stdin frame.
    public static func stdin(_ bytes: some Collection<UInt8>) -> [UInt8] {
        frame(kind: Kind.stdin, payload: bytes)
    }

    /// The frame that says this client's stdin ended.
    public static func stdinClosed() -> [UInt8] { header(kind: Kind.stdinClosed, length: 0) }

    /// A resize frame.
    public static func resize(rows: UInt16, cols: UInt16) -> [UInt8] {
        frame(kind: Kind.resize, payload: [UInt8(rows >> 8), UInt8(rows & 0xFF), UInt8(cols >> 8), UInt8(cols & 0xFF)])
    }

    /// An exit frame.
    public static func exit(code: Int32) -> [UInt8] {
        let c = UInt32(bitPattern: code)
        return frame(kind: Kind.exit, payload: [UInt8(c >> 24), UInt8((c >> 16) & 0xFF), UInt8((c >> 8) & 0xFF), UInt8(c & 0xFF)])
    }

    /// The flags of a hello payload (empty payload: no flags).
    public static func helloFlags(_ payload: some Collection<UInt8>) -> HelloFlags {
        HelloFlags(rawValue: payload.first ?? 0)
    }

    /// The size in a resize payload; nil if it is not four bytes.
    public static func resizeSize(_ payload: [UInt8]) -> (rows: UInt16, cols: UInt16)? {
        guard payload.count == 4 else { return nil }
        return (UInt16(payload[0]) << 8 | UInt16(payload[1]), UInt16(payload[2]) << 8 | UInt16(payload[3]))
    }

    /// The exit code in an exit payload; nil if it is not four bytes.
    public static func exitCode(_ payload: [UInt8]) -> Int32? {
        guard payload.count == 4 else { return nil }
        return Int32(bitPattern: payload.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }
}

/// Splits a byte stream into attach frames (see ``AttachProtocol``). Feed it whatever arrived
/// with ``append(_:)``, then take whole frames with ``next()`` until it returns nil.
///
/// A frame whose payload is larger than the limit, or whose three padding bytes are not zero,
/// is an error (the stream cannot be trusted after it: close the connection).
public struct AttachFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var offset = 0
    /// The largest payload accepted.
    public let maxPayload: Int

    /// A decoder accepting payloads up to `maxPayload` bytes.
    public init(maxPayload: Int = AttachProtocol.maxPayload) { self.maxPayload = maxPayload }

    /// Bytes received but not yet returned as frames.
    public var buffered: Int { buffer.count - offset }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        if offset > 0 && (offset == buffer.count || offset >= 65536) {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, or nil if more bytes are needed.
    public mutating func next() throws -> (kind: UInt8, payload: [UInt8])? {
        guard buffer.count - offset >= AttachProtocol.headerSize else { return nil }
        let h = offset
        guard buffer[h + 1] == 0, buffer[h + 2] == 0, buffer[h + 3] == 0 else {
            throw BerthError(.invalidArgument, "attach stream: malformed frame header (kind \(buffer[h]))")
        }
        let length = Int(buffer[h + 4]) << 24 | Int(buffer[h + 5]) << 16 | Int(buffer[h + 6]) << 8 | Int(buffer[h + 7])
        guard length <= maxPayload else {
            throw BerthError(.invalidArgument, "attach stream: frame of \(length) bytes exceeds the limit of \(maxPayload)")
        }
        guard buffer.count - h - AttachProtocol.headerSize >= length else { return nil }
        let start = h + AttachProtocol.headerSize
        let frame = (kind: buffer[h], payload: Array(buffer[start..<(start + length)]))
        offset = start + length
        if offset == buffer.count {
            // Drop the storage once everything is consumed: an idle connection holds nothing.
            buffer = []
            offset = 0
        }
        return frame
    }
}
