import BerthCore
import CBerthCompress

/// A streaming gzip compressor (zlib `deflate` with a gzip wrapper) writing into a sink.
///
/// The gzip header carries no timestamp and no file name, so equal input and level give
/// byte-identical output (reproducible layer blobs and digests). Call `finish()` once at the
/// end; bytes written after it are an error.
public final class GzipCompressor {
    /// Receives compressed bytes; the buffer is only valid during the call.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private let sink: Sink
    // SAFETY: the z_stream lives on the heap because zlib keeps a pointer back to it.
    private let z: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false
    /// Uncompressed bytes accepted so far.
    public private(set) var bytesIn: Int64 = 0
    /// Compressed bytes emitted so far.
    public private(set) var bytesOut: Int64 = 0

    /// - Parameters:
    ///   - level: 0 (store) … 9 (best); -1 is zlib's default (6). 1 is fastest.
    ///   - bufferSize: the output buffer handed to `sink` (allocated once).
    public init(level: Int32 = 6, bufferSize: Int = 256 << 10, sink: @escaping Sink) throws {
        guard (-1...9).contains(level) else { throw BerthError.invalid("gzip: compression level \(level) is not in -1…9") }
        self.sink = sink
        z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        z.initialize(to: z_stream())
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bufferSize, 64), alignment: 16)
        // windowBits 15 + 16: a gzip wrapper with a zeroed header (no mtime, no name).
        let r = deflateInit2_(z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                              ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard r == Z_OK else {
            z.deallocate()
            output.deallocate()
            throw BerthError(.internal, "gzip: deflateInit failed (\(r))")
        }
    }

    deinit {
        deflateEnd(z)
        z.deinitialize(count: 1)
        z.deallocate()
        output.deallocate()
    }

    /// Compresses `bytes`, handing full output buffers to the sink.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw BerthError(.internal, "gzip: write after finish") }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            // SAFETY: deflate only reads next_in (zlib's API is not const-correct).
            z.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            z.pointee.avail_in = UInt32(chunk)
            repeat {
                try run(Z_NO_FLUSH)
            } while z.pointee.avail_in > 0
            offset += chunk
        }
        z.pointee.next_in = nil
        bytesIn += Int64(bytes.count)
    }

    /// Compresses an array of bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes everything and writes the gzip trailer (CRC32 and size).
    public func finish() throws {
        guard !finished else { return }
        finished = true
        z.pointee.next_in = nil
        z.pointee.avail_in = 0
        while try run(Z_FINISH) != Z_STREAM_END {}
    }

    /// One deflate call into the output buffer; emits what it produced.
    @discardableResult
    private func run(_ flush: Int32) throws -> Int32 {
        guard let outBase = output.baseAddress else { return Z_STREAM_END }
        // SAFETY: deflate writes at most avail_out bytes into `output`.
        z.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        z.pointee.avail_out = UInt32(output.count)
        let r = deflate(z, flush)
        guard r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR else {
            throw BerthError(.internal, "gzip: deflate returned \(r)")
        }
        let produced = output.count - Int(z.pointee.avail_out)
        if produced > 0 {
            bytesOut += Int64(produced)
            try sink(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
        }
        return r
    }
}
