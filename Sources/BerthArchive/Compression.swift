/// How a layer blob is compressed. Layers are detected by their magic bytes, as Docker does,
/// whatever their media type says.
public enum Compression: String, Sendable, Equatable, CaseIterable {
    case none, gzip, zstd

    /// Bytes needed by `detect(prefix:)`.
    public static let magicLength = 4

    /// The compression of a stream starting with `prefix` (at least 4 bytes for zstd, 2 for
    /// gzip): gzip `1f 8b`, zstd `28 b5 2f fd`, anything else `.none`.
    public static func detect(prefix: some Collection<UInt8>) -> Compression {
        let p = Array(prefix.prefix(magicLength))
        if p.count >= 2 && p[0] == 0x1f && p[1] == 0x8b { return .gzip }
        if p.count >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd { return .zstd }
        return .none
    }
}
