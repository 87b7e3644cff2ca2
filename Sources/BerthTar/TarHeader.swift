import BerthCore

/// One entry's metadata in a tar stream, after GNU long-name and PAX records are applied.
public struct TarHeader: Sendable, Equatable {
    /// What an entry is (the ustar typeflag).
    public enum Kind: Sendable, Equatable {
        case file, hardLink, symlink, characterDevice, blockDevice, directory, fifo
        /// A typeflag we do not interpret (callers skip or reject it).
        case other(UInt8)

        /// The kind a ustar typeflag byte names.
        public init(flag: UInt8) {
            switch flag {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): self = .file
            case UInt8(ascii: "1"): self = .hardLink
            case UInt8(ascii: "2"): self = .symlink
            case UInt8(ascii: "3"): self = .characterDevice
            case UInt8(ascii: "4"): self = .blockDevice
            case UInt8(ascii: "5"): self = .directory
            case UInt8(ascii: "6"): self = .fifo
            default: self = .other(flag)
            }
        }
    }

    /// The path as stored (not yet cleaned: see `TarPath`).
    public var name: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: Int64
    public var gid: Int64
    /// Bytes of data that follow the header.
    public var size: Int64
    /// Modification time: seconds and nanoseconds since the epoch.
    public var mtime: Int64
    public var mtimeNanoseconds: Int32
    /// The target of a symlink or hard link.
    public var linkName: String
    public var userName: String
    public var groupName: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// Extended attributes from PAX `SCHILY.xattr.*` records.
    public var xattrs: [String: [UInt8]]

    public init(name: String, kind: Kind, mode: UInt32 = 0o644, size: Int64 = 0) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.uid = 0
        self.gid = 0
        self.size = size
        self.mtime = 0
        self.mtimeNanoseconds = 0
        self.linkName = ""
        self.userName = ""
        self.groupName = ""
        self.deviceMajor = 0
        self.deviceMinor = 0
        self.xattrs = [:]
    }
}
