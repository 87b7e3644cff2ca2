import BerthTestSupport
import BerthArchive
import BerthCore
import CBerth
import Foundation
import Testing

/// A unique directory under /tmp, removed by `cleanup()` (call it in a `defer`).
final class TempDir {
    let path: String
    init(_ tag: String = "t") throws {
        let p = "/tmp/berth-archive-\(tag)-\(getpid())-\(UInt64.random(in: 0..<UInt64.max))"
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: false)
        path = p
    }
    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
    func sub(_ name: String) -> String { path + "/" + name }
}

/// Runs a program; returns stdout. Throws if it exits non-zero.
@discardableResult
func run(_ exe: String, _ args: [String], stdin: [UInt8]? = nil) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    let inPipe = Pipe()
    if stdin != nil { p.standardInput = inPipe }
    try p.run()
    if let stdin {
        // Writing in a thread-free way: small inputs only (tests), then close.
        inPipe.fileHandleForWriting.write(Data(stdin))
        try inPipe.fileHandleForWriting.close()
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExitReliably()
    guard p.terminationStatus == 0 else {
        throw BerthError(.internal, "\(exe) \(args.first ?? "") exited \(p.terminationStatus)")
    }
    return [UInt8](data)
}

/// Runs a Python snippet with `args`; returns stdout.
func python(_ script: String, _ args: [String] = [], stdin: [UInt8]? = nil) throws -> [UInt8] {
    try run("/usr/bin/env", ["python3", "-c", script] + args, stdin: stdin)
}

/// An archive built with `TarWriter`.
func makeTar(nanoseconds: Bool = false, _ body: (inout TarWriter) throws -> Void) throws -> [UInt8] {
    var out: [UInt8] = []
    var w = TarWriter(nanosecondTimes: nanoseconds) { out.append(contentsOf: $0) }
    try body(&w)
    try w.finish()
    return out
}

extension TarWriter {
    mutating func file(_ name: String, _ content: String, mode: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0,
                       mtime: Int64 = 1_700_000_000, xattrs: [String: [UInt8]] = [:]) throws {
        var h = TarHeader(name: name, kind: .file, mode: mode, size: Int64(content.utf8.count))
        h.uid = uid
        h.gid = gid
        h.mtime = mtime
        h.xattrs = xattrs
        try write(header: h)
        try write(data: Array(content.utf8))
    }
    mutating func dir(_ name: String, mode: UInt32 = 0o755, uid: Int64 = 0, gid: Int64 = 0, mtime: Int64 = 1_600_000_000) throws {
        var h = TarHeader(name: name, kind: .directory, mode: mode)
        h.uid = uid
        h.gid = gid
        h.mtime = mtime
        try write(header: h)
    }
    mutating func symlink(_ name: String, _ target: String) throws {
        var h = TarHeader(name: name, kind: .symlink, mode: 0o777)
        h.linkName = target
        h.mtime = 1_650_000_000
        try write(header: h)
    }
    mutating func hardlink(_ name: String, _ target: String) throws {
        var h = TarHeader(name: name, kind: .hardLink, mode: 0o644)
        h.linkName = target
        try write(header: h)
    }
}

/// Compresses with a CLI (`gzip`, `zstd`) through temp files.
func compressWithCLI(_ tool: String, _ bytes: [UInt8], args: [String] = []) throws -> [UInt8] {
    let dir = try TempDir("cli")
    defer { dir.cleanup() }
    let input = dir.sub("in")
    try Data(bytes).write(to: URL(fileURLWithPath: input))
    return try run("/usr/bin/env", [tool, "-c"] + args + [input])
}

/// Lists a tree as "path type" lines (sorted), not following symlinks.
func listTree(_ root: String) -> [String] {
    var out: [String] = []
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root) else { return [] }
    while let rel = e.nextObject() as? String {
        out.append(rel)
    }
    return out.sorted()
}

func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

func readText(_ path: String) -> String? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return String(decoding: d, as: UTF8.self)
}

func getXattr(_ path: String, _ name: String) -> [UInt8]? {
    let n = lgetxattr(path, name, nil, 0)
    guard n >= 0 else { return nil }
    var buf = [UInt8](repeating: 0, count: n)
    let m = buf.withUnsafeMutableBytes { lgetxattr(path, name, $0.baseAddress, n) }
    guard m >= 0 else { return nil }
    return Array(buf[0..<m])
}

/// Reads all decompressed bytes from a source (small chunks to exercise the edges).
func drain(_ src: DecompressingSource, chunk: Int = 7919) throws -> [UInt8] {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: chunk)
    while true {
        let n = try buf.withUnsafeMutableBytes { try src.read(into: $0) }
        if n == 0 { return out }
        out += buf[0..<n]
    }
}

/// A source over bytes in memory, handing out at most `step` bytes per call.
func memorySource(_ bytes: [UInt8], step: Int = Int.max) -> TarReader.Source {
    var pos = 0
    return { buffer in
        let n = min(buffer.count, bytes.count - pos, step)
        if n <= 0 { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<(pos + n)]))
        }
        pos += n
        return n
    }
}

/// Deterministic pseudo-random bytes (xorshift), compressible when `text`.
func pseudoRandom(_ count: Int, seed: UInt64 = 42, text: Bool = false) -> [UInt8] {
    var s = seed | 1
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        out[i] = text ? UInt8(ascii: "a") + UInt8(s % 6) : UInt8(truncatingIfNeeded: s)
    }
    return out
}
