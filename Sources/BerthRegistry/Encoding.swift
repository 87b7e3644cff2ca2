#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import struct Crypto.SHA256

/// Small encoders the registry needs without Foundation: hex, base64 (standard and URL-safe),
/// SHA-256 digests and random upload ids.
enum Encoding {
    static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest of bytes in memory.
    static func sha256(_ bytes: [UInt8]) -> Digest {
        Digest(unchecked: "sha256", hex(SHA256.hash(data: bytes)))
    }

    /// Base64; `url` selects the URL-safe alphabet without padding (RFC 4648 §5).
    static func base64(_ bytes: [UInt8], url: Bool = false) -> String { Base64.encode(bytes, url: url) }

    /// Decodes standard or URL-safe base64, padded or not; nil when malformed.
    static func base64Decode(_ text: String) -> [UInt8]? { Base64.decode(text) }

    /// A random RFC 4122 version-4 UUID, lower case.
    static func uuid() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let h = hex(bytes)
        let u = Array(h.utf8)
        func part(_ r: Range<Int>) -> String { String(decoding: u[r], as: UTF8.self) }
        return "\(part(0..<8))-\(part(8..<12))-\(part(12..<16))-\(part(16..<20))-\(part(20..<32))"
    }

    /// Whether `s` looks like an upload id we issued (so it is safe as a path component).
    static func isUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
                return false
            }
        }
        return true
    }

    /// Constant-time comparison of two byte strings.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
