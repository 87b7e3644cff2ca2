import BerthTestSupport
import BerthArchive
import BerthCore
import Foundation
import Testing

/// Archives made by Python's tarfile (a second, independent implementation) in each format,
/// read back by `TarReader` and compared field by field.
@Suite("tar reader")
struct TarReaderTests {
    /// Runs a Python snippet that writes an archive to stdout (base64) and the expected entries
    /// as JSON to stderr... kept simple: the script prints a JSON object with both.
    func makeArchive(format: String) throws -> (archive: [UInt8], expected: [[String: Any]]) {
        let script = """
        import base64, io, json, sys, tarfile
        fmt = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}[sys.argv[1]]
        buf = io.BytesIO()
        entries = []
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            def add(info, data=None):
                t.addfile(info, io.BytesIO(data) if data is not None else None)
                entries.append({"name": info.name, "type": info.type.decode(), "mode": info.mode, "uid": info.uid,
                                "gid": info.gid, "size": info.size if info.isreg() else 0, "mtime": int(info.mtime),
                                "linkname": info.linkname, "uname": info.uname, "gname": info.gname,
                                "devmajor": info.devmajor, "devminor": info.devminor,
                                "data": base64.b64encode(data or b"").decode()})
            d = tarfile.TarInfo("etc"); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = 1700000000; add(d)
            f = tarfile.TarInfo("etc/hosts"); data = b"127.0.0.1 localhost\\n"; f.size = len(data); f.mode = 0o644
            f.uid = 1000; f.gid = 1000; f.uname = "user"; f.gname = "group"; f.mtime = 1700000001; add(f, data)
            big = tarfile.TarInfo("data/blob"); bdata = bytes(range(256)) * 41; big.size = len(bdata); add(big, bdata)
            s = tarfile.TarInfo("bin/sh"); s.type = tarfile.SYMTYPE; s.linkname = "/bin/busybox"; add(s)
            h = tarfile.TarInfo("bin/ls"); h.type = tarfile.LNKTYPE; h.linkname = "etc/hosts"; add(h)
            c = tarfile.TarInfo("dev/null"); c.type = tarfile.CHRTYPE; c.devmajor = 1; c.devminor = 3; c.mode = 0o666; add(c)
            p = tarfile.TarInfo("run/fifo"); p.type = tarfile.FIFOTYPE; add(p)
            if sys.argv[1] != "ustar":
                long = tarfile.TarInfo("deep/" + "x" * 150 + "/" + "y" * 120); ld = b"long"; long.size = len(ld); add(long, ld)
                ll = tarfile.TarInfo("link-to-long"); ll.type = tarfile.SYMTYPE; ll.linkname = "/" + "z" * 200; add(ll)
            else:
                pre = tarfile.TarInfo("p" * 90 + "/" + "q" * 90); pd = b"prefix"; pre.size = len(pd); add(pre, pd)
            e = tarfile.TarInfo("empty"); e.size = 0; add(e, b"")
        print(json.dumps({"archive": base64.b64encode(buf.getvalue()).decode(), "entries": entries}))
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, format]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExitReliably()
        try #require(p.terminationStatus == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let archive = try #require(Data(base64Encoded: obj["archive"] as? String ?? ""))
        return ([UInt8](archive), obj["entries"] as? [[String: Any]] ?? [])
    }

    func kindFlag(_ k: TarHeader.Kind) -> String {
        switch k {
        case .file: return "0"
        case .hardLink: return "1"
        case .symlink: return "2"
        case .characterDevice: return "3"
        case .blockDevice: return "4"
        case .directory: return "5"
        case .fifo: return "6"
        case .other(let f): return String(UnicodeScalar(f))
        }
    }

    @Test(arguments: ["ustar", "gnu", "pax"])
    func readsWhatPythonWrites(_ format: String) throws {
        let (archive, expected) = try makeArchive(format: format)
        var reader = TarReader(bytes: archive)
        var seen = 0
        while let h = try reader.next() {
            try #require(seen < expected.count, "more entries than written")
            let e = expected[seen]
            // Names come as stored: tarfile writes directories as "etc/" and reports "etc".
            #expect(h.name == e["name"] as? String || h.name == (e["name"] as? String ?? "") + "/", "\(h.name)")
            #expect(kindFlag(h.kind) == e["type"] as? String, "\(h.name)")
            #expect(Int(h.mode) == e["mode"] as? Int, "\(h.name)")
            #expect(Int(h.uid) == e["uid"] as? Int)
            #expect(Int(h.gid) == e["gid"] as? Int)
            #expect(Int(h.mtime) == e["mtime"] as? Int)
            #expect(h.linkName == e["linkname"] as? String, "\(h.name)")
            #expect(h.userName == e["uname"] as? String)
            #expect(Int(h.deviceMajor) == e["devmajor"] as? Int)
            #expect(Int(h.deviceMinor) == e["devminor"] as? Int)
            let data = try reader.readAll()
            #expect(data == [UInt8](Data(base64Encoded: e["data"] as? String ?? "") ?? Data()), "\(h.name)")
            seen += 1
        }
        #expect(seen == expected.count)
    }

    @Test func skipsUnreadData() throws {
        let (archive, expected) = try makeArchive(format: "pax")
        var reader = TarReader(bytes: archive)
        var names: [String] = []
        while let h = try reader.next() { names.append(h.name) }   // never reads data
        #expect(names.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } == expected.map { $0["name"] as? String ?? "" })
    }

    @Test func paxXattrsAndNanoseconds() throws {
        let script = """
        import base64, io, tarfile
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            i = tarfile.TarInfo("f"); i.size = 0
            i.pax_headers = {"SCHILY.xattr.security.capability": "\\x01\\x02", "mtime": "1700000000.123456789"}
            t.addfile(i, io.BytesIO(b""))
        print(base64.b64encode(buf.getvalue()).decode())
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExitReliably()
        let archive = try #require(Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)))
        var reader = TarReader(bytes: [UInt8](archive))
        let h = try #require(try reader.next())
        #expect(h.mtime == 1_700_000_000)
        #expect(h.mtimeNanoseconds == 123_456_789)
        #expect(h.xattrs["security.capability"] == [1, 2])
    }

    @Test func hostileHeadersFailCleanly() throws {
        let (archive, _) = try makeArchive(format: "gnu")
        // A flipped byte in the first header: checksum mismatch.
        var bad = archive
        bad[10] ^= 0xff
        var r1 = TarReader(bytes: bad)
        #expect(throws: BerthError.self) { _ = try r1.next() }
        // Truncated inside data.
        var r2 = TarReader(bytes: Array(archive[0..<(512 * 3 + 100)]))
        #expect(throws: BerthError.self) {
            while let _ = try r2.next() { _ = try r2.readAll() }
        }
        // A long-name entry claiming a huge size is refused before allocating.
        var header = [UInt8](repeating: 0, count: 512)
        Array("././@LongLink".utf8).enumerated().forEach { header[$0.offset] = $0.element }
        Array("77777777777".utf8).enumerated().forEach { header[124 + $0.offset] = $0.element }
        header[156] = UInt8(ascii: "L")
        for i in 148..<156 { header[i] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        Array(String(sum, radix: 8).utf8).enumerated().forEach { header[148 + $0.offset] = $0.element }
        header[148 + String(sum, radix: 8).count] = 0
        var r3 = TarReader(bytes: header + [UInt8](repeating: 0, count: 1024))
        do {
            _ = try r3.next()
            Issue.record("accepted a 8 GiB long name")
        } catch let e as BerthError {
            #expect(e.message.contains("too large"), "\(e.message)")
        }
    }

    /// Seeded mutations of a valid archive never crash the reader.
    @Test func fuzzNeverCrashes() throws {
        let (archive, _) = try makeArchive(format: "pax")
        var rng: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        for _ in 0..<3000 {
            var a = archive
            for _ in 0..<(1 + Int(next() % 8)) {
                let i = Int(next() % UInt64(a.count))
                a[i] = UInt8(truncatingIfNeeded: next())
            }
            if next() % 4 == 0 { a = Array(a.prefix(Int(next() % UInt64(a.count)))) }
            var r = TarReader(bytes: a)
            var entries = 0
            do {
                while let _ = try r.next(), entries < 1000 {
                    entries += 1
                    _ = try? r.readAll(limit: 1 << 20)
                }
            } catch is BerthError {
                // Expected for most mutations.
            }
        }
    }
}
