import BerthCore
import CBerthCompress

/// A streaming decompressor that is itself a `TarReader.Source`: it pulls compressed bytes
/// from another source and hands out decompressed bytes, holding only a fixed input buffer.
///
/// - gzip: zlib `inflate` (gzip or zlib headers), concatenated members are read one after the
///   other as Go's gzip reader does (bytes after a member must start another valid member).
/// - zstd: `ZSTD_decompressStream`, concatenated and skippable frames included.
/// - none: bytes pass through.
///
/// Truncated or corrupt input is a `BerthError` ("unexpected end of gzip stream",
/// "invalid gzip data: …"); every call either makes progress or throws, so hostile input can
/// neither crash nor hang the reader.
///
/// Use: `var tar = TarReader(source: source.read)`. Not thread-safe (one reader at a time).
public final class DecompressingSource {
    /// The wrapped compressed source.
    public typealias Source = TarReader.Source

    /// The compression being undone.
    public let compression: Compression
    private let source: Source
    /// Compressed input; [inStart, inEnd) is not yet consumed.
    private let input: UnsafeMutableRawBufferPointer
    private var inStart = 0
    private var inEnd = 0
    private var inputEOF = false
    /// Total compressed bytes pulled from `source`.
    public private(set) var compressedBytesRead: Int64 = 0
    /// Total decompressed bytes handed out.
    public private(set) var bytesProduced: Int64 = 0

    // gzip state: the z_stream lives on the heap because zlib keeps a pointer back to it.
    private var zlib: UnsafeMutablePointer<z_stream>?
    private var atMemberBoundary = true
    private var sawMember = false
    // zstd state.
    private var zstd: OpaquePointer?
    private var zstdLastResult = 1
    private var sawFrame = false
    private var finished = false

    /// A decompressor of `compression` over `source`. `bufferSize` is the compressed input
    /// buffer (allocated once).
    public init(compression: Compression, source: @escaping Source, bufferSize: Int = 256 << 10) throws {
        self.compression = compression
        self.source = source
        self.input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bufferSize, 64), alignment: 16)
        switch compression {
        case .none:
            break
        case .gzip:
            let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            z.initialize(to: z_stream())
            // 15 + 32: 32 KiB window, gzip or zlib header detected automatically.
            let r = inflateInit2_(z, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard r == Z_OK else {
                z.deallocate()
                input.deallocate()
                throw BerthError(.internal, "gzip: inflateInit failed (\(r))")
            }
            zlib = z
        case .zstd:
            guard let d = ZSTD_createDCtx() else {
                input.deallocate()
                throw BerthError(.internal, "zstd: cannot create a decompression context")
            }
            zstd = d
        }
    }

    /// A decompressor that detects the compression from the first bytes of `source`
    /// (`Compression.detect`); those bytes are kept and decompressed, not lost.
    public convenience init(detecting source: @escaping Source, bufferSize: Int = 256 << 10) throws {
        var prefix = [UInt8](repeating: 0, count: Compression.magicLength)
        var filled = 0
        while filled < prefix.count {
            let n = try prefix.withUnsafeMutableBytes { b in
                try source(UnsafeMutableRawBufferPointer(rebasing: b[filled...]))
            }
            if n <= 0 { break }
            filled += n
        }
        let compression = Compression.detect(prefix: prefix[0..<filled])
        try self.init(compression: compression, source: source, bufferSize: bufferSize)
        prefix.withUnsafeBytes { p in
            // SAFETY: filled ≤ 4 ≤ input.count, both buffers valid for that many bytes.
            input.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[0..<filled]))
        }
        inEnd = filled
        compressedBytesRead = Int64(filled)
        if filled == 0 { inputEOF = true }
    }

    deinit {
        if let z = zlib {
            inflateEnd(z)
            z.deinitialize(count: 1)
            z.deallocate()
        }
        if let d = zstd { ZSTD_freeDCtx(d) }
        input.deallocate()
    }

    /// Reads decompressed bytes into `buffer`; returns 0 at the end of the stream.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0, !finished else { return 0 }
        let n: Int
        switch compression {
        case .none: n = try readPlain(buffer)
        case .gzip: n = try readGzip(buffer)
        case .zstd: n = try readZstd(buffer)
        }
        bytesProduced += Int64(n)
        return n
    }

    // MARK: internals

    /// Refills the input buffer if it is empty; sets `inputEOF` when the source is done.
    private func refill() throws {
        guard inStart == inEnd, !inputEOF else { return }
        inStart = 0
        inEnd = 0
        let n = try source(input)
        guard n > 0 else {
            inputEOF = true
            return
        }
        guard n <= input.count else { throw BerthError(.internal, "decompress: source returned more bytes than asked") }
        inEnd = n
        compressedBytesRead += Int64(n)
    }

    private func readPlain(_ out: UnsafeMutableRawBufferPointer) throws -> Int {
        if inStart < inEnd {
            let n = min(out.count, inEnd - inStart)
            // SAFETY: n bytes are available at input[inStart...] and fit in `out`.
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[inStart..<(inStart + n)]))
            inStart += n
            return n
        }
        if inputEOF { return 0 }
        let n = try source(out)
        if n <= 0 { inputEOF = true; return 0 }
        compressedBytesRead += Int64(n)
        return n
    }

    private func gzipTruncated() -> BerthError {
        BerthError(.corrupt, "unexpected end of gzip stream")
    }

    private func readGzip(_ out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let z = zlib, let outBase = out.baseAddress, let inBase = input.baseAddress else { return 0 }
        let outAvail = UInt32(clamping: out.count)
        // SAFETY: zlib writes at most avail_out bytes at next_out, which lie inside `out`.
        z.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = outAvail
        defer { z.pointee.next_out = nil; z.pointee.avail_out = 0 }
        while true {
            if inStart == inEnd { try refill() }
            if inStart == inEnd && inputEOF && atMemberBoundary {
                guard sawMember else { throw gzipTruncated() }
                finished = true
                return 0
            }
            let availIn = UInt32(inEnd - inStart)
            // SAFETY: [inStart, inEnd) lies inside `input`; zlib only reads it.
            z.pointee.next_in = (inBase + inStart).assumingMemoryBound(to: Bytef.self)
            z.pointee.avail_in = availIn
            let r = inflate(z, Z_NO_FLUSH)
            let consumed = Int(availIn - z.pointee.avail_in)
            inStart += consumed
            z.pointee.next_in = nil
            z.pointee.avail_in = 0
            let produced = Int(outAvail - z.pointee.avail_out)
            switch r {
            case Z_STREAM_END:
                atMemberBoundary = true
                sawMember = true
                guard inflateReset(z) == Z_OK else { throw BerthError(.internal, "gzip: inflateReset failed") }
                if produced > 0 { return produced }
            case Z_OK:
                if consumed > 0 { atMemberBoundary = false }
                if produced > 0 { return produced }
                if consumed == 0 { throw BerthError(.internal, "gzip: inflate made no progress") }
            case Z_BUF_ERROR:
                // No progress without more input.
                if produced > 0 { return produced }
                if inStart == inEnd && inputEOF { throw gzipTruncated() }
                if inStart < inEnd { throw BerthError(.corrupt, "invalid gzip data: no progress") }
            case Z_NEED_DICT:
                throw BerthError(.corrupt, "invalid gzip data: preset dictionary required")
            case Z_DATA_ERROR:
                let message = z.pointee.msg.map { String(cString: $0) } ?? "corrupt deflate stream"
                throw BerthError(.corrupt, "invalid gzip data: \(message)")
            case Z_MEM_ERROR:
                throw BerthError(.system, "gzip: out of memory")
            default:
                throw BerthError(.internal, "gzip: inflate returned \(r)")
            }
        }
    }

    private func readZstd(_ out: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let d = zstd, let inBase = input.baseAddress else { return 0 }
        while true {
            if inStart == inEnd { try refill() }
            if inStart == inEnd && inputEOF && sawFrame && zstdLastResult == 0 {
                // The last frame is decoded and flushed and no input is left.
                finished = true
                return 0
            }
            // SAFETY: zstd reads input[pos..<size] and writes at most out.count bytes into `out`.
            var inb = ZSTD_inBuffer(src: UnsafeRawPointer(inBase), size: inEnd, pos: inStart)
            var outb = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
            let r = ZSTD_decompressStream(d, &outb, &inb)
            if ZSTD_isError(r) != 0 {
                let name = ZSTD_getErrorName(r).map { String(cString: $0) } ?? "error \(r)"
                throw BerthError(.corrupt, "invalid zstd data: \(name.lowercased())")
            }
            let consumed = inb.pos - inStart
            inStart = inb.pos
            if consumed > 0 || outb.pos > 0 { zstdLastResult = r }
            if consumed > 0 { sawFrame = true }
            if outb.pos > 0 { return outb.pos }
            if inStart == inEnd && inputEOF {
                // A frame is complete only when zstd said 0 (decoded and flushed): checked at
                // the top of the loop. Here no progress is possible any more.
                if sawFrame && zstdLastResult == 0 { continue }
                throw BerthError(.corrupt, "unexpected end of zstd stream")
            }
            if consumed == 0 && inStart < inEnd {
                throw BerthError(.corrupt, "invalid zstd data: no progress")
            }
        }
    }
}

extension DecompressingSource {
    /// The bytes of `source` decompressed as `compression` says (`.none`: `source` itself).
    public static func decompressed(_ source: @escaping Source, _ compression: Compression) throws -> Source {
        if compression == .none { return source }
        let d = try DecompressingSource(compression: compression, source: source)
        return { try d.read(into: $0) }
    }

    /// Reads the first bytes of `source` to detect its compression, and returns it with a
    /// source of the decompressed stream (the bytes read to detect it are not lost).
    /// `sniffed` is how many bytes were read (0: the stream is empty).
    public static func detecting(_ source: @escaping Source) throws -> (compression: Compression, sniffed: Int, source: Source) {
        var head = [UInt8](repeating: 0, count: 8)
        var count = 0
        while count < head.count {
            let n = try head.withUnsafeMutableBytes { try source(UnsafeMutableRawBufferPointer(rebasing: $0[count...])) }
            if n == 0 { break }
            count += n
        }
        let compression = Compression.detect(prefix: head[0..<count])
        var offset = 0
        let replaying: Source = { buf in
            if offset < count {
                let n = min(buf.count, count - offset)
                head.withUnsafeBytes { src in
                    // SAFETY: n ≤ the sniffed bytes left and ≤ buf.count.
                    buf.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
                }
                offset += n
                return n
            }
            return try source(buf)
        }
        return (compression, count, try decompressed(replaying, compression))
    }
}
