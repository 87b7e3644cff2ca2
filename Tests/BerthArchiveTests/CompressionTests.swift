import BerthArchive
import BerthCore
import Foundation
import Testing

@Suite("compression")
struct CompressionTests {
    @Test func detectsByMagic() {
        #expect(Compression.detect(prefix: [0x1f, 0x8b, 8, 0]) == .gzip)
        #expect(Compression.detect(prefix: [0x28, 0xb5, 0x2f, 0xfd]) == .zstd)
        #expect(Compression.detect(prefix: [0x28, 0xb5, 0x2f]) == .none)
        #expect(Compression.detect(prefix: Array("ustar".utf8)) == .none)
        #expect(Compression.detect(prefix: []) == .none)
    }

    @Test(arguments: [1, 7919, 1 << 20])
    func gzipRoundTrip(chunk: Int) throws {
        let data = pseudoRandom(300_000, text: true) + pseudoRandom(200_000)
        var compressed: [UInt8] = []
        let gz = try GzipCompressor(level: 6) { compressed.append(contentsOf: $0) }
        try gz.write(Array(data[0..<1000]))
        try gz.write(Array(data[1000...]))
        try gz.finish()
        #expect(compressed.count < data.count)
        let src = try DecompressingSource(compression: .gzip, source: memorySource(compressed, step: 1000))
        #expect(try drain(src, chunk: chunk) == data)
        // The system gzip agrees.
        let dir = try TempDir("gz")
        defer { dir.cleanup() }
        try Data(compressed).write(to: URL(fileURLWithPath: dir.sub("x.gz")))
        #expect(try run("/usr/bin/env", ["gzip", "-dc", dir.sub("x.gz")]) == data)
    }

    @Test func gzipIsReproducible() throws {
        let data = pseudoRandom(50_000, text: true)
        func gz() throws -> [UInt8] {
            var out: [UInt8] = []
            let c = try GzipCompressor(level: 9) { out.append(contentsOf: $0) }
            try c.write(data)
            try c.finish()
            return out
        }
        let a = try gz()
        #expect(a == (try gz()))
        #expect(a[4..<8] == [0, 0, 0, 0])   // no mtime
    }

    @Test func readsGzipCLIOutputAndConcatenatedMembers() throws {
        let one = pseudoRandom(100_000, seed: 1, text: true)
        let two = pseudoRandom(70_000, seed: 2)
        let member1 = try compressWithCLI("gzip", one)
        let member2 = try compressWithCLI("gzip", two, args: ["-1"])
        let src = try DecompressingSource(compression: .gzip, source: memorySource(member1 + member2, step: 4096))
        #expect(try drain(src) == one + two)
        // An empty member in between is fine too.
        let empty = try compressWithCLI("gzip", [])
        let src2 = try DecompressingSource(compression: .gzip, source: memorySource(member1 + empty + member2))
        #expect(try drain(src2) == one + two)
    }

    @Test func truncatedGzipIsAnError() throws {
        let data = pseudoRandom(100_000, text: true)
        let full = try compressWithCLI("gzip", data)
        for cut in [0, 1, 5, 10, 100, full.count / 2, full.count - 8, full.count - 1] {
            let src = try DecompressingSource(compression: .gzip, source: memorySource(Array(full.prefix(cut))))
            do {
                _ = try drain(src)
                Issue.record("truncated at \(cut) accepted")
            } catch let e as BerthError {
                #expect(e.message.contains("unexpected end of gzip stream") || e.message.contains("invalid gzip data"), "\(e.message)")
            }
        }
    }

    @Test func corruptGzipIsAnError() throws {
        let data = pseudoRandom(100_000, text: true)
        var bad = try compressWithCLI("gzip", data)
        bad[bad.count / 2] ^= 0x55
        bad[bad.count / 2 + 1] ^= 0xaa
        let src = try DecompressingSource(compression: .gzip, source: memorySource(bad))
        #expect(throws: BerthError.self) { _ = try drain(src) }
        // Garbage after a member: an error, as in Go.
        let good = try compressWithCLI("gzip", data)
        let src2 = try DecompressingSource(compression: .gzip, source: memorySource(good + Array("garbage!".utf8)))
        do {
            _ = try drain(src2)
            Issue.record("trailing garbage accepted")
        } catch let e as BerthError {
            #expect(e.message.hasPrefix("invalid gzip data"), "\(e.message)")
        }
        // A wrong CRC in the trailer.
        var crc = good
        crc[crc.count - 6] ^= 1
        let src3 = try DecompressingSource(compression: .gzip, source: memorySource(crc))
        #expect(throws: BerthError.self) { _ = try drain(src3) }
    }

    @Test func seededGzipMutationsNeverHang() throws {
        let good = try compressWithCLI("gzip", pseudoRandom(20_000, text: true))
        var rng: UInt64 = 0xDEADBEEF
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        for _ in 0..<500 {
            var a = good
            for _ in 0..<(1 + Int(next() % 4)) { a[Int(next() % UInt64(a.count))] = UInt8(truncatingIfNeeded: next()) }
            if next() % 3 == 0 { a = Array(a.prefix(Int(next() % UInt64(a.count)))) }
            let src = try DecompressingSource(compression: .gzip, source: memorySource(a, step: 333))
            do { _ = try drain(src) } catch is BerthError {}
        }
    }

    @Test func zstdFromCLIAndBack() throws {
        let data = pseudoRandom(400_000, text: true) + pseudoRandom(100_000)
        let compressed = try compressWithCLI("zstd", data, args: ["-q", "-3"])
        let src = try DecompressingSource(compression: .zstd, source: memorySource(compressed, step: 5000))
        #expect(try drain(src) == data)
        // Our compressor, read back by us and by the CLI; two frames concatenated.
        var ours: [UInt8] = []
        let z = try ZstdCompressor(level: 3) { ours.append(contentsOf: $0) }
        try z.write(data)
        try z.finish()
        let src2 = try DecompressingSource(compression: .zstd, source: memorySource(ours + compressed))
        #expect(try drain(src2, chunk: 65536) == data + data)
        let dir = try TempDir("zst")
        defer { dir.cleanup() }
        try Data(ours).write(to: URL(fileURLWithPath: dir.sub("x.zst")))
        #expect(try run("/usr/bin/env", ["zstd", "-dcq", dir.sub("x.zst")]) == data)
    }

    @Test func truncatedOrCorruptZstdIsAnError() throws {
        let data = pseudoRandom(200_000, text: true)
        let full = try compressWithCLI("zstd", data, args: ["-q"])
        for cut in [0, 3, 10, full.count / 2, full.count - 1] {
            let src = try DecompressingSource(compression: .zstd, source: memorySource(Array(full.prefix(cut))))
            #expect(throws: BerthError.self, "cut \(cut)") { _ = try drain(src) }
        }
        var bad = full
        bad[full.count / 2] ^= 0xff
        bad[full.count / 2 + 3] ^= 0xff
        let src = try DecompressingSource(compression: .zstd, source: memorySource(bad))
        #expect(throws: BerthError.self) { _ = try drain(src) }
    }

    @Test func detectingSourceKeepsThePrefix() throws {
        let data = pseudoRandom(10_000, text: true)
        for (tool, expected) in [("gzip", Compression.gzip), ("zstd", .zstd)] {
            let src = try DecompressingSource(detecting: memorySource(try compressWithCLI(tool, data), step: 1))
            #expect(src.compression == expected)
            #expect(try drain(src) == data)
        }
        let plain = try DecompressingSource(detecting: memorySource(data, step: 3))
        #expect(plain.compression == .none)
        #expect(try drain(plain) == data)
        let tiny = try DecompressingSource(detecting: memorySource([1, 2]))
        #expect(try drain(tiny) == [1, 2])
    }
}
