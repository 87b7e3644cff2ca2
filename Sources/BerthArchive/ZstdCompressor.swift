import BerthCore
import CBerthCompress

/// A streaming zstd compressor (`ZSTD_compressStream2`) writing one frame into a sink.
/// Output is deterministic for equal input and level (single-threaded compression).
public final class ZstdCompressor {
    /// Receives compressed bytes; the buffer is only valid during the call.
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private let sink: Sink
    private let cctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// - Parameter level: zstd level (1 … 19; 3 is zstd's default).
    public init(level: Int32 = 3, sink: @escaping Sink) throws {
        guard let c = ZSTD_createCCtx() else { throw BerthError(.internal, "zstd: cannot create a compression context") }
        let r = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
        if ZSTD_isError(r) != 0 {
            ZSTD_freeCCtx(c)
            throw BerthError.invalid("zstd: invalid compression level \(level)")
        }
        self.cctx = c
        self.sink = sink
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        output.deallocate()
    }

    /// Compresses `bytes`, handing output to the sink as it is produced.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !finished else { throw BerthError(.internal, "zstd: write after finish") }
        guard bytes.count > 0 else { return }
        var inb = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while inb.pos < inb.size {
            _ = try run(&inb, ZSTD_e_continue)
        }
    }

    /// Compresses an array of bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Ends the frame and flushes everything.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        var inb = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try run(&inb, ZSTD_e_end) != 0 {}
    }

    private func run(_ inb: inout ZSTD_inBuffer, _ op: ZSTD_EndDirective) throws -> Int {
        // SAFETY: zstd writes at most output.count bytes into `output`.
        var outb = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let r = ZSTD_compressStream2(cctx, &outb, &inb, op)
        if ZSTD_isError(r) != 0 {
            let name = ZSTD_getErrorName(r).map { String(cString: $0) } ?? "error \(r)"
            throw BerthError(.internal, "zstd: \(name.lowercased())")
        }
        if outb.pos > 0 { try sink(UnsafeRawBufferPointer(rebasing: output[0..<outb.pos])) }
        return r
    }
}
