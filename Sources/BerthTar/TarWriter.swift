import BerthCore

/// A streaming tar writer into a sink closure: ustar headers, with a PAX extended header
/// (`x`) in front of an entry only when ustar cannot hold it — names or link names longer than
/// 100 bytes or not ASCII, user/group names longer than 32 bytes, sizes ≥ 8 GiB, uids/gids
/// ≥ 2²¹, times out of the octal range, sub-second mtimes (when `nanosecondTimes`), and xattrs
/// (`SCHILY.xattr.<name>`). Output is deterministic: PAX records are sorted by key and the PAX
/// entry itself carries no time or owner.
///
/// Use: `write(header:)`, then exactly `header.size` bytes through `write(data:)` (files only;
/// other kinds carry no data), … then `finish()` (two zero blocks).
public struct TarWriter {
    /// Receives the archive bytes; the buffer is only valid during the call.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private let sink: Sink
    /// Write PAX `mtime` with nanoseconds when a header has them (Docker truncates to seconds,
    /// so the default is off and sub-second times are dropped).
    public var nanosecondTimes: Bool
    private var remaining: Int64 = 0
    private var padding = 0
    private var currentName = ""
    private var finished = false
    /// Archive bytes written so far.
    public private(set) var bytesWritten: Int64 = 0

    private static let zeroBlock = [UInt8](repeating: 0, count: 1024)

    public init(nanosecondTimes: Bool = false, sink: @escaping Sink) {
        self.sink = sink
        self.nanosecondTimes = nanosecondTimes
    }

    /// Starts an entry. `extraPAXRecords` are added to the entry's PAX header as given (for
    /// records this type does not model, e.g. `atime`).
    public mutating func write(header h: TarHeader, extraPAXRecords: [String: [UInt8]] = [:]) throws {
        try checkEntryComplete()
        guard !finished else { throw BerthError(.internal, "tar writer: write after finish") }
        var pax = extraPAXRecords
        let carriesData: Bool
        switch h.kind {
        case .file, .other: carriesData = true
        default: carriesData = false
        }
        let size = carriesData ? h.size : 0
        guard size >= 0 else { throw BerthError.invalid("tar writer: negative size for \(h.name)") }

        var block = [UInt8](repeating: 0, count: 512)
        if !Self.put(h.name, into: &block, at: 0, length: 100) { pax["path"] = Array(h.name.utf8) }
        if !Self.put(h.linkName, into: &block, at: 157, length: 100) { pax["linkpath"] = Array(h.linkName.utf8) }
        if !Self.put(h.userName, into: &block, at: 265, length: 32) { pax["uname"] = Array(h.userName.utf8) }
        if !Self.put(h.groupName, into: &block, at: 297, length: 32) { pax["gname"] = Array(h.groupName.utf8) }
        Self.octal(Int64(h.mode & 0o7777), into: &block, at: 100, length: 8)
        if !Self.octal(h.uid, into: &block, at: 108, length: 8) { pax["uid"] = Array(String(h.uid).utf8) }
        if !Self.octal(h.gid, into: &block, at: 116, length: 8) { pax["gid"] = Array(String(h.gid).utf8) }
        if !Self.octal(size, into: &block, at: 124, length: 12) { pax["size"] = Array(String(size).utf8) }
        let fitsMtime = Self.octal(h.mtime, into: &block, at: 136, length: 12)
        if nanosecondTimes && h.mtimeNanoseconds > 0 && h.mtime >= 0 {
            var frac = String(h.mtimeNanoseconds)
            frac = String(repeating: "0", count: max(0, 9 - frac.count)) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            pax["mtime"] = Array("\(h.mtime).\(frac)".utf8)
        } else if !fitsMtime {
            pax["mtime"] = Array(String(h.mtime).utf8)
        }
        block[156] = Self.typeflag(h.kind)
        block.replaceSubrange(257..<265, with: Array("ustar\u{0}00".utf8))
        guard Self.octal(Int64(h.deviceMajor), into: &block, at: 329, length: 8),
              Self.octal(Int64(h.deviceMinor), into: &block, at: 337, length: 8) else {
            throw BerthError.unsupported("tar writer: device numbers of \(h.name) are too large")
        }
        for (key, value) in h.xattrs { pax["SCHILY.xattr." + key] = value }

        if !pax.isEmpty { try writePAX(pax, for: h.name) }
        Self.checksum(&block)
        try emit(block)
        remaining = size
        padding = Int((512 - size % 512) % 512)
        currentName = h.name
        if remaining == 0 { try pad() }
    }

    /// Writes data of the current entry; the total must not exceed the declared size.
    public mutating func write(data: UnsafeRawBufferPointer) throws {
        guard data.count > 0 else { return }
        guard Int64(data.count) <= remaining else {
            throw BerthError(.internal, "tar writer: \(currentName): more data than the declared size")
        }
        try sink(data)
        bytesWritten += Int64(data.count)
        remaining -= Int64(data.count)
        if remaining == 0 { try pad() }
    }

    /// Writes data of the current entry from an array.
    public mutating func write(data: [UInt8]) throws {
        try data.withUnsafeBytes { try write(data: $0) }
    }

    /// Ends the archive with two zero blocks. The last entry's data must be complete.
    public mutating func finish() throws {
        guard !finished else { return }
        try checkEntryComplete()
        try emit(Self.zeroBlock)
        finished = true
    }

    // MARK: internals

    private func checkEntryComplete() throws {
        if remaining > 0 {
            throw BerthError(.internal, "tar writer: \(currentName): \(remaining) bytes of data missing")
        }
    }

    private mutating func pad() throws {
        if padding > 0 {
            try Self.zeroBlock.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<padding])) }
            bytesWritten += Int64(padding)
            padding = 0
        }
    }

    private mutating func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try sink($0) }
        bytesWritten += Int64(bytes.count)
    }

    /// One PAX `x` entry with the records sorted by key.
    private mutating func writePAX(_ records: [String: [UInt8]], for name: String) throws {
        var data: [UInt8] = []
        for key in records.keys.sorted() {
            guard let value = records[key] else { continue }
            let body = 1 + key.utf8.count + 1 + value.count + 1   // " key=value\n"
            var length = body + 1
            while String(length).count + body != length { length = String(length).count + body }
            data += Array("\(length) \(key)=".utf8)
            data += value
            data.append(UInt8(ascii: "\n"))
        }
        // The PAX entry's own name, as Go writes it: dir/PaxHeaders.0/base, ASCII, ≤ 100 bytes.
        let parts = name.split(separator: "/", omittingEmptySubsequences: true)
        let base = parts.last.map(String.init) ?? "root"
        let dir = parts.dropLast().joined(separator: "/")
        var paxName = (dir.isEmpty ? "" : dir + "/") + "PaxHeaders.0/" + base
        paxName = String(decoding: paxName.utf8.map { $0 < 0x80 && $0 != 0 ? $0 : UInt8(ascii: "_") }.prefix(100), as: UTF8.self)
        var block = [UInt8](repeating: 0, count: 512)
        _ = Self.put(paxName, into: &block, at: 0, length: 100)
        Self.octal(0o644, into: &block, at: 100, length: 8)
        Self.octal(0, into: &block, at: 108, length: 8)
        Self.octal(0, into: &block, at: 116, length: 8)
        Self.octal(Int64(data.count), into: &block, at: 124, length: 12)
        Self.octal(0, into: &block, at: 136, length: 12)
        block[156] = UInt8(ascii: "x")
        block.replaceSubrange(257..<265, with: Array("ustar\u{0}00".utf8))
        Self.checksum(&block)
        try emit(block)
        try emit(data)
        let pad = (512 - data.count % 512) % 512
        if pad > 0 { try emit([UInt8](repeating: 0, count: pad)) }
    }

    /// Puts an ASCII string in a field; false (field gets a truncated ASCII copy) when it does
    /// not fit or is not ASCII, so the caller adds a PAX record.
    @discardableResult
    private static func put(_ s: String, into block: inout [UInt8], at start: Int, length: Int) -> Bool {
        let bytes = Array(s.utf8)
        let ascii = bytes.allSatisfy { $0 < 0x80 && $0 != 0 }
        var i = 0
        for b in bytes.prefix(length) {
            block[start + i] = b < 0x80 && b != 0 ? b : UInt8(ascii: "_")
            i += 1
        }
        return ascii && bytes.count <= length
    }

    /// An octal number with a NUL terminator; false (field left zero) when it does not fit.
    @discardableResult
    private static func octal(_ value: Int64, into block: inout [UInt8], at start: Int, length: Int) -> Bool {
        let digits = length - 1
        guard value >= 0, value < (Int64(1) << (3 * Int64(digits))) else { return false }
        var v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            block[start + i] = UInt8(ascii: "0") + UInt8(v & 7)
            v >>= 3
        }
        block[start + digits] = 0
        return true
    }

    private static func checksum(_ block: inout [UInt8]) {
        for i in 148..<156 { block[i] = UInt8(ascii: " ") }
        let sum = block.reduce(0) { $0 + Int64($1) }
        octal(sum, into: &block, at: 148, length: 7)   // six digits, NUL, then the space
        block[155] = UInt8(ascii: " ")
    }

    private static func typeflag(_ kind: TarHeader.Kind) -> UInt8 {
        switch kind {
        case .file: return UInt8(ascii: "0")
        case .hardLink: return UInt8(ascii: "1")
        case .symlink: return UInt8(ascii: "2")
        case .characterDevice: return UInt8(ascii: "3")
        case .blockDevice: return UInt8(ascii: "4")
        case .directory: return UInt8(ascii: "5")
        case .fifo: return UInt8(ascii: "6")
        case .other(let f): return f
        }
    }
}
