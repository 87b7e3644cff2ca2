import BerthArchive
import BerthCore
import CBerth
import Foundation
import Testing

/// A sandbox: `<dir>/root` is the extraction root, `<dir>/sentinel` a file that must never
/// change, and nothing else may appear in `<dir>` (or at the unique name in /tmp).
struct Sandbox {
    let dir: TempDir
    var root: String { dir.sub("root") }
    var sentinel: String { dir.sub("sentinel") }
    let escapeName = "berth-escape-\(UInt64.random(in: 0..<UInt64.max))"

    init() throws {
        dir = try TempDir("apply")
        try FileManager.default.createDirectory(atPath: dir.sub("root"), withIntermediateDirectories: false)
        try Data("sentinel".utf8).write(to: URL(fileURLWithPath: dir.sub("sentinel")))
    }

    @discardableResult
    func apply(_ archive: [UInt8], options: LayerApplyOptions = .init()) throws -> LayerApplyStats {
        var r = TarReader(bytes: archive)
        return try LayerApplier.apply(&r, to: root, options: options)
    }

    /// Nothing escaped: the sentinel is intact, nothing new beside `root`, nothing in /tmp.
    func checkContained(_ comment: Comment? = nil) {
        #expect(readText(sentinel) == "sentinel", comment)
        let siblings = (try? FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()) ?? []
        #expect(siblings == ["root", "sentinel"], comment)
        #expect(lstatOf("/tmp/" + escapeName) == nil, comment)
        #expect(lstatOf("/" + escapeName) == nil, comment)
    }
}

@Suite("layer applier", .serialized)
struct LayerApplierTests {
    @Test func appliesANormalLayer() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar(nanoseconds: true) { w in
            try w.dir("./etc/", mode: 0o755, mtime: 1_500_000_000)
            try w.file("./etc/passwd", "root:x:0:0\n", mode: 0o644, uid: 0, gid: 0)
            try w.file("etc/owned", "x", mode: 0o640, uid: 1234, gid: 5678, mtime: 1_600_000_123)
            try w.file("usr/bin/su", "suid", mode: 0o4755, uid: 0, gid: 0)
            try w.dir("tmp", mode: 0o1777)
            try w.file("sgid", "g", mode: 0o2755, uid: 10, gid: 20)
            try w.file("xattr", "x", xattrs: ["user.comment": Array("hi".utf8), "trusted.overlay.opaque": Array("y".utf8)])
            try w.symlink("bin", "usr/bin")
            try w.symlink("abs", "/etc/passwd")
            try w.hardlink("etc/passwd-link", "etc/passwd")
            var fifo = TarHeader(name: "run/fifo", kind: .fifo, mode: 0o620)
            fifo.mtime = 1_234_567_890
            try w.write(header: fifo)
            var null = TarHeader(name: "dev/null", kind: .characterDevice, mode: 0o666)
            null.deviceMajor = 1; null.deviceMinor = 3
            try w.write(header: null)
            var blk = TarHeader(name: "dev/loop9", kind: .blockDevice, mode: 0o660)
            blk.deviceMajor = 7; blk.deviceMinor = 9
            try w.write(header: blk)
            var big = TarHeader(name: "big", kind: .file, size: 3 << 20)
            big.mtime = 1_700_000_000
            big.mtimeNanoseconds = 500
            try w.write(header: big)
            try w.write(data: pseudoRandom(3 << 20))
        }
        let stats = try sb.apply(archive)
        #expect(stats.entries == 14)
        #expect(stats.files == 6)
        let expectedBytes: Int64 = 18 + (3 << 20)
        #expect(stats.bytes == expectedBytes)
        let root = sb.root
        #expect(readText(root + "/etc/passwd") == "root:x:0:0\n")
        let owned = try #require(lstatOf(root + "/etc/owned"))
        #expect(owned.st_uid == 1234 && owned.st_gid == 5678)
        #expect(owned.st_mode & 0o7777 == 0o640)
        #expect(owned.st_mtim.tv_sec == 1_600_000_123)
        #expect(try #require(lstatOf(root + "/usr/bin/su")).st_mode & 0o7777 == 0o4755)
        #expect(try #require(lstatOf(root + "/sgid")).st_mode & 0o7777 == 0o2755)
        #expect(try #require(lstatOf(root + "/tmp")).st_mode & 0o7777 == 0o1777)
        let etc = try #require(lstatOf(root + "/etc"))
        #expect(etc.st_mtim.tv_sec == 1_500_000_000)   // set after its children
        #expect(getXattr(root + "/xattr", "user.comment") == Array("hi".utf8))
        #expect(getXattr(root + "/xattr", "trusted.overlay.opaque") == nil)   // never from a tar
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/bin") == "usr/bin")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/abs") == "/etc/passwd")
        #expect(try #require(lstatOf(root + "/abs")).st_mtim.tv_sec == 1_650_000_000)
        let a = try #require(lstatOf(root + "/etc/passwd")), b = try #require(lstatOf(root + "/etc/passwd-link"))
        #expect(a.st_ino == b.st_ino && a.st_nlink == 2)
        let fifo = try #require(lstatOf(root + "/run/fifo"))
        #expect(fifo.st_mode & 0o170000 == 0o010000 && fifo.st_mode & 0o7777 == 0o620)
        #expect(fifo.st_mtim.tv_sec == 1_234_567_890)
        let null = try #require(lstatOf(root + "/dev/null"))
        #expect(null.st_mode & 0o170000 == 0o020000 && null.st_rdev == berth_makedev(1, 3))
        let blk = try #require(lstatOf(root + "/dev/loop9"))
        #expect(blk.st_mode & 0o170000 == 0o060000 && blk.st_rdev == berth_makedev(7, 9))
        let big = try #require(lstatOf(root + "/big"))
        #expect(big.st_size == 3 << 20 && big.st_mtim.tv_nsec == 500)
        #expect(FileManager.default.contents(atPath: root + "/big") == Data(pseudoRandom(3 << 20)))
        sb.checkContained()
    }

    @Test func devicesAreSkippedInAUserNamespace() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in
            var null = TarHeader(name: "dev/null", kind: .characterDevice, mode: 0o666)
            null.deviceMajor = 1; null.deviceMinor = 3
            try w.write(header: null)
            try w.write(header: TarHeader(name: "fifo", kind: .fifo))
        }
        let stats = try sb.apply(archive, options: .init(inUserNamespace: true))
        #expect(stats.skippedDevices == 1)
        #expect(lstatOf(sb.root + "/dev/null") == nil)
        #expect(lstatOf(sb.root + "/fifo") != nil)
    }

    @Test func idMapShiftsOwners() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in try w.file("f", "x", uid: 5, gid: 6) }
        try sb.apply(archive, options: .init(idMap: .init(uid: 100_000, gid: 200_000)))
        let st = try #require(lstatOf(sb.root + "/f"))
        #expect(st.st_uid == 100_005 && st.st_gid == 200_006)
    }

    @Test func whiteoutsAndOpaqueDirectories() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in
            try w.dir("etc")
            try w.file("etc/.wh.passwd", "", uid: 7, gid: 8)
            try w.file("gone/deeper/.wh.file", "")   // parents created
            try w.dir("opaque")
            try w.file("opaque/.wh..wh..opq", "")
            try w.file("opaque/kept", "k")
            try w.file("implied/.wh..wh..opq", "")    // directory created for the marker
            try w.file(".wh..wh.plnk", "")             // aufs metadata: ignored
            try w.file("etc/.wh..wh.aufs", "")
            try w.file("replaced", "old")
            try w.file(".wh.replaced", "")            // a whiteout replaces an earlier entry
        }
        let stats = try sb.apply(archive)
        #expect(stats.whiteouts == 3)
        #expect(stats.opaqueDirectories == 2)
        for path in ["etc/passwd", "gone/deeper/file", "replaced"] {
            let st = try #require(lstatOf(sb.root + "/" + path), "\(path)")
            #expect(st.st_mode & 0o170000 == 0o020000 && st.st_rdev == 0, "\(path)")
        }
        #expect(try #require(lstatOf(sb.root + "/etc/passwd")).st_uid == 7)
        #expect(getXattr(sb.root + "/opaque", "trusted.overlay.opaque") == Array("y".utf8))
        #expect(getXattr(sb.root + "/implied", "trusted.overlay.opaque") == Array("y".utf8))
        #expect(readText(sb.root + "/opaque/kept") == "k")
        #expect(lstatOf(sb.root + "/.wh..wh.plnk") == nil)
        #expect(lstatOf(sb.root + "/etc/.wh..wh.aufs") == nil)
        #expect(listTree(sb.root).filter { $0.contains(".wh.") }.isEmpty)
    }

    @Test func laterEntriesWin() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in
            try w.file("a", "first")
            try w.file("a", "second")
            try w.dir("d", mode: 0o700)
            try w.file("d/child", "c")
            try w.dir("d", mode: 0o755)          // dir over dir: merged, metadata updated
            try w.dir("x")
            try w.file("x/inner", "i")
            try w.file("x", "file now")          // file over dir: the dir goes
            try w.symlink("l", "a")
            try w.dir("l")                       // dir over symlink
            try w.file("h", "h")
            try w.hardlink("h2", "h")
            try w.symlink("h2", "elsewhere")     // symlink over a hard link
        }
        try sb.apply(archive)
        #expect(readText(sb.root + "/a") == "second")
        #expect(readText(sb.root + "/d/child") == "c")
        #expect(try #require(lstatOf(sb.root + "/d")).st_mode & 0o7777 == 0o755)
        #expect(readText(sb.root + "/x") == "file now")
        #expect(try #require(lstatOf(sb.root + "/l")).st_mode & 0o170000 == 0o040000)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: sb.root + "/h2") == "elsewhere")
        #expect(try #require(lstatOf(sb.root + "/h")).st_nlink == 1)
        sb.checkContained()
    }

    @Test func rootEntryTakesMetadata() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in
            try w.dir("./", mode: 0o751, uid: 3, gid: 4, mtime: 1_400_000_000)
            try w.file("./f", "x")
        }
        try sb.apply(archive)
        let st = try #require(lstatOf(sb.root))
        #expect(st.st_mode & 0o7777 == 0o751 && st.st_uid == 3 && st.st_mtim.tv_sec == 1_400_000_000)
    }

    // MARK: hostile archives

    /// Each hostile archive must fail or land inside the root; nothing outside changes.
    @Test(arguments: HostileCase.all)
    func hostileArchivesStayInside(_ c: HostileCase) throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in try c.build(&w, sb) }
        var thrown: BerthError?
        do {
            try sb.apply(archive)
        } catch let e as BerthError {
            thrown = e
        }
        sb.checkContained(Comment(rawValue: c.name))
        switch c.expect {
        case .error(let fragment):
            let e = try #require(thrown, "\(c.name): no error")
            #expect(fragment.isEmpty || e.message.contains(fragment), "\(c.name): \(e.message)")
        case .inside(let path, let content):
            #expect(thrown == nil, "\(c.name): \(thrown.map { String(describing: $0) } ?? "")")
            #expect(readText(sb.root + "/" + path) == content, "\(c.name)")
        }
    }

    @Test func maxFileSizeIsEnforced() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in try w.file("big", String(repeating: "x", count: 5000)) }
        #expect(throws: BerthError.self) { try sb.apply(archive, options: .init(maxFileSize: 4096)) }
    }

    @Test func truncatedDataNamesTheEntry() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in try w.file("etc/data", String(repeating: "x", count: 5000)) }
        do {
            try sb.apply(Array(archive.prefix(512 + 3000)))
            Issue.record("truncated archive accepted")
        } catch let e as BerthError {
            #expect(e.message.contains("etc/data") && e.message.contains("truncated"), "\(e.message)")
        }
    }

    @Test func gnuSparseIsRejected() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        // A GNU 'S' entry.
        let s = try makeTar { w in
            try w.write(header: TarHeader(name: "sparse", kind: .other(UInt8(ascii: "S")), size: 512))
            try w.write(data: [UInt8](repeating: 0, count: 512))
        }
        do {
            try sb.apply(s)
            Issue.record("sparse accepted")
        } catch let e as BerthError {
            #expect(e.message.contains("unsupported tar entry type 'S' for sparse"), "\(e.message)")
        }
        // A PAX 1.0 sparse file claiming a huge real size.
        let pax = try makeTar { w in
            try w.write(header: TarHeader(name: "GNUSparseFile.0/huge", kind: .file, size: 512),
                        extraPAXRecords: ["GNU.sparse.major": Array("1".utf8), "GNU.sparse.minor": Array("0".utf8),
                                          "GNU.sparse.name": Array("huge".utf8),
                                          "GNU.sparse.realsize": Array("1099511627776".utf8)])
            try w.write(data: Array("1\n0\n512\n".utf8) + [UInt8](repeating: 0, count: 504))
        }
        #expect(throws: BerthError.self) { try sb.apply(pax) }
        #expect(lstatOf(sb.root + "/huge") == nil)
    }

    @Test func unknownTypeIsRejected() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in try w.write(header: TarHeader(name: "vol", kind: .other(UInt8(ascii: "V")))) }
        #expect(throws: BerthError.self) { try sb.apply(archive) }
    }

    /// Seeded mutations of a layer full of tricky entries: only BerthErrors, nothing outside.
    @Test func fuzzStaysInside() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let base = try makeTar { w in
            try w.dir("etc")
            try w.file("etc/passwd", "root")
            try w.symlink("up", "../../..")
            try w.symlink("abs", "/")
            try w.file("up/\(sb.escapeName)", "x")
            try w.hardlink("hl", "etc/passwd")
            try w.file("etc/.wh.passwd", "")
            try w.file("etc/.wh..wh..opq", "")
            var l = TarHeader(name: "long/" + String(repeating: "n", count: 120), kind: .file, size: 3)
            l.xattrs = ["user.x": [1]]
            try w.write(header: l)
            try w.write(data: [1, 2, 3])
            try w.write(header: TarHeader(name: "fifo", kind: .fifo))
        }
        var rng: UInt64 = 0x5EED_1234_ABCD
        func next() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
        let dots = Array("../".utf8)
        var applied = 0
        for i in 0..<2000 {
            var a = base
            for _ in 0..<(1 + Int(next() % 6)) {
                let at = Int(next() % UInt64(a.count))
                switch next() % 3 {
                case 0: a[at] = UInt8(truncatingIfNeeded: next())
                case 1: for (k, b) in dots.enumerated() where at + k < a.count { a[at + k] = b }   // path-ish bytes
                default: a[at] = [UInt8(ascii: "/"), UInt8(ascii: "."), 0, UInt8(ascii: "1"), UInt8(ascii: "2")][Int(next() % 5)]
                }
            }
            // Fix up checksums half the time so headers get past the reader.
            if next() % 2 == 0 { fixChecksums(&a) }
            if next() % 8 == 0 { a = Array(a.prefix(Int(next() % UInt64(a.count)))) }
            do {
                try sb.apply(a)
                applied += 1
            } catch is BerthError {
            }
            if i % 100 == 0 { sb.checkContained("iteration \(i)") }
            // Fresh root each time.
            try FileManager.default.removeItem(atPath: sb.root)
            try FileManager.default.createDirectory(atPath: sb.root, withIntermediateDirectories: false)
        }
        sb.checkContained()
        #expect(applied > 0)
    }

    func fixChecksums(_ a: inout [UInt8]) {
        var off = 0
        while off + 512 <= a.count {
            let block = a[off..<(off + 512)]
            if block[(off + 257)..<(off + 262)].elementsEqual("ustar".utf8) {
                for i in 148..<156 { a[off + i] = UInt8(ascii: " ") }
                let sum = a[off..<(off + 512)].reduce(0) { $0 + Int($1) }
                let digits = Array(String(sum, radix: 8).utf8)
                for i in 0..<6 { a[off + 148 + i] = UInt8(ascii: "0") }
                for (k, d) in digits.suffix(6).enumerated() { a[off + 148 + 6 - min(6, digits.count) + k] = d }
                a[off + 154] = 0
            }
            off += 512
        }
    }

    @Test func layerDiffRoundTrip() throws {
        let sb = try Sandbox()
        defer { sb.dir.cleanup() }
        let archive = try makeTar { w in
            try w.dir("etc", mode: 0o750, uid: 1, gid: 2)
            try w.file("etc/passwd", "root", mode: 0o600, uid: 3, gid: 4, xattrs: ["user.a": [9]])
            try w.hardlink("etc/passwd2", "etc/passwd")
            try w.symlink("link", "/etc/passwd")
            try w.file("etc/.wh.shadow", "")
            try w.dir("opq")
            try w.file("opq/.wh..wh..opq", "")
            try w.file("opq/x", "x")
            try w.write(header: TarHeader(name: "fifo", kind: .fifo, mode: 0o640))
        }
        try sb.apply(archive)
        var out: [UInt8] = []
        var w = TarWriter { out.append(contentsOf: $0) }
        let n = try LayerDiff.write(upperDirectory: sb.root, to: &w)
        try w.finish()
        var r = TarReader(bytes: out)
        var got: [String] = []
        while let h = try r.next() {
            var line = "\(h.name) \(h.kind) \(String(h.mode, radix: 8)) \(h.uid):\(h.gid)"
            if !h.linkName.isEmpty { line += " -> \(h.linkName)" }
            if h.kind == .file { line += " " + String(decoding: try r.readAll(), as: UTF8.self) }
            if !h.xattrs.isEmpty { line += " \(h.xattrs)" }
            got.append(line)
        }
        #expect(n == got.count)
        #expect(got == [
            "etc/ directory 750 1:2",
            "etc/passwd file 600 3:4 root [\"user.a\": [9]]",
            "etc/passwd2 hardLink 600 3:4 -> etc/passwd",
            "etc/.wh.shadow file 0 0:0 ",   // sorted by the name on disk (shadow), as Docker
            "fifo fifo 640 0:0",
            "link symlink 777 0:0 -> /etc/passwd",
            "opq/ directory 755 0:0",
            "opq/.wh..wh..opq file 755 0:0 ",
            "opq/x file 644 0:0 x",
        ])
        // Applying the diff again reproduces the tree (whiteouts and opaque marker included).
        let sb2 = try Sandbox()
        defer { sb2.dir.cleanup() }
        try sb2.apply(out)
        #expect(listTree(sb2.root) == listTree(sb.root))
        #expect(getXattr(sb2.root + "/opq", "trusted.overlay.opaque") == Array("y".utf8))
    }
}

/// One hostile archive and what must happen.
struct HostileCase: CustomTestStringConvertible, Sendable {
    enum Expect: Sendable { case error(String), inside(String, String) }
    let name: String
    let expect: Expect
    let build: @Sendable (inout TarWriter, Sandbox) throws -> Void
    var testDescription: String { name }

    static let all: [HostileCase] = [
        HostileCase(name: "dotdot", expect: .error("escapes the extraction root")) { w, sb in
            try w.file("../sentinel", "pwned")
        },
        HostileCase(name: "dotdot-deep", expect: .error("escapes")) { w, sb in
            try w.file("a/../../\(sb.escapeName)", "pwned")
        },
        HostileCase(name: "absolute-dotdot", expect: .inside("x", "abs")) { w, sb in
            try w.file("/abs/../../x", "abs")
        },
        HostileCase(name: "absolute", expect: .inside("tmp/\(sbName)", "abs")) { w, sb in
            try w.file("/tmp/\(sbName)", "abs")
        },
        HostileCase(name: "symlink-root-write", expect: .inside("\(sbName)", "through")) { w, sb in
            try w.symlink("a", "/")
            try w.file("a/\(sbName)", "through")
        },
        HostileCase(name: "symlink-dotdot-write", expect: .inside("\(sbName)", "through")) { w, sb in
            try w.symlink("a", "../../../..")
            try w.file("a/\(sbName)", "through")
        },
        HostileCase(name: "symlink-to-sandbox-dir", expect: .error("dangling symlink")) { w, sb in
            try w.symlink("a", sb.dir.path)            // the sandbox's host path: not inside root
            try w.file("a/sentinel", "inside")
        },
        HostileCase(name: "symlink-to-existing-inside", expect: .inside("\(sbName)/sentinel", "inside")) { w, sb in
            try w.dir("\(sbName)")
            try w.symlink("a", "/\(sbName)")          // absolute, resolved in root
            try w.file("a/sentinel", "inside")
        },
        HostileCase(name: "symlink-etc-write", expect: .inside("etc/\(sbName)", "x")) { w, sb in
            try w.dir("etc")
            try w.symlink("e", "/etc")
            try w.file("e/\(sbName)", "x")
        },
        HostileCase(name: "symlink-dangling-parent", expect: .error("")) { w, sb in
            try w.symlink("a", "/nonexistent-\(sbName)")
            try w.file("a/x", "x")
        },
        HostileCase(name: "hardlink-dotdot", expect: .error("escapes")) { w, sb in
            try w.hardlink("l", "../sentinel")
        },
        HostileCase(name: "hardlink-etc-passwd", expect: .error("escapes")) { w, sb in
            try w.hardlink("l", "../../etc/passwd")
        },
        HostileCase(name: "hardlink-absolute-host", expect: .error("")) { w, sb in
            try w.hardlink("l", sb.sentinel)           // resolved in root: not there
        },
        HostileCase(name: "hardlink-via-symlink-dir", expect: .error("")) { w, sb in
            try w.symlink("d", sb.dir.path)
            try w.hardlink("l", "d/sentinel")
        },
        HostileCase(name: "hardlink-via-dotdot-symlink", expect: .error("")) { w, sb in
            try w.symlink("d", "../..")
            try w.hardlink("l", "d/sentinel")
        },
        HostileCase(name: "whiteout-dotdot", expect: .error("invalid whiteout")) { w, sb in
            try w.file(".wh...", "")
        },
        HostileCase(name: "whiteout-parent-escape", expect: .error("escapes")) { w, sb in
            try w.file("../.wh.sentinel", "")
        },
        HostileCase(name: "whiteout-through-symlink", expect: .inside("sentinel-dir/keep", "k")) { w, sb in
            try w.file("sentinel-dir/keep", "k")
            try w.symlink("s", "/..")
            try w.file("s/.wh.sentinel", "")           // whiteout of root/sentinel, not the host's
        },
        HostileCase(name: "replace-outside-symlink", expect: .inside("l", "replaced")) { w, sb in
            try w.symlink("l", sb.sentinel)
            try w.file("l", "replaced")
        },
        HostileCase(name: "replace-relative-outside-symlink", expect: .inside("l", "replaced")) { w, sb in
            try w.symlink("l", "../sentinel")
            try w.file("l", "replaced")
        },
        HostileCase(name: "opaque-through-symlink", expect: .error("dangling symlink")) { w, sb in
            try w.file("f", "f")
            try w.symlink("s", sb.dir.path)
            try w.file("s/.wh..wh..opq", "")
        },
        HostileCase(name: "dir-over-outside-symlink", expect: .inside("l/f", "f")) { w, sb in
            try w.symlink("l", sb.dir.path)
            try w.dir("l")
            try w.file("l/f", "f")
        },
        HostileCase(name: "nul-in-name", expect: .error("NUL")) { w, sb in
            var h = TarHeader(name: "x", kind: .file)
            h.xattrs = [:]
            try w.write(header: h, extraPAXRecords: ["path": Array("a\u{0}/../../sentinel".utf8)])
        },
        HostileCase(name: "device-outside-name", expect: .error("escapes")) { w, sb in
            var h = TarHeader(name: "../dev", kind: .characterDevice)
            h.deviceMajor = 1; h.deviceMinor = 3
            try w.write(header: h)
        },
        HostileCase(name: "symlink-loop-parent", expect: .error("")) { w, sb in
            try w.symlink("a", "b")
            try w.symlink("b", "a")
            try w.file("a/x", "x")
        },
    ]
}

/// A fixed unique-ish name used inside hostile archives (the sandbox checks /tmp for it).
let sbName = "berth-hostile-\(getpid())"
