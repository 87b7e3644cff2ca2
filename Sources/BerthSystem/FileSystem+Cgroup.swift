#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BerthCore
import CBerth

/// The calls the cgroup manager (BerthRuntime/Cgroups) makes on cgroupfs: single-level mkdir and
/// rmdir with their errno, small reads, subdirectory listing.
extension FileSystem {
    /// Reads a small file (a cgroup value) with one open/read/close into a 4 KiB buffer; longer
    /// files are read to the end.
    public static func readSmallString(_ path: String) throws -> String {
        let fd = try sysCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var first = [UInt8](repeating: 0, count: 4096)
        let n = try first.withUnsafeMutableBytes { buf in
            try sysCall("read \(path)") { Glibc.read(fd, buf.baseAddress, buf.count) }
        }
        if n < first.count { return String(decoding: first[..<n], as: UTF8.self) }
        return String(decoding: first + (try readAll(fd: fd, what: path)), as: UTF8.self)
    }

    /// mkdir(2) of one directory. Returns true if it was made, false if it existed already;
    /// other failures (ENOENT for a missing parent, …) throw with the errno kept.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws -> Bool {
        if mkdir(path, mode) == 0 { return true }
        let e = errno
        if e == EEXIST { return false }
        throw BerthError.sys("mkdir \(path)", e)
    }

    /// rmdir(2). Returns 0 on success or the errno (callers retry on EBUSY, ignore ENOENT).
    public static func removeDirectory(_ path: String) -> Int32 {
        rmdir(path) == 0 ? 0 : errno
    }

    /// The names of the subdirectories of a directory (by `d_type`, which cgroupfs, tmpfs and
    /// the common disk filesystems fill in; entries of unknown type are stat'ed).
    public static func listDirectories(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw BerthError.sys("open directory \(path)") }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let type = ent.pointee.d_type
            guard type == UInt8(DT_DIR) || type == UInt8(DT_UNKNOWN) else { continue }
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            if type == UInt8(DT_UNKNOWN) && !isDirectory("\(path)/\(name)") { continue }
            names.append(name)
        }
        return names
    }
}

/// Loading and attaching cgroup v2 device programs (`BPF_PROG_TYPE_CGROUP_DEVICE`): on cgroup
/// v2 the device rules are an eBPF program attached to the container's cgroup.
public enum CgroupDeviceBPF {
    private static let progLoad: Int = 5            // BPF_PROG_LOAD
    private static let progAttach: Int = 8          // BPF_PROG_ATTACH
    private static let progTypeCgroupDevice: UInt32 = 15  // BPF_PROG_TYPE_CGROUP_DEVICE
    private static let attachCgroupDevice: UInt32 = 6     // BPF_CGROUP_DEVICE
    private static let allowMulti: UInt32 = 2             // BPF_F_ALLOW_MULTI

    #if arch(x86_64)
    private static let sysBPF = 321
    #elseif arch(arm64)
    private static let sysBPF = 280
    #else
    private static let sysBPF = -1
    #endif

    /// bpf(2) through CBerth (glibc has no wrapper), retrying EINTR.
    private static func bpf(_ cmd: Int, _ attr: UnsafeMutableRawBufferPointer) -> Int {
        guard sysBPF >= 0 else {
            errno = ENOSYS
            return -1
        }
        while true {
            // SAFETY: `attr` is a live buffer of `attr.count` bytes for the duration of the call.
            let r = Int(berth_bpf(Int32(cmd), attr.baseAddress, UInt32(attr.count)))
            if r == -1 && errno == EINTR { continue }
            return r
        }
    }

    /// Loads a device program (`instructions` are encoded `struct bpf_insn`s). Returns its fd.
    /// A verifier rejection throws with the verifier's last log line.
    public static func load(_ instructions: [UInt64]) throws -> Int32 {
        let license = Array("Apache\0".utf8)
        func attempt(log: UnsafeMutableRawBufferPointer?) -> Int {
            instructions.withUnsafeBufferPointer { insns in
                license.withUnsafeBufferPointer { lic in
                    var attr = [UInt8](repeating: 0, count: 72)
                    return attr.withUnsafeMutableBytes { a in
                        a.storeBytes(of: progTypeCgroupDevice, toByteOffset: 0, as: UInt32.self)
                        a.storeBytes(of: UInt32(insns.count), toByteOffset: 4, as: UInt32.self)
                        a.storeBytes(of: UInt64(UInt(bitPattern: insns.baseAddress)), toByteOffset: 8, as: UInt64.self)
                        a.storeBytes(of: UInt64(UInt(bitPattern: lic.baseAddress)), toByteOffset: 16, as: UInt64.self)
                        if let log {
                            a.storeBytes(of: UInt32(1), toByteOffset: 24, as: UInt32.self)
                            a.storeBytes(of: UInt32(log.count), toByteOffset: 28, as: UInt32.self)
                            a.storeBytes(of: UInt64(UInt(bitPattern: log.baseAddress)), toByteOffset: 32, as: UInt64.self)
                        }
                        for (i, c) in "berth_devices".utf8.enumerated() { a[48 + i] = c }  // prog_name
                        return bpf(progLoad, a)
                    }
                }
            }
        }
        let fd = attempt(log: nil)
        if fd >= 0 { return Int32(fd) }
        let e = errno
        guard e == EINVAL || e == EACCES else { throw BerthError.sys("load cgroup device program", e) }
        // Again with the verifier log, for the error message.
        var buffer = [UInt8](repeating: 0, count: 65536)
        let again = buffer.withUnsafeMutableBytes { attempt(log: $0) }
        if again >= 0 { return Int32(again) }
        let text = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        let last = text.split(separator: "\n").suffix(2).joined(separator: " / ")
        throw BerthError(.invalidArgument, "load cgroup device program: \(errnoDescription(e))\(last.isEmpty ? "" : ": " + last)", errno: e)
    }

    /// Attaches a loaded device program to a cgroup v2 directory (BPF_F_ALLOW_MULTI: programs
    /// of ancestors keep applying). The attachment lives as long as the cgroup; the caller may
    /// close `program` afterwards.
    public static func attach(_ program: Int32, to directory: String) throws {
        let dirFD = try sysCall("open \(directory)") { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(dirFD) }
        var attr = [UInt8](repeating: 0, count: 32)
        let r = attr.withUnsafeMutableBytes { a -> Int in
            a.storeBytes(of: UInt32(dirFD), toByteOffset: 0, as: UInt32.self)
            a.storeBytes(of: UInt32(program), toByteOffset: 4, as: UInt32.self)
            a.storeBytes(of: attachCgroupDevice, toByteOffset: 8, as: UInt32.self)
            a.storeBytes(of: allowMulti, toByteOffset: 12, as: UInt32.self)
            return bpf(progAttach, a)
        }
        if r != 0 { throw BerthError.sys("attach device program to \(directory)") }
    }
}
