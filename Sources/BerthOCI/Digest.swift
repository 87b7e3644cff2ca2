import BerthCore

/// A content digest, `algorithm:encoded` (OCI image spec, descriptor.md). Only the registered
/// algorithms are accepted, with their exact encoded lengths, so a digest is always safe to use
/// as a file name (`blobs/sha256/<hex>`).
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// `sha256` or `sha512`.
    public let algorithm: String
    /// Lower-case hex.
    public let encoded: String

    /// Parses and validates `sha256:<64 hex>` or `sha512:<128 hex>`.
    public init(_ text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw BerthError.invalid("invalid digest \"\(text)\": want algorithm:hex")
        }
        let algorithm = String(text[..<colon])
        let encoded = String(text[text.index(after: colon)...])
        let length: Int
        switch algorithm {
        case "sha256": length = 64
        case "sha512": length = 128
        default: throw BerthError.invalid("invalid digest \"\(text)\": unsupported algorithm \"\(algorithm)\"")
        }
        guard encoded.utf8.count == length,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw BerthError.invalid("invalid digest \"\(text)\": want \(length) lower-case hex digits")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// A digest from parts already known to be valid (a hasher's own output).
    public init(unchecked algorithm: String, _ encoded: String) {
        self.algorithm = algorithm
        self.encoded = encoded
    }

    public var description: String { "\(algorithm):\(encoded)" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        do {
            try self.init(text)
        } catch let e as BerthError {
            // A DecodingError carries the coding path, so the decoder's message names the field.
            throw DecodingError.dataCorruptedError(in: c, debugDescription: e.message)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public static func < (a: Digest, b: Digest) -> Bool { a.description < b.description }
}
