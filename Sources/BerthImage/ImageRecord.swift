import BerthCore
import BerthOCI

/// What the store keeps of one image beside its config blob: the layer blobs, sizes and the
/// fields listing needs without re-reading the config.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// The image ID: the digest of its config blob.
    public var id: Digest
    /// One per diff ID of the config, in order.
    public var layers: [LayerRecord]
    /// `repo@sha256:…` digests of manifests this image was pulled or pushed as (familiar form).
    public var repoDigests: [String]
    /// `created` of the config (RFC 3339), if any.
    public var created: String?
    /// Labels of the config.
    public var labels: [String: String]?
    /// Sum of the layers' content sizes (file bytes, as Docker counts image size).
    public var size: Int64
    /// The image this one was built from, if known (builds, commits).
    public var parent: Digest?
    /// When a tag was last set on this image (RFC 3339).
    public var lastTagTime: String?
    /// For an image a build step made: the step's cache key (a digest of the instruction, its
    /// variables and the content it copied). A later build reuses the child of the same parent
    /// with the same key.
    public var buildKey: String?

    public init(id: Digest, layers: [LayerRecord], repoDigests: [String] = [], created: String?,
                labels: [String: String]?, size: Int64, parent: Digest? = nil) {
        self.id = id
        self.layers = layers
        self.repoDigests = repoDigests
        self.created = created
        self.labels = labels
        self.size = size
        self.parent = parent
    }

    /// The short ID (12 hex digits), as Docker shows it.
    public var shortID: String { String(id.encoded.prefix(12)) }
}

/// One layer of an image as stored.
public struct LayerRecord: Codable, Sendable, Equatable {
    public var diffID: Digest
    public var chainID: Digest
    /// The blob in the content store (equal to `diffID` for an uncompressed layer).
    public var blob: Digest
    public var mediaType: String
    /// Size of the stored blob.
    public var blobSize: Int64
    /// Size of the uncompressed tar.
    public var size: Int64
    /// Bytes of file content in the layer (Docker's layer size).
    public var contentSize: Int64?

    public init(diffID: Digest, chainID: Digest, blob: Digest, mediaType: String, blobSize: Int64, size: Int64) {
        self.diffID = diffID
        self.chainID = chainID
        self.blob = blob
        self.mediaType = mediaType
        self.blobSize = blobSize
        self.size = size
    }
}
