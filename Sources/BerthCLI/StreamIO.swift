import BerthAPI
import BerthClient
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Copies a hijacked attach/exec stream to and from the CLI's stdio (docker's
/// `hijackedIOStreamer`): output to stdout/stderr (demultiplexed unless the process has a TTY),
/// stdin to the stream with a half-close at end of file (or at once when stdin is not
/// attached), and the terminal in raw mode for `-it`, restored as soon as the stream ends.
struct StreamSession {
    let stream: AttachedStream
    /// The process has a TTY: output is raw bytes, stderr is merged into it.
    let tty: Bool
    /// Copy our stdin to the process.
    let stdin: Bool
    /// Write the process's stdout here (nil: drop it).
    var stdoutFD: Int32? = 1
    /// Write the process's stderr here (nil: drop it).
    var stderrFD: Int32? = 2
    /// The detach sequence (watched only with a TTY on a terminal; the daemon acts on it).
    var detachKeys: [UInt8] = [16, 17]

    /// How the stream ended.
    enum End {
        /// The daemon closed the stream (the process exited or closed its output).
        case closed
        /// The detach keys were typed: the process goes on.
        case detached
    }

    /// Runs until the daemon closes its side; returns how it ended.
    func run() async throws -> End {
        let raw = tty && stdin && isatty(0) == 1
        if raw { Terminal.makeRawInput() }
        defer { if raw { Terminal.restore() } }
        let watcher = DetachWatcher(keys: raw ? detachKeys : [])
        let stream = self.stream
        let input: Task<Void, Never>?
        if stdin {
            input = Task.detached {
                let source = FileSourceFD(fd: 0)
                do {
                    while let chunk = try await source.next() {
                        watcher.observe(chunk)
                        try await stream.write(chunk)
                    }
                } catch {
                    // The stream closed under us, or stdin failed: either way, stop sending.
                }
                try? await stream.closeWrite()
            }
        } else {
            input = nil
            try? await stream.closeWrite()
        }
        defer { input?.cancel() }

        var demuxer = StdcopyDemuxer()
        do {
            for try await chunk in stream.output {
                if tty {
                    if let fd = stdoutFD { try await Self.write(chunk, to: fd) }
                    continue
                }
                for frame in try demuxer.feed(chunk) {
                    let fd = frame.stream == StdStream.stderr ? stderrFD : stdoutFD
                    if let fd { try await Self.write(frame.payload, to: fd) }
                }
            }
        } catch let e as StdcopyDemuxer.FormatError {
            throw CLIError.message("error: \(e.description)")
        } catch let e as CLIError {
            throw e
        } catch {
            // A reset connection ends the session like a close (docker logs it at debug level).
        }
        return watcher.seen ? .detached : .closed
    }

    static func write(_ bytes: [UInt8], to fd: Int32) async throws {
        try await Blocking.run { try Output.write(bytes, to: fd) }
    }
}

/// Reads a file descriptor in chunks off the concurrency pool (stdin of attach/exec: a read
/// may block for as long as the user types nothing).
struct FileSourceFD: Sendable {
    let fd: Int32

    func next() async throws -> [UInt8]? {
        let fd = self.fd
        return try await Blocking.run {
            var buf = [UInt8](repeating: 0, count: 32 << 10)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CLIError.message("read error: \(String(cString: strerror(errno)))")
                }
                if n == 0 { return nil }
                buf.removeLast(buf.count - n)
                return buf
            }
        }
    }
}

/// Notices the detach sequence in what the user types (the daemon detaches on it and ends the
/// stream; this tells the CLI that the process did not exit).
final class DetachWatcher: Sendable {
    let keys: [UInt8]
    private let state = Mutex<(matched: Int, seen: Bool)>((0, false))

    init(keys: [UInt8]) { self.keys = keys }

    /// Feeds typed bytes.
    func observe(_ bytes: [UInt8]) {
        guard !keys.isEmpty else { return }
        state.withLock { s in
            for b in bytes where !s.seen {
                if b == keys[s.matched] {
                    s.matched += 1
                    if s.matched == keys.count { s.seen = true }
                } else {
                    s.matched = b == keys[0] ? 1 : 0
                }
            }
        }
    }

    /// Whether the whole sequence was typed.
    var seen: Bool { state.withLock { $0.seen } }
}
