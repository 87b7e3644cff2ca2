/// API versions: what we advertise and what we accept (Docker 28 accepts down to 1.24).
public struct APIVersion: Sendable, Comparable, CustomStringConvertible, Hashable {
    public var major: Int
    public var minor: Int

    public static let current = APIVersion(major: 1, minor: 51)
    public static let minimum = APIVersion(major: 1, minor: 24)

    public init(major: Int, minor: Int) { self.major = major; self.minor = minor }

    /// Parses `1.44`; nil if malformed.
    public init?(_ text: some StringProtocol) {
        let p = text.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == 2, let a = Int(p[0]), let b = Int(p[1]), a >= 0, b >= 0 else { return nil }
        major = a
        minor = b
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (a: APIVersion, b: APIVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    /// Splits a request path into its version prefix and the rest: `/v1.44/images/json` →
    /// (1.44, `/images/json`); unversioned paths get nil.
    public static func split(path: String) -> (APIVersion?, String, malformed: Bool) {
        guard path.hasPrefix("/v") else { return (nil, path, false) }
        let afterV = path.dropFirst(2)
        let end = afterV.firstIndex(of: "/") ?? afterV.endIndex
        let text = afterV[afterV.startIndex..<end]
        guard let first = text.first, first.isNumber else { return (nil, path, false) }
        guard let v = APIVersion(text) else { return (nil, path, true) }
        let rest = String(afterV[end...])
        return (v, rest.isEmpty ? "/" : rest, false)
    }
}
