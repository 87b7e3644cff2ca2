/// Validation of repository names and tags (OCI distribution spec, "Pulling manifests").
public enum RepositoryName {
    /// The longest name docker/distribution accepts.
    public static let maxLength = 255

    /// Whether `name` matches
    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
    /// and is at most 255 bytes.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        var components: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "/") {
            components.append(bytes[start..<i])
            start = i + 1
        }
        components.append(bytes[start...])
        return components.allSatisfy(isValidComponent)
    }

    /// One path component: alphanumeric runs separated by `.`, `_`, `__` or one or more `-`.
    static func isValidComponent(_ c: ArraySlice<UInt8>) -> Bool {
        guard let first = c.first, let last = c.last, isAlnum(first), isAlnum(last) else { return false }
        var i = c.startIndex
        while i < c.endIndex {
            let b = c[i]
            if isAlnum(b) { i += 1; continue }
            // A separator run: `.`, `_`, `__`, or `-+`, followed by an alphanumeric.
            var j = i
            switch b {
            case UInt8(ascii: "."):
                j += 1
            case UInt8(ascii: "_"):
                j += 1
                if j < c.endIndex && c[j] == UInt8(ascii: "_") { j += 1 }
            case UInt8(ascii: "-"):
                while j < c.endIndex && c[j] == UInt8(ascii: "-") { j += 1 }
            default:
                return false
            }
            guard j < c.endIndex, isAlnum(c[j]) else { return false }
            i = j
        }
        return true
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a)
    }

    /// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool {
            isAlnum(b) || (b >= 0x41 && b <= 0x5a) || b == UInt8(ascii: "_")
        }
        guard word(first) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }
}
