import BerthArchive
import BerthCore
import Foundation
import Testing

@Suite("tar writer")
struct TarWriterTests {
    func sampleHeaders() -> [(TarHeader, [UInt8])] {
        var out: [(TarHeader, [UInt8])] = []
        var d = TarHeader(name: "etc/", kind: .directory, mode: 0o755)
        d.mtime = 1_700_000_000
        out.append((d, []))
        var f = TarHeader(name: "etc/hosts", kind: .file, mode: 0o4755, size: 21)
        f.uid = 1000; f.gid = 1001; f.userName = "user"; f.groupName = "group"; f.mtime = 1_700_000_001
        out.append((f, Array("127.0.0.1 localhost\n\n".utf8)))
        var long = TarHeader(name: "deep/" + String(repeating: "x", count: 150) + "/" + String(repeating: "y", count: 120), kind: .file, size: 1000)
        long.xattrs = ["user.comment": Array("hello".utf8), "security.capability": [1, 0, 0, 2, 0xff, 0]]
        out.append((long, pseudoRandom(1000)))
        var uni = TarHeader(name: "données/résumé.txt", kind: .file, size: 3)
        uni.uid = 3_000_000   // > 2^21: PAX uid
        uni.gid = 70_000_000
        uni.userName = String(repeating: "u", count: 40)
        out.append((uni, [1, 2, 3]))
        var s = TarHeader(name: "bin/sh", kind: .symlink, mode: 0o777)
        s.linkName = "/" + String(repeating: "z", count: 200)
        out.append((s, []))
        var h = TarHeader(name: "bin/ls", kind: .hardLink)
        h.linkName = "etc/hosts"
        out.append((h, []))
        var c = TarHeader(name: "dev/null", kind: .characterDevice, mode: 0o666)
        c.deviceMajor = 1; c.deviceMinor = 3
        out.append((c, []))
        var b = TarHeader(name: "dev/sda", kind: .blockDevice, mode: 0o660)
        b.deviceMajor = 8; b.deviceMinor = 0
        out.append((b, []))
        out.append((TarHeader(name: "run/fifo", kind: .fifo, mode: 0o600), []))
        out.append((TarHeader(name: "empty", kind: .file, size: 0), []))
        var exact = TarHeader(name: "blockaligned", kind: .file, size: 1024)
        exact.mtime = 0
        out.append((exact, pseudoRandom(1024, seed: 9)))
        return out
    }

    func write(_ entries: [(TarHeader, [UInt8])], nanoseconds: Bool = false) throws -> [UInt8] {
        var out: [UInt8] = []
        var w = TarWriter(nanosecondTimes: nanoseconds) { out.append(contentsOf: $0) }
        for (h, data) in entries {
            try w.write(header: h)
            // In two pieces, to exercise partial writes.
            try w.write(data: Array(data.prefix(data.count / 2)))
            try w.write(data: Array(data.dropFirst(data.count / 2)))
        }
        try w.finish()
        #expect(Int64(out.count) == w.bytesWritten)
        #expect(out.count % 512 == 0)
        return out
    }

    @Test func roundTripsThroughTarReader() throws {
        let entries = sampleHeaders()
        var r = TarReader(bytes: try write(entries))
        for (h, data) in entries {
            let got = try #require(try r.next())
            #expect(got == h, "\(h.name)")
            #expect(try r.readAll() == data, "\(h.name)")
        }
        #expect(try r.next() == nil)
    }

    @Test func nanosecondTimesAreOptional() throws {
        var h = TarHeader(name: "f", kind: .file)
        h.mtime = 1_700_000_000
        h.mtimeNanoseconds = 123_456_700
        var r1 = TarReader(bytes: try write([(h, [])], nanoseconds: true))
        #expect(try r1.next()?.mtimeNanoseconds == 123_456_700)
        var r2 = TarReader(bytes: try write([(h, [])]))
        let plain = try #require(try r2.next())
        #expect(plain.mtimeNanoseconds == 0)
        #expect(plain.mtime == 1_700_000_000)
    }

    @Test func pythonReadsWhatWeWrite() throws {
        let archive = try write(sampleHeaders())
        let script = """
        import sys, tarfile, io, json, hashlib
        t = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()), mode="r:")
        out = []
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isreg() else b""
            out.append({"name": m.name, "type": m.type.decode(), "mode": m.mode, "uid": m.uid, "gid": m.gid,
                        "uname": m.uname, "linkname": m.linkname, "size": m.size, "mtime": int(m.mtime),
                        "devmajor": m.devmajor, "devminor": m.devminor, "sha": hashlib.sha256(data).hexdigest(),
                        "xattrs": sorted(k for k in m.pax_headers if k.startswith("SCHILY.xattr."))})
        print(json.dumps(out))
        """
        let json = try python(script, stdin: archive)
        let members = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [[String: Any]])
        let entries = sampleHeaders()
        #expect(members.count == entries.count)
        for (m, (h, data)) in zip(members, entries) {
            let name = h.name.hasSuffix("/") ? String(h.name.dropLast()) : h.name
            #expect(m["name"] as? String == name)
            #expect(m["mode"] as? Int == Int(h.mode))
            #expect(m["uid"] as? Int == Int(h.uid))
            #expect(m["gid"] as? Int == Int(h.gid))
            #expect(m["uname"] as? String == h.userName)
            #expect(m["linkname"] as? String == h.linkName)
            #expect(m["mtime"] as? Int == Int(h.mtime))
            #expect(m["devmajor"] as? Int == Int(h.deviceMajor))
            if h.kind == .file {
                let sha = try python("import sys,hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest(), end='')", stdin: data)
                #expect(m["sha"] as? String == String(decoding: sha, as: UTF8.self), "\(h.name)")
            }
            #expect(m["xattrs"] as? [String] == h.xattrs.keys.sorted().map { "SCHILY.xattr." + $0 })
        }
    }

    @Test func dataMustMatchTheDeclaredSize() throws {
        var w = TarWriter { _ in }
        try w.write(header: TarHeader(name: "f", kind: .file, size: 4))
        #expect(throws: BerthError.self) { try w.write(data: [1, 2, 3, 4, 5]) }
        try w.write(data: [1, 2])
        #expect(throws: BerthError.self) { try w.write(header: TarHeader(name: "g", kind: .file)) }
        #expect(throws: BerthError.self) { try w.finish() }
        try w.write(data: [3, 4])
        try w.finish()
    }

    @Test func bigSizesUsePAX() throws {
        // A header only: the reader must see the PAX size (12 GiB) even though no data follows.
        var out: [UInt8] = []
        var w = TarWriter { out.append(contentsOf: $0) }
        try w.write(header: TarHeader(name: "huge", kind: .file, size: 12 << 30))
        var r = TarReader(bytes: out)
        #expect(try r.next()?.size == 12 << 30)
    }
}
