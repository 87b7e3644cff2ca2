import BerthClient
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs blocking file I/O off the Swift concurrency pool (a read from a pipe may block for as
/// long as the writer likes).
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            DispatchQueue.global().async { c.resume(with: Result { try body() }) }
        }
    }
}

/// A file or stdin read in chunks, as a request body (never loaded whole).
final class FileSource: Sendable {
    let fd: Int32
    let ownsFD: Bool
    let chunkSize = 256 << 10

    /// Opens `path`, or uses stdin for nil or `-`.
    init(path: String?) throws {
        if let path, path != "-" {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CLIError.message("open \(path): \(String(cString: strerror(errno)).lowercased())") }
            self.fd = fd
            ownsFD = true
        } else {
            fd = 0
            ownsFD = false
        }
    }

    /// Reads an open descriptor (closed with the source).
    init(fd: Int32) {
        self.fd = fd
        ownsFD = true
    }

    deinit { if ownsFD { close(fd) } }

    /// The next chunk, nil at end of file.
    func next() async throws -> [UInt8]? {
        let fd = self.fd, size = chunkSize
        return try await Blocking.run {
            var buf = [UInt8](repeating: 0, count: size)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, size) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CLIError.message("read error: \(String(cString: strerror(errno)))")
                }
                if n == 0 { return nil }
                buf.removeLast(size - n)
                return buf
            }
        }
    }

    /// The source closure the client pulls from.
    var byteSource: ByteSource { { [self] in try await self.next() } }
}

/// Where `save` writes: stdout, or `FILE.tmp` renamed to `FILE` on success (removed on failure,
/// so a failed save leaves no partial file).
final class OutputFile: @unchecked Sendable {
    // @unchecked: the fd and paths are set once in init; `write`/`commit`/`abort` are called
    // sequentially by one task.
    let fd: Int32
    let path: String?
    let tempPath: String?
    /// Set once the temp file's descriptor is closed (commit and abort may both run).
    private var finished = false

    init(path: String?) throws {
        if let path, path != "-" {
            let temp = path + ".tmp"
            let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError.message("failed to save image: open \(temp): \(String(cString: strerror(errno)).lowercased())") }
            self.fd = fd
            self.path = path
            tempPath = temp
        } else {
            fd = 1
            self.path = nil
            tempPath = nil
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        let fd = self.fd
        try await Blocking.run { try Output.write(bytes, to: fd) }
    }

    /// Flushes and moves the temp file into place.
    func commit() throws {
        guard let path, let tempPath else { return }
        if fsync(fd) != 0 { let e = errno; abort(); throw CLIError.message("failed to save image: fsync: \(String(cString: strerror(e)))") }
        finished = true
        close(fd)
        if rename(tempPath, path) != 0 {
            let e = errno
            unlink(tempPath)
            throw CLIError.message("failed to save image: rename \(tempPath): \(String(cString: strerror(e)))")
        }
    }

    /// Removes the temp file.
    func abort() {
        guard let tempPath, !finished else { return }
        finished = true
        close(fd)
        unlink(tempPath)
    }
}
