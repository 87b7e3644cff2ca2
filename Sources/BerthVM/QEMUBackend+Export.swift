#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import BerthTar

/// What `berth-vm.json` in an export says.
struct VMExportManifest: Codable, Sendable {
    /// Format version: 1.
    var version: Int
    /// The VM's config; `kernel`, `initrd` and disk paths are member names of the archive.
    var config: VMConfig
}

/// `berth vm export`/`import`: a whole VM as one tar file — `berth-vm.json` (the config, with
/// paths made member names), `kernel`, `initrd` and `disks/<i>.<format>` (qcow2 files carry
/// their internal snapshots, so snapshots travel too). Written with BerthTar (ustar, PAX for
/// files over 8 GiB), streamed in 1 MiB chunks.
///
/// Import reads only that layout: regular files with exactly those names, `berth-vm.json`
/// first, nothing else (no links, no directories, no other names), so an archive cannot
/// write anywhere but the target directory, which must not exist. Disks are checked
/// (`qemu-img check`) before the VM is created; any failure removes the directory.
extension QEMUBackend {
    /// Writes a VM that is not running to `path` (which must not exist).
    public func export(_ name: String, to path: String) async throws {
        let vm = try lookup(name)
        guard try await state(name).isNotRunning else { throw BerthError.conflict("vm \(name) is running: stop it before export") }
        guard !FileSystem.exists(path) else { throw BerthError.conflict("export of vm \(name): \(path) exists already") }
        var config = vm.config
        var files: [(member: String, source: String)] = [("kernel", config.kernel)]
        config.kernel = "kernel"
        if let initrd = config.initrd {
            files.append(("initrd", initrd))
            config.initrd = "initrd"
        }
        for i in config.disks.indices {
            let member = "disks/\(i).\(config.disks[i].format)"
            files.append((member, config.disks[i].path))
            config.disks[i].path = member
        }
        let manifest = try BerthJSONEncoder(options: [.prettyPrinted]).encode(VMExportManifest(version: 1, config: config))
        let entries = files
        do {
            try await BlockingWork.run { try QEMUBackend.writeExport(path, manifest: manifest, files: entries) }
        } catch let e as BerthError {
            try? FileSystem.removeTree(path)
            throw e.context("export vm \(name)")
        }
    }

    /// Creates a VM from an export: its files go to `directory` (made here; it must not
    /// exist), the VM is named `name` or as recorded. `adjust` may change the config before the
    /// VM is created (the engine gives it this host's network interfaces and name servers:
    /// the exporting host's taps, bridges and addresses mean nothing here). Returns the new
    /// VM's config.
    @discardableResult
    public func importVM(from path: String, name: String? = nil, into directory: String,
                         adjust: @Sendable (inout VMConfig) throws -> Void = { _ in }) async throws -> VMConfig {
        guard !FileSystem.exists(directory) else { throw BerthError.conflict("import \(path): \(directory) exists already") }
        try FileSystem.makeDirectories(directory, mode: 0o700)
        do {
            let manifest = try await BlockingWork.run { try QEMUBackend.readExport(path, into: directory) }
            var config = manifest.config
            if let name { config.name = name }
            config.kernel = directory + "/kernel"
            if config.initrd != nil { config.initrd = directory + "/initrd" }
            for i in config.disks.indices { config.disks[i].path = directory + "/" + config.disks[i].path }
            try adjust(&config)
            try await create(config)
            return config
        } catch {
            try? FileSystem.removeTree(directory)
            if let e = error as? BerthError { throw e.context("import \(path)") }
            throw error
        }
    }

    static func writeExport(_ path: String, manifest: [UInt8], files: [(member: String, source: String)]) throws {
        let out = try FD.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        defer { FD.close(out) }
        var tar = TarWriter { try FD.writeAll(out, $0) }
        try tar.write(header: TarHeader(name: "berth-vm.json", kind: .file, mode: 0o600, size: Int64(manifest.count)))
        try tar.write(data: manifest)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for f in files {
            let fd = try FD.open(f.source, O_RDONLY)
            defer { FD.close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw BerthError.sys("stat \(f.source)") }
            try tar.write(header: TarHeader(name: f.member, kind: .file, mode: 0o600, size: Int64(st.st_size)))
            var left = Int64(st.st_size)
            while left > 0 {
                let n = try buffer.withUnsafeMutableBytes { b in
                    try FD.readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<Int(min(Int64(b.count), left))]), what: f.source)
                }
                if n == 0 { throw BerthError(.system, "\(f.source) shrank while being exported") }
                try buffer.withUnsafeBytes { try tar.write(data: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                left -= Int64(n)
            }
        }
        try tar.finish()
        try sysCall("sync \(path)") { fsync(out) }
    }

    /// Reads an export written by `writeExport` into `directory`; returns its manifest.
    static func readExport(_ path: String, into directory: String) throws -> VMExportManifest {
        let fd = try FD.open(path, O_RDONLY)
        defer { FD.close(fd) }
        var reader = ExportReader(fd: fd, what: path)
        guard let (first, firstSize) = try reader.next(), first == "berth-vm.json", firstSize < 1 << 20 else {
            throw BerthError(.corrupt, "not a berth vm export (no berth-vm.json first)")
        }
        let manifest: VMExportManifest
        do {
            manifest = try BerthJSONDecoder().decode(VMExportManifest.self, from: try reader.readAll(firstSize))
        } catch {
            throw BerthError(.corrupt, "not a berth vm export: berth-vm.json: \(error)")
        }
        guard manifest.version == 1 else { throw BerthError.unsupported("vm export version \(manifest.version)") }
        var expected: Set<String> = ["kernel"]
        if manifest.config.initrd != nil { expected.insert("initrd") }
        for (i, d) in manifest.config.disks.enumerated() {
            guard d.path == "disks/\(i).\(d.format)", d.format == "qcow2" || d.format == "raw" else {
                throw BerthError(.corrupt, "vm export: unexpected disk \(d.path)")
            }
            expected.insert(d.path)
        }
        try FileSystem.makeDirectories(directory + "/disks", mode: 0o700)
        while let (member, size) = try reader.next() {
            guard expected.remove(member) != nil else { throw BerthError(.corrupt, "vm export: unexpected member \(member)") }
            let out = try FD.open(directory + "/" + member, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            defer { FD.close(out) }
            try reader.copy(size, to: out)
        }
        guard expected.isEmpty else { throw BerthError(.corrupt, "vm export: missing \(expected.sorted().joined(separator: ", "))") }
        return manifest
    }
}

extension VMState {
    var isNotRunning: Bool {
        switch self {
        case .created, .stopped: return true
        case .running, .paused: return false
        }
    }
}

/// Reads the regular-file entries of a ustar/PAX archive, refusing everything else.
struct ExportReader {
    let fd: Int32
    let what: String
    private var pending: Int64 = 0   // data + padding left of the current entry

    init(fd: Int32, what: String) {
        self.fd = fd
        self.what = what
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = try out.withUnsafeMutableBytes { b in
                try FD.readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: b[got..<n]), what: what)
            }
            if r == 0 { throw BerthError(.corrupt, "\(what): truncated archive") }
            got += r
        }
        return out
    }

    private mutating func skipPending() throws {
        while pending > 0 {
            let n = Int(min(pending, 1 << 20))
            _ = try readExactly(n)
            pending -= Int64(n)
        }
    }

    /// The next regular file's name and size; nil at the end of the archive.
    mutating func next() throws -> (String, Int64)? {
        try skipPending()
        var paxPath: String?
        var paxSize: Int64?
        while true {
            let h = try readExactly(512)
            if h.allSatisfy({ $0 == 0 }) { return nil }
            var sum = 0
            for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            guard let recorded = ExportReader.octal(h[148..<156]), recorded == sum else {
                throw BerthError(.corrupt, "\(what): bad tar header checksum")
            }
            let flag = h[156]
            // Sizes over 8 GiB come in a PAX record (the ustar field may then hold anything).
            guard let size = paxSize ?? ExportReader.octal(h[124..<136]).map(Int64.init) else {
                throw BerthError(.corrupt, "\(what): bad tar size")
            }
            if flag == UInt8(ascii: "x") {
                guard size < 1 << 16 else { throw BerthError(.corrupt, "\(what): pax header too large") }
                let data = try readExactly(Int(size))
                _ = try readExactly(Int((512 - size % 512) % 512))
                for rec in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                    guard let sp = rec.firstIndex(of: " "), let eq = rec.firstIndex(of: "=") else { continue }
                    let key = rec[rec.index(after: sp)..<eq], value = String(rec[rec.index(after: eq)...])
                    if key == "path" { paxPath = value }
                    if key == "size" { paxSize = Int64(value) }
                }
                continue
            }
            guard flag == 0 || flag == UInt8(ascii: "0") else {
                throw BerthError(.corrupt, "\(what): only regular files are allowed in a vm export")
            }
            func field(_ r: Range<Int>) -> String { String(decoding: h[r].prefix { $0 != 0 }, as: UTF8.self) }
            let prefix = field(345..<500)
            let name = paxPath ?? (prefix.isEmpty ? field(0..<100) : prefix + "/" + field(0..<100))
            pending = size + (512 - size % 512) % 512
            return (name, size)
        }
    }

    /// All of the current entry (small ones: the manifest).
    mutating func readAll(_ size: Int64) throws -> [UInt8] {
        let data = try readExactly(Int(size))
        pending -= size
        try skipPending()
        return data
    }

    /// Copies the current entry to `out`.
    mutating func copy(_ size: Int64, to out: Int32) throws {
        var left = size
        while left > 0 {
            let n = Int(min(left, 1 << 20))
            try FD.writeAll(out, try readExactly(n))
            left -= Int64(n)
            pending -= Int64(n)
        }
        try skipPending()
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int? {
        var v = 0
        var seen = false
        for b in bytes {
            if b == 0 || b == 32 { if seen { break } else { continue } }
            guard b >= 48 && b <= 55 else { return nil }
            v = v * 8 + Int(b - 48)
            seen = true
        }
        return v
    }
}
