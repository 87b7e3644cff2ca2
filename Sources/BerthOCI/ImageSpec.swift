import BerthCore

/// Media types of the OCI image spec and their Docker schema 2 equivalents.
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociEmpty = "application/vnd.oci.empty.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Whether a media type names an image manifest (OCI or Docker).
    public static func isManifest(_ t: String?) -> Bool { t == ociManifest || t == dockerManifest }
    /// Whether a media type names an index / manifest list.
    public static func isIndex(_ t: String?) -> Bool { t == ociIndex || t == dockerManifestList }

    /// How a layer blob is compressed, from its media type.
    public enum Compression: Sendable, Equatable { case none, gzip, zstd }

    /// The compression of a layer media type; nil if it is not a layer type we know.
    public static func layerCompression(_ t: String) -> Compression? {
        switch t {
        case ociLayer, "application/vnd.oci.image.layer.nondistributable.v1.tar": return Compression.none
        case ociLayerGzip, dockerLayerGzip, dockerForeignLayerGzip,
             "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": return .gzip
        case ociLayerZstd, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": return .zstd
        default: return nil
        }
    }
}

/// A content descriptor (descriptor.md).
public struct Descriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var data: String?
    public var platform: Platform?
    public var artifactType: String?

    public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil, platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}

/// A platform (image-index.md).
public struct Platform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(architecture: String, os: String, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
    }
}

/// An image manifest (manifest.md), OCI or Docker schema 2 (same shape).
public struct ImageManifest: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociManifest, config: Descriptor, layers: [Descriptor],
                annotations: [String: String]? = nil) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }

    /// Checks what the spec requires beyond the JSON shape.
    public func validate() throws {
        guard schemaVersion == 2 else { throw BerthError.invalid("manifest: unsupported schemaVersion \(schemaVersion)") }
        if let m = mediaType, !MediaType.isManifest(m) {
            throw BerthError.invalid("manifest: unexpected mediaType \(m)")
        }
        for (i, l) in layers.enumerated() where l.size < 0 {
            throw BerthError.invalid("manifest: layers[\(i)] has a negative size")
        }
    }
}

/// An image index / manifest list (image-index.md).
public struct ImageIndex: Codable, Sendable, Equatable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The manifest for a platform (first match, as Docker picks), ignoring other entries.
    public func manifest(for platform: Platform) -> Descriptor? {
        manifests.first { d in
            guard let p = d.platform else { return false }
            return p.os == platform.os && p.architecture == platform.architecture
                && (platform.variant == nil || p.variant == nil || p.variant == platform.variant)
        }
    }
}

/// The image configuration (config.md), with the fields Docker adds.
public struct ImageConfig: Codable, Sendable, Equatable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var variant: String?
    public var config: Config?
    public var rootfs: RootFS
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
    }

    public init(architecture: String = "amd64", os: String = "linux", config: Config? = nil, rootfs: RootFS,
                history: [History]? = nil, created: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.config = config
        self.rootfs = rootfs
        self.history = history
        self.created = created
    }

    /// The execution parameters (`config` in the image config; Docker's `ContainerConfig` shape).
    public struct Config: Codable, Sendable, Equatable {
        public var User: String?
        public var ExposedPorts: [String: JSONValue]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: JSONValue]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?
        public var ArgsEscaped: Bool?
        public var Healthcheck: JSONValue?
        public var OnBuild: [String]?
        public var Shell: [String]?

        public init(Env: [String]? = nil, Entrypoint: [String]? = nil, Cmd: [String]? = nil, WorkingDir: String? = nil) {
            self.Env = Env
            self.Entrypoint = Entrypoint
            self.Cmd = Cmd
            self.WorkingDir = WorkingDir
        }
    }

    /// The layers' uncompressed digests, in order.
    public struct RootFS: Codable, Sendable, Equatable {
        public var type: String
        public var diff_ids: [Digest]
        public init(diffIDs: [Digest]) { type = "layers"; diff_ids = diffIDs }
    }

    /// One build step.
    public struct History: Codable, Sendable, Equatable {
        public var created: String?
        public var created_by: String?
        public var author: String?
        public var comment: String?
        public var empty_layer: Bool?
        public init(created: String? = nil, createdBy: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            created_by = createdBy
            empty_layer = emptyLayer
        }
    }

    /// Checks what the spec requires beyond the JSON shape: a layers rootfs, and history entries
    /// that account for exactly the non-empty layers (when history is given).
    public func validate() throws {
        guard rootfs.type == "layers" else { throw BerthError.invalid("image config: rootfs.type must be \"layers\"") }
        if let history, !history.isEmpty {
            let nonEmpty = history.filter { !($0.empty_layer ?? false) }.count
            guard nonEmpty == rootfs.diff_ids.count else {
                throw BerthError.invalid("image config: history has \(nonEmpty) non-empty layers but rootfs has \(rootfs.diff_ids.count)")
            }
        }
    }
}
