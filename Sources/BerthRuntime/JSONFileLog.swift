#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Docker's json-file log format: one JSON object per line,
/// `{"log":"hello\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}`.
///
/// Output is split at newlines; a line longer than 16 KiB is written in 16 KiB pieces without
/// the trailing newline (Docker's partial messages), and whatever is left at EOF is written as is.
public final class JSONFileLog {
    static let maxLine = 16 * 1024
    let fd: Int32
    private var pending: [String: [UInt8]] = [:]

    /// Opens (or creates) the log for appending.
    public init(path: String) throws {
        fd = try FD.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
    }

    /// Adopts an open log descriptor (a re-exec'd monitor).
    init(fd: Int32) { self.fd = fd }

    deinit { FD.close(fd) }

    /// Adds output of a stream (`stdout` / `stderr`).
    public func append(_ bytes: ArraySlice<UInt8>, stream: String) {
        var buf = pending[stream] ?? []
        buf.append(contentsOf: bytes)
        var start = 0
        var i = 0
        while i < buf.count {
            if buf[i] == UInt8(ascii: "\n") {
                write(buf[start...i], stream: stream)
                start = i + 1
            } else if i - start + 1 >= JSONFileLog.maxLine {
                write(buf[start...i], stream: stream)
                start = i + 1
            }
            i += 1
        }
        pending[stream] = start == 0 ? buf : Array(buf[start...])
    }

    /// Writes what is left of every stream (at EOF).
    public func flush() {
        for (stream, buf) in pending where !buf.isEmpty { write(buf[...], stream: stream) }
        pending = [:]
    }

    private func write(_ line: ArraySlice<UInt8>, stream: String) {
        var record: [UInt8] = []
        record.reserveCapacity(line.count + 80)
        record.append(contentsOf: #"{"log":"#.utf8)
        record.append(contentsOf: JSON.serialize(.string(String(decoding: line, as: UTF8.self)), options: .escapeHTML))
        record.append(contentsOf: #","stream":""#.utf8)
        record.append(contentsOf: stream.utf8)
        record.append(contentsOf: #"","time":""#.utf8)
        record.append(contentsOf: WallClock.now().rfc3339Nano.utf8)
        record.append(contentsOf: "\"}\n".utf8)
        try? FD.writeAll(fd, record)
    }
}
