import BerthCore

/// Entry names of a layer, cleaned the way Docker's archive code does (Go's `filepath.Clean`
/// relative to the extraction root).
public enum TarPath {
    /// The components of `name` after cleaning: empty and `.` components dropped, `..` applied
    /// lexically. An absolute name is taken relative to the root (a leading `/` is stripped
    /// and `..` at the root stays at the root, so `/a/../../x` is `x`). A relative name whose
    /// `..` climbs above the root (`../x`, `a/../../x`) is an error, as in Docker. An empty
    /// result means the root itself (`.`, `./`, `/`). Names containing NUL are refused.
    public static func components(_ name: String) throws -> [String] {
        if name.utf8.contains(0) { throw BerthError.invalid("tar entry name contains a NUL byte: \(name)") }
        let absolute = name.hasPrefix("/")
        var out: [String] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if out.isEmpty {
                    if absolute { continue }
                    throw BerthError.invalid("tar entry escapes the extraction root: \(name)")
                }
                out.removeLast()
                continue
            }
            out.append(String(part))
        }
        return out
    }

    /// The cleaned name as a relative path (`""` for the root).
    public static func clean(_ name: String) throws -> String {
        try components(name).joined(separator: "/")
    }
}
