/// A volume as `/volumes` shows it (Docker's `Volume`).
public struct Volume: Codable, Sendable, Equatable {
    /// `Size` in bytes (-1 when not computed) and `RefCount` (containers referencing it, -1
    /// when not computed); only `/system/df` fills it in.
    public struct UsageData: Codable, Sendable, Equatable {
        public var Size: Int64
        public var RefCount: Int64
        public init(Size: Int64, RefCount: Int64) { self.Size = Size; self.RefCount = RefCount }
    }
    public var Name: String
    public var Driver: String
    public var Mountpoint: String
    /// RFC 3339 with the local offset, as Docker prints it.
    public var CreatedAt: String?
    public var Status: [String: String]?
    public var Labels: [String: String]
    /// `local`.
    public var Scope: String
    /// The driver options it was created with (`type`, `device`, `o`), or nil when none.
    public var Options: [String: String]?
    public var UsageData: UsageData?

    public init(Name: String, Driver: String, Mountpoint: String, CreatedAt: String?, Labels: [String: String],
                Options: [String: String]?, UsageData: UsageData? = nil) {
        self.Name = Name; self.Driver = Driver; self.Mountpoint = Mountpoint; self.CreatedAt = CreatedAt
        self.Labels = Labels; self.Scope = "local"; self.Options = Options; self.UsageData = UsageData
    }
}

/// `POST /volumes/create` body.
public struct VolumeCreateRequest: Codable, Sendable {
    /// Empty for a generated (anonymous-style) name.
    public var Name: String?
    /// `local` when empty.
    public var Driver: String?
    public var DriverOpts: [String: String]?
    public var Labels: [String: String]?
    public init(Name: String? = nil, Driver: String? = nil, DriverOpts: [String: String]? = nil, Labels: [String: String]? = nil) {
        self.Name = Name; self.Driver = Driver; self.DriverOpts = DriverOpts; self.Labels = Labels
    }
}

/// `GET /volumes`.
public struct VolumeListResponse: Codable, Sendable {
    public var Volumes: [Volume]
    public var Warnings: [String]?
    public init(Volumes: [Volume], Warnings: [String]? = nil) { self.Volumes = Volumes; self.Warnings = Warnings }
}

/// `POST /volumes/prune`.
public struct VolumePruneResponse: Codable, Sendable {
    public var VolumesDeleted: [String]?
    public var SpaceReclaimed: Int64
    public init(VolumesDeleted: [String]?, SpaceReclaimed: Int64) {
        self.VolumesDeleted = VolumesDeleted; self.SpaceReclaimed = SpaceReclaimed
    }
}
