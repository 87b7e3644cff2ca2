/// Writes a cpio archive in the "newc" format (SVR4 without CRC), the one the Linux kernel
/// unpacks as an initramfs.
///
/// Each entry: a 110-byte ASCII header (`070701` then 13 fields of 8 hex digits: ino, mode,
/// uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize,
/// check), the name with its NUL padded to 4 bytes, the data padded to 4 bytes. The archive
/// ends with the entry `TRAILER!!!`. Names are relative (`bin/busybox`), parents before
/// children. Everything is owned by root, mtime 0, so the same input gives the same bytes.
public struct CPIOWriter: Sendable {
    /// The archive so far.
    public private(set) var bytes: [UInt8] = []
    private var nextInode: UInt32 = 1
    private var finished = false

    public init() {}

    /// A directory.
    public mutating func directory(_ name: String, mode: UInt32 = 0o755) {
        entry(name, mode: 0o040000 | mode, nlink: 2, data: [])
    }

    /// A regular file with the given contents.
    public mutating func file(_ name: String, _ data: [UInt8], mode: UInt32 = 0o644) {
        entry(name, mode: 0o100000 | mode, nlink: 1, data: data)
    }

    /// A symbolic link to `target`.
    public mutating func symlink(_ name: String, target: String) {
        entry(name, mode: 0o120777, nlink: 1, data: Array(target.utf8))
    }

    /// A character device node.
    public mutating func characterDevice(_ name: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600) {
        entry(name, mode: 0o020000 | mode, nlink: 1, data: [], rdev: (major, minor))
    }

    /// Appends the trailer; returns the finished archive.
    public mutating func finish() -> [UInt8] {
        if !finished {
            entry("TRAILER!!!", mode: 0, nlink: 1, data: [], inode: 0)
            finished = true
        }
        return bytes
    }

    private mutating func entry(_ name: String, mode: UInt32, nlink: UInt32, data: [UInt8],
                                rdev: (UInt32, UInt32) = (0, 0), inode: UInt32? = nil) {
        let nameBytes = Array(name.utf8) + [0]
        let ino: UInt32
        if let inode { ino = inode } else { ino = nextInode; nextInode += 1 }
        var header = Array("070701".utf8)
        for field in [ino, mode, 0, 0, nlink, 0, UInt32(data.count), 0, 0, rdev.0, rdev.1, UInt32(nameBytes.count), 0] {
            header += CPIOWriter.hex8(field)
        }
        bytes += header
        bytes += nameBytes
        pad()
        bytes += data
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    static func hex8(_ v: UInt32) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<8).reversed().map { digits[Int(v >> (UInt32($0) * 4) & 0xf)] }
    }
}
