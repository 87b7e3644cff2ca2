import BerthCore

/// `GET /images/json` item.
public struct ImageSummary: Codable, Sendable {
    public var Id: String
    public var ParentId: String
    public var RepoTags: [String]
    public var RepoDigests: [String]
    public var Created: Int64
    public var Size: Int64
    public var SharedSize: Int64
    /// Dropped from the API in 1.44; sent to older clients.
    public var VirtualSize: Int64?
    public var Labels: [String: String]
    public var Containers: Int
    public init(Id: String, ParentId: String, RepoTags: [String], RepoDigests: [String], Created: Int64, Size: Int64,
                Labels: [String: String], Containers: Int) {
        self.Id = Id; self.ParentId = ParentId; self.RepoTags = RepoTags; self.RepoDigests = RepoDigests
        self.Created = Created; self.Size = Size; SharedSize = -1; self.Labels = Labels; self.Containers = Containers
    }
}

/// `GET /images/{name}/json`.
public struct ImageInspect: Codable, Sendable {
    public struct GraphDriverData: Codable, Sendable {
        public var Name: String
        public var Data: [String: String]
        public init(Name: String, Data: [String: String]) { self.Name = Name; self.Data = Data }
    }
    public struct RootFSInfo: Codable, Sendable {
        public var `Type`: String
        public var Layers: [String]
        public init(Layers: [String]) { self.Type = "layers"; self.Layers = Layers }
    }
    public struct MetadataInfo: Codable, Sendable {
        public var LastTagTime: String?
        public init(LastTagTime: String?) { self.LastTagTime = LastTagTime }
    }
    public var Id: String
    public var RepoTags: [String]
    public var RepoDigests: [String]
    public var Parent: String
    public var Comment: String
    public var Created: String?
    public var DockerVersion: String
    public var Author: String
    public var Config: JSONValue
    public var Architecture: String
    public var Variant: String?
    public var Os: String
    public var OsVersion: String?
    public var Size: Int64
    /// Dropped in 1.44; sent to older clients.
    public var VirtualSize: Int64?
    public var GraphDriver: GraphDriverData
    public var RootFS: RootFSInfo
    public var Metadata: MetadataInfo

    public init(Id: String, RepoTags: [String], RepoDigests: [String], Parent: String, Comment: String, Created: String?,
                DockerVersion: String, Author: String, Config: JSONValue, Architecture: String, Variant: String?, Os: String,
                Size: Int64, GraphDriver: GraphDriverData, RootFS: RootFSInfo, Metadata: MetadataInfo) {
        self.Id = Id; self.RepoTags = RepoTags; self.RepoDigests = RepoDigests; self.Parent = Parent
        self.Comment = Comment; self.Created = Created; self.DockerVersion = DockerVersion; self.Author = Author
        self.Config = Config; self.Architecture = Architecture; self.Variant = Variant; self.Os = Os
        self.Size = Size; self.GraphDriver = GraphDriver; self.RootFS = RootFS; self.Metadata = Metadata
    }
}

/// `GET /images/{name}/history` item.
public struct ImageHistoryItem: Codable, Sendable {
    public var Id: String
    public var Created: Int64
    public var CreatedBy: String
    public var Tags: [String]?
    public var Size: Int64
    public var Comment: String
    public init(Id: String, Created: Int64, CreatedBy: String, Tags: [String]?, Size: Int64, Comment: String) {
        self.Id = Id; self.Created = Created; self.CreatedBy = CreatedBy; self.Tags = Tags; self.Size = Size; self.Comment = Comment
    }
}

/// `DELETE /images/{name}` item: one of the two is set.
public struct ImageDeleteResponseItem: Codable, Sendable, Equatable {
    public var Untagged: String?
    public var Deleted: String?
    public init(Untagged: String? = nil, Deleted: String? = nil) { self.Untagged = Untagged; self.Deleted = Deleted }
}

/// `POST /images/prune`.
public struct ImagePruneResponse: Codable, Sendable {
    public var ImagesDeleted: [ImageDeleteResponseItem]?
    public var SpaceReclaimed: Int64
    public init(ImagesDeleted: [ImageDeleteResponseItem]?, SpaceReclaimed: Int64) {
        self.ImagesDeleted = ImagesDeleted; self.SpaceReclaimed = SpaceReclaimed
    }
}

/// `GET /system/df`.
public struct SystemDataUsage: Codable, Sendable {
    public var LayersSize: Int64
    public var Images: [ImageSummary]
    public var Containers: [JSONValue]
    public var Volumes: [Volume]
    public var BuildCache: [JSONValue]
    public init(LayersSize: Int64, Images: [ImageSummary], Containers: [JSONValue] = [], Volumes: [Volume] = [], BuildCache: [JSONValue] = []) {
        self.LayersSize = LayersSize; self.Images = Images; self.Containers = Containers; self.Volumes = Volumes; self.BuildCache = BuildCache
    }
}

/// `POST /build/prune`'s answer.
public struct BuildPruneResponse: Codable, Sendable, Equatable {
    public var CachesDeleted: [String]?
    public var SpaceReclaimed: Int64
    public init(CachesDeleted: [String]?, SpaceReclaimed: Int64) {
        self.CachesDeleted = CachesDeleted
        self.SpaceReclaimed = SpaceReclaimed
    }
}
