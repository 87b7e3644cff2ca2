#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

extension ContainerService {
    /// `GET /containers/{id}/logs`: reads the json-file log the monitor writes and hands each
    /// entry to `emit` (which may wait: that is the backpressure). With `follow`, keeps reading
    /// as the file grows until the container stops running.
    public func logs(_ ref: String, options: LogOptions, emit: (LogEntry) async throws -> Void) async throws {
        let c = try get(ref)
        if let type = c.hostConfig.LogConfig?.Type, type == "none" {
            throw BerthError.invalid("configured logging driver does not support reading")
        }
        let path = logPath(c.id)
        let fd: Int32
        do { fd = try FD.open(path, O_RDONLY) } catch let e as BerthError where e.code == .notFound {
            if !options.follow { return }
            // Not started yet: nothing to read until it runs.
            return
        }
        defer { FD.close(fd) }
        var offset: off_t = 0
        if let tail = options.tail {
            if tail == 0 && !options.follow { return }
            offset = Self.tailOffset(fd: fd, lines: tail)
        }
        var reader = LogLineReader()
        var buffer = [UInt8](repeating: 0, count: 65536)
        let until = options.until
        var idleRounds = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BerthError.sys("read log of \(c.id)")
            }
            if n > 0 {
                offset += off_t(n)
                idleRounds = 0
                reader.append(buffer[0..<n])
                while let entry = reader.next() {
                    if entry.stream == 1 && !options.stdout || entry.stream == 2 && !options.stderr { continue }
                    if options.since != nil || until != nil, let t = WallClock(rfc3339: entry.time) {
                        let secs = Double(t.seconds) + Double(t.nanoseconds) / 1e9
                        if let s = options.since, secs < s { continue }
                        if let u = until, secs > u { return }
                    }
                    try await emit(entry)
                }
                continue
            }
            guard options.follow else { return }
            if let u = until, WallClock.now().seconds >= Int64(u) { return }
            let running = table.withLock { t -> Bool in
                guard let e = t.entries[c.id] else { return false }
                return e.container.state.isRunning || e.busy == "starting" || e.container.state.status == .created
            }
            if !running {
                // One more read after the exit: the monitor flushed before recording it.
                idleRounds += 1
                if idleRounds > 1 { return }
                continue
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// The offset of the last `lines` lines of the file.
    static func tailOffset(fd: Int32, lines: Int) -> off_t {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        var end = st.st_size
        var found = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        // The file ends with a newline; the one closing the last line doesn't start a line.
        var skipLast = true
        while end > 0 {
            let start = max(0, end - off_t(chunk.count))
            let len = Int(end - start)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, len, start) }
            if n <= 0 { return 0 }
            var i = n - 1
            while i >= 0 {
                if chunk[i] == 10 {
                    if skipLast { skipLast = false } else {
                        found += 1
                        if found == lines { return start + off_t(i) + 1 }
                    }
                }
                skipLast = false
                i -= 1
            }
            end = start
        }
        return 0
    }
}

/// Splits json-file log bytes into entries.
struct LogLineReader {
    var pending: [UInt8] = []
    var start = 0

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        if start > 0 {
            pending.removeSubrange(0..<start)
            start = 0
        }
        pending.append(contentsOf: bytes)
    }

    mutating func next() -> LogEntry? {
        while let nl = pending[start...].firstIndex(of: 10) {
            let line = pending[start..<nl]
            start = nl + 1
            if let e = Self.parse(line) { return e }
        }
        return nil
    }

    static func parse(_ line: ArraySlice<UInt8>) -> LogEntry? {
        guard let v = try? JSON.parse(Array(line)), case .object(let o) = v,
              case .string(let log)? = o["log"] else { return nil }
        var stream: UInt8 = 1
        if case .string(let s)? = o["stream"], s == "stderr" { stream = 2 }
        var time = ""
        if case .string(let t)? = o["time"] { time = t }
        return LogEntry(stream: stream, bytes: Array(log.utf8), time: time)
    }
}
