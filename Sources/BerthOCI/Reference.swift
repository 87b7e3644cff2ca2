import BerthCore

/// An image reference as Docker parses it (distribution/reference): `[domain/]path[:tag][@digest]`.
///
/// Normalized like Docker: no domain means `docker.io`, a single-component path on docker.io
/// gains `library/`, and a reference with neither tag nor digest means `:latest`
/// (`withDefaultTag`). `familiar` is the short form Docker shows (`busybox:latest`).
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    /// Registry host (with port), e.g. `docker.io`, `localhost:5000`.
    public var domain: String
    /// Repository path, e.g. `library/busybox`.
    public var path: String
    public var tag: String?
    public var digest: Digest?

    public static let defaultDomain = "docker.io"

    /// Parses and normalizes a reference. Errors name the input as Docker does
    /// (`invalid reference format`, `invalid reference format: repository name must be lowercase`).
    public init(parsing text: String) throws {
        guard !text.isEmpty else { throw BerthError.invalid("invalid reference format") }
        guard text.utf8.count <= 255 + 72 + 129 else { throw BerthError.invalid("invalid reference format: repository name must not be more than 255 characters") }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do { digest = try Digest(String(rest[rest.index(after: at)...])) } catch {
                throw BerthError.invalid("invalid reference format")
            }
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let t = String(rest[rest.index(after: colon)...])
            guard Reference.isValidTag(t) else { throw BerthError.invalid("invalid reference format") }
            tag = t
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var domain = Reference.defaultDomain
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" || first.contains(where: { $0.isUppercase }) {
            guard Reference.isValidDomain(first) else { throw BerthError.invalid("invalid reference format") }
            domain = first
            components.removeFirst()
        }
        if domain == "index.docker.io" { domain = Reference.defaultDomain }
        for c in components {
            if c.contains(where: { $0.isUppercase }) {
                throw BerthError.invalid("invalid reference format: repository name (\(components.joined(separator: "/"))) must be lowercase")
            }
            guard Reference.isValidComponent(c) else { throw BerthError.invalid("invalid reference format") }
        }
        var path = components.joined(separator: "/")
        if domain == Reference.defaultDomain && components.count == 1 { path = "library/" + path }
        guard path.utf8.count + domain.utf8.count < 256 else {
            throw BerthError.invalid("invalid reference format: repository name must not be more than 255 characters")
        }
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    public init(domain: String, path: String, tag: String? = nil, digest: Digest? = nil) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// `docker.io/library/busybox` — the repository in full.
    public var repository: String { "\(domain)/\(path)" }

    /// The repository as Docker shows it: `busybox`, `user/app`, `localhost:5000/app`.
    public var familiarRepository: String {
        if domain == Reference.defaultDomain {
            if path.hasPrefix("library/") && path.split(separator: "/").count == 2 { return String(path.dropFirst(8)) }
            return path
        }
        return repository
    }

    /// The reference with `:latest` when it has neither tag nor digest.
    public var withDefaultTag: Reference {
        var r = self
        if r.tag == nil && r.digest == nil { r.tag = "latest" }
        return r
    }

    /// The full normalized form: `docker.io/library/busybox:latest`.
    public var description: String {
        var s = repository
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// The familiar form: `busybox:latest`, `busybox@sha256:…`.
    public var familiar: String {
        var s = familiarRepository
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// A valid tag: `[\w][\w.-]{0,127}`.
    public static func isValidTag(_ t: String) -> Bool {
        let u = Array(t.utf8)
        guard !u.isEmpty, u.count <= 128 else { return false }
        func word(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == UInt8(ascii: "_")
        }
        guard word(u[0]) else { return false }
        return u.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// A path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    static func isValidComponent(_ c: String) -> Bool {
        let u = Array(c.utf8)
        guard !u.isEmpty else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) }
        var i = 0
        guard alnum(u[0]) else { return false }
        while i < u.count {
            while i < u.count && alnum(u[i]) { i += 1 }
            if i == u.count { return true }
            // separator
            let start = i
            if u[i] == UInt8(ascii: ".") { i += 1 }
            else if u[i] == UInt8(ascii: "_") { i += 1; if i < u.count && u[i] == UInt8(ascii: "_") { i += 1 } }
            else if u[i] == UInt8(ascii: "-") { while i < u.count && u[i] == UInt8(ascii: "-") { i += 1 } }
            else { return false }
            if i == start || i == u.count || !alnum(u[i]) { return false }
        }
        return true
    }

    /// A registry host: labels of `[a-zA-Z0-9-]`, dots, optional `:port`, or a bracketed IPv6.
    static func isValidDomain(_ d: String) -> Bool {
        var host = Substring(d)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), p > 0, p < 65536 else { return false }
            }
            return true
        }
        if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), p > 0, p < 65536 else { return false }
            host = host[..<colon]
        }
        guard !host.isEmpty else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
