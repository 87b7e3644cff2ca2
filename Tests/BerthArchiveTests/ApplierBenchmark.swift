import BerthArchive
import BerthCore
import BerthSystem
import Foundation
import Testing

/// Throughput of the applier (not a timed assertion): run with
/// `BERTH_ARCHIVE_BENCH=1 swift test -c release --filter ApplierBenchmark`.
@Suite("applier benchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["BERTH_ARCHIVE_BENCH"] != nil))
struct ApplierBenchmark {
    /// Where extracted trees go (`BERTH_ARCHIVE_BENCH_ROOT`, e.g. a tmpfs; default the temp dir).
    func rootDir(_ dir: TempDir, _ name: String) -> String {
        if let base = ProcessInfo.processInfo.environment["BERTH_ARCHIVE_BENCH_ROOT"] { return base + "/" + name }
        return dir.sub(name)
    }

    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Writes a tar to `path` straight from a TarWriter (file sink).
    func writeTar(_ path: String, _ body: (inout TarWriter) throws -> Void) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        var w = TarWriter { try FD.writeAll(fd, $0) }
        try body(&w)
        try w.finish()
    }

    func applyFile(_ tar: String, _ root: String, gzip: Bool = false) throws -> (LayerApplyStats, Double) {
        let fd = open(tar, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let fileSource: TarReader.Source = { buf in try FileAt.read(fd, into: buf, what: "tar") }
        let t0 = now()
        var reader: TarReader
        var keep: DecompressingSource?
        if gzip {
            let d = try DecompressingSource(compression: .gzip, source: fileSource)
            keep = d
            reader = TarReader(source: d.read)
        } else {
            reader = TarReader(source: fileSource)
        }
        let stats = try LayerApplier.apply(&reader, to: root)
        _ = keep
        return (stats, now() - t0)
    }

    @Test func bigFiles() throws {
        let dir = try TempDir("bench")
        defer { dir.cleanup() }
        let chunk = pseudoRandom(1 << 20)
        try writeTar(dir.sub("big.tar")) { w in
            for i in 0..<4 {
                try w.write(header: TarHeader(name: "data/blob\(i)", kind: .file, size: 256 << 20))
                for _ in 0..<256 { try w.write(data: chunk) }
            }
        }
        // Warm the page cache with the tar, then apply twice (second run reported too).
        _ = try run("/bin/sh", ["-c", "cat \"$0\" > /dev/null", dir.sub("big.tar")])
        for round in 0..<2 {
            let root = rootDir(dir, "root\(round)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
            let (stats, secs) = try applyFile(dir.sub("big.tar"), root)
            print("bench big files round \(round): \(stats.bytes >> 20) MiB in \(String(format: "%.3f", secs)) s = \(String(format: "%.0f", Double(stats.bytes) / secs / 1e6)) MB/s")
            try FileManager.default.removeItem(atPath: root)
        }
    }

    @Test func smallFiles() throws {
        let dir = try TempDir("bench")
        defer { dir.cleanup() }
        let content = pseudoRandom(2000, text: true)
        try writeTar(dir.sub("small.tar")) { w in
            for d in 0..<500 {
                try w.dir("usr/share/d\(d)")
                for f in 0..<100 {
                    var h = TarHeader(name: "usr/share/d\(d)/file\(f).txt", kind: .file, mode: 0o644, size: Int64(500 + f * 10))
                    h.mtime = 1_700_000_000
                    try w.write(header: h)
                    try w.write(data: Array(content.prefix(500 + f * 10)))
                }
            }
        }
        for round in 0..<2 {
            let root = rootDir(dir, "root\(round)")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
            let (stats, secs) = try applyFile(dir.sub("small.tar"), root)
            print("bench small files round \(round): \(stats.files) files, \(stats.bytes >> 20) MiB in \(String(format: "%.3f", secs)) s = \(String(format: "%.0f", Double(stats.files) / secs)) files/s, \(String(format: "%.0f", Double(stats.bytes) / secs / 1e6)) MB/s")
            try FileManager.default.removeItem(atPath: root)
        }
    }

    @Test func gzipEndToEnd() throws {
        let dir = try TempDir("bench")
        defer { dir.cleanup() }
        // Compressible-ish content (text), 256 MiB, gzip level 1 via our compressor.
        let chunk = pseudoRandom(1 << 20, text: true)
        let out = open(dir.sub("layer.tar.gz"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(out >= 0)
        let gz = try GzipCompressor(level: 1) { try FD.writeAll(out, $0) }
        var w = TarWriter { try gz.write($0) }
        for i in 0..<4 {
            try w.write(header: TarHeader(name: "blob\(i)", kind: .file, size: 64 << 20))
            for _ in 0..<64 { try w.write(data: chunk) }
        }
        try w.finish()
        try gz.finish()
        close(out)
        // Decompression alone.
        let fd = open(dir.sub("layer.tar.gz"), O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let d = try DecompressingSource(compression: .gzip, source: { try FileAt.read(fd, into: $0, what: "gz") })
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        let t0 = now()
        var total = 0
        while true { let n = try d.read(into: buf); if n == 0 { break }; total += n }
        let dt = now() - t0
        print("bench gunzip only: \(total >> 20) MiB in \(String(format: "%.3f", dt)) s = \(String(format: "%.0f", Double(total) / dt / 1e6)) MB/s")
        let root = rootDir(dir, "root")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (stats, secs) = try applyFile(dir.sub("layer.tar.gz"), root, gzip: true)
        print("bench gzip layer: \(stats.bytes >> 20) MiB uncompressed (\(gz.bytesOut >> 20) MiB gz) in \(String(format: "%.3f", secs)) s = \(String(format: "%.0f", Double(stats.bytes) / secs / 1e6)) MB/s")
    }
}
