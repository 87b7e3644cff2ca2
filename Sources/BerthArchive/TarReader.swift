import BerthCore

/// A streaming tar reader: ustar, GNU (long names `L`/`K`, base-256 numbers) and PAX (`x`, `g`)
/// headers, as Docker and OCI layers use them. It reads through a `source` closure, so it works
/// on a file, a pipe or a decompressor without holding the archive in memory.
///
/// Hostile input is the normal case: checksums are verified, numeric fields are parsed
/// strictly, metadata entries (long names, PAX records) are capped at `maxMetadataSize`, and
/// every malformed header is a `BerthError` naming the problem — never a crash or a huge
/// allocation.
public struct TarReader {
    /// Reads up to `count` bytes into the buffer at the given offset; returns 0 at EOF.
    public typealias Source = (_ buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// The largest long-name or PAX entry accepted.
    public static let maxMetadataSize: Int64 = 1 << 20

    private let source: Source
    private var remaining: Int64 = 0
    private var padding: Int64 = 0
    private var globalPAX: [String: [UInt8]] = [:]
    private var finished = false
    /// Bytes consumed so far (for error messages).
    public private(set) var offset: Int64 = 0

    public init(source: @escaping Source) { self.source = source }

    /// A reader over bytes in memory.
    public init(bytes: [UInt8]) {
        var position = 0
        self.init { buffer in
            let n = min(buffer.count, bytes.count - position)
            if n > 0 {
                bytes.withUnsafeBytes { src in
                    // SAFETY: n ≤ remaining bytes of `bytes` and ≤ buffer.count.
                    buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
                }
                position += n
            }
            return n
        }
    }

    /// The next entry's header, or nil at the end of the archive. Unread data of the previous
    /// entry is skipped.
    public mutating func next() throws -> TarHeader? {
        if finished { return nil }
        try skip(remaining + padding)
        remaining = 0
        padding = 0
        var longName: String?
        var longLink: String?
        var pax: [String: [UInt8]] = [:]
        while true {
            guard let block = try readBlock() else {
                // EOF without the two zero blocks: accepted (many writers stop early).
                finished = true
                return nil
            }
            if block.allSatisfy({ $0 == 0 }) {
                // End of archive (a second zero block may follow; nothing after it matters).
                finished = true
                return nil
            }
            try verifyChecksum(block)
            let flag = block[156]
            let size = try number(block, 124, 12, "size")
            guard size >= 0 else { throw corrupt("negative size") }
            switch flag {
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                let data = try readMetadata(size, what: flag == UInt8(ascii: "L") ? "GNU long name" : "GNU long link")
                let text = cString(data[...])
                if flag == UInt8(ascii: "L") { longName = text } else { longLink = text }
                continue
            case UInt8(ascii: "x"):
                pax.merge(try parsePAX(try readMetadata(size, what: "PAX header"))) { $1 }
                continue
            case UInt8(ascii: "g"):
                globalPAX.merge(try parsePAX(try readMetadata(size, what: "PAX global header"))) { $1 }
                continue
            default:
                break
            }
            var h = TarHeader(name: "", kind: TarHeader.Kind(flag: flag))
            var name = cString(block[0..<100])
            if block[257..<262].elementsEqual("ustar".utf8) {
                // POSIX ustar ("ustar\0") splits long names into prefix/name; GNU ("ustar ")
                // keeps other fields there.
                let prefix = cString(block[345..<500])
                if block[262] == 0 && !prefix.isEmpty { name = prefix + "/" + name }
                h.userName = cString(block[265..<297])
                h.groupName = cString(block[297..<329])
                h.deviceMajor = UInt32(clamping: try number(block, 329, 8, "devmajor"))
                h.deviceMinor = UInt32(clamping: try number(block, 337, 8, "devminor"))
            }
            h.name = name
            h.mode = UInt32(truncatingIfNeeded: try number(block, 100, 8, "mode")) & 0o7777
            h.uid = try number(block, 108, 8, "uid")
            h.gid = try number(block, 116, 8, "gid")
            h.size = size
            h.mtime = try number(block, 136, 12, "mtime")
            h.linkName = cString(block[157..<257])
            // Directories and links carry no data whatever their size field says (as GNU tar).
            if case .directory = h.kind { h.size = 0 }
            if h.kind == .symlink || h.kind == .hardLink { h.size = 0 }
            if let longName { h.name = longName }
            if let longLink { h.linkName = longLink }
            try apply(globalPAX.merging(pax) { $1 }, to: &h)
            remaining = h.size
            padding = (512 - h.size % 512) % 512
            return h
        }
    }

    /// Reads data of the current entry into `buffer`; returns 0 when the entry's data is done.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remaining > 0 else { return 0 }
        let want = Int(min(Int64(buffer.count), remaining))
        let n = try source(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
        if n == 0 { throw corrupt("archive truncated inside an entry's data") }
        remaining -= Int64(n)
        offset += Int64(n)
        return n
    }

    /// All data of the current entry (for small entries; capped by `limit`).
    public mutating func readAll(limit: Int64 = 64 << 20) throws -> [UInt8] {
        guard remaining <= limit else { throw BerthError.invalid("tar: entry of \(remaining) bytes is larger than \(limit)") }
        var out = [UInt8](repeating: 0, count: Int(remaining))
        var filled = 0
        while filled < out.count {
            let n = try out.withUnsafeMutableBytes { b in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: b[filled...]))
            }
            filled += n
        }
        return out
    }

    // MARK: internals

    private func corrupt(_ what: String) -> BerthError {
        BerthError(.invalidArgument, "invalid tar archive at byte \(offset): \(what)")
    }

    private mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try source(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        offset += Int64(filled)
        return filled
    }

    private mutating func readBlock() throws -> [UInt8]? {
        var block = [UInt8](repeating: 0, count: 512)
        let n = try block.withUnsafeMutableBytes { try fill($0) }
        if n == 0 { return nil }
        if n < 512 { throw corrupt("truncated header") }
        return block
    }

    private mutating func skip(_ count: Int64) throws {
        var left = count
        var scratch = [UInt8](repeating: 0, count: 16384)
        while left > 0 {
            let want = Int(min(left, Int64(scratch.count)))
            let n = try scratch.withUnsafeMutableBytes { try fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
            if n < want { throw corrupt("archive truncated inside an entry's data") }
            left -= Int64(n)
        }
    }

    private mutating func readMetadata(_ size: Int64, what: String) throws -> [UInt8] {
        guard size <= TarReader.maxMetadataSize else { throw corrupt("\(what) of \(size) bytes is too large") }
        var data = [UInt8](repeating: 0, count: Int(size))
        let n = try data.withUnsafeMutableBytes { try fill($0) }
        if n < data.count { throw corrupt("truncated \(what)") }
        try skip((512 - size % 512) % 512)
        return data
    }

    private func verifyChecksum(_ block: [UInt8]) throws {
        let stored = try number(block, 148, 8, "checksum")
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<512 {
            let b = (148..<156).contains(i) ? UInt8(ascii: " ") : block[i]
            unsigned += Int64(b)
            signed += Int64(Int8(bitPattern: b))
        }
        guard stored == unsigned || stored == signed else { throw corrupt("header checksum mismatch") }
    }

    /// An octal field (NUL/space terminated), or GNU base-256 when the high bit is set.
    private func number(_ block: [UInt8], _ start: Int, _ length: Int, _ field: String) throws -> Int64 {
        let f = block[start..<(start + length)]
        if let first = f.first, first & 0x80 != 0 {
            // Base-256: big-endian two's complement, first byte's high bit is the marker.
            var v: Int64 = (first & 0x40) != 0 ? -1 : 0
            for (i, b) in f.enumerated() {
                let byte = i == 0 ? (b & 0x7f) | ((first & 0x40) != 0 ? 0x80 : 0) : b
                guard v >> 55 == 0 || v >> 55 == -1 else { throw corrupt("\(field) out of range") }
                v = (v << 8) | Int64(byte)
            }
            return v
        }
        var v: Int64 = 0
        var seenDigit = false
        var ended = false
        for b in f {
            if b == 0 || b == UInt8(ascii: " ") {
                if seenDigit { ended = true }
                continue
            }
            guard !ended, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "7") else { throw corrupt("invalid \(field) field") }
            guard v < (Int64.max >> 3) else { throw corrupt("\(field) out of range") }
            v = v * 8 + Int64(b - UInt8(ascii: "0"))
            seenDigit = true
        }
        return v
    }

    private func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }

    /// PAX records: `"%d %s=%s\n"`, the length counting the whole record. Values stay bytes
    /// (xattr values may be binary).
    private func parsePAX(_ data: [UInt8]) throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")),
                  let len = Int(String(decoding: data[i..<space], as: UTF8.self)), len > space - i + 2,
                  i + len <= data.count, data[i + len - 1] == UInt8(ascii: "\n") else {
                throw corrupt("malformed PAX record")
            }
            let record = data[(space + 1)..<(i + len - 1)]
            guard let eq = record.firstIndex(of: UInt8(ascii: "=")) else { throw corrupt("malformed PAX record") }
            let key = String(decoding: record[record.startIndex..<eq], as: UTF8.self)
            out[key] = Array(record[(eq + 1)...])
            i += len
        }
        return out
    }

    private func apply(_ records: [String: [UInt8]], to h: inout TarHeader) throws {
        for (key, raw) in records {
            let value = String(decoding: raw, as: UTF8.self)
            switch key {
            case "path": h.name = value
            case "linkpath": h.linkName = value
            case "size":
                guard let s = Int64(value), s >= 0 else { throw corrupt("invalid PAX size") }
                h.size = s
            case "uid":
                guard let v = Int64(value) else { throw corrupt("invalid PAX uid") }
                h.uid = v
            case "gid":
                guard let v = Int64(value) else { throw corrupt("invalid PAX gid") }
                h.gid = v
            case "uname": h.userName = value
            case "gname": h.groupName = value
            case "mtime":
                let parts = value.split(separator: ".", maxSplits: 1)
                guard let s = Int64(parts[0]) else { throw corrupt("invalid PAX mtime") }
                h.mtime = s
                if parts.count == 2 {
                    var frac = String(parts[1].prefix(9))
                    while frac.count < 9 { frac += "0" }
                    guard let n = Int32(frac), n >= 0 else { throw corrupt("invalid PAX mtime") }
                    h.mtimeNanoseconds = n
                }
            default:
                if key.hasPrefix("SCHILY.xattr.") {
                    h.xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = raw
                } else if key.hasPrefix("GNU.sparse.") {
                    // A PAX-format GNU sparse file (0.x or 1.0): its data is a sparse map plus
                    // fragments, not the file. Reported as type 'S' so consumers reject it.
                    h.kind = .other(UInt8(ascii: "S"))
                }
            }
        }
    }
}
