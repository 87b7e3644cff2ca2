/// One HTTP request as seen by a handler: the head, plus the body as a stream.
public struct HTTPRequest: Sendable {
    /// The method, upper case as sent (`GET`, `POST`, …).
    public let method: String
    /// The raw request target (`/containers/json?all=1`).
    public let uri: String
    /// The header fields as received.
    public let headers: HTTPHeaderFields
    /// HTTP version, `(1, 1)` or `(1, 0)`.
    public let version: (major: Int, minor: Int)
    /// The peer, for logs (`unix` or `127.0.0.1:54321`).
    public let remoteDescription: String
    /// The body. Empty when the request has no `Content-Length` or chunked body.
    /// Read it incrementally; the server reads from the socket only as fast as it is consumed.
    public let body: HTTPBodyStream

    /// Makes a request (the server does this; public so handlers can be unit-tested directly).
    public init(
        method: String,
        uri: String,
        headers: HTTPHeaderFields = [],
        version: (major: Int, minor: Int) = (1, 1),
        remoteDescription: String = "",
        body: HTTPBodyStream = .empty
    ) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.version = version
        self.remoteDescription = remoteDescription
        self.body = body
    }

    /// The percent-decoded path, without the query (`/containers/my web/json`).
    public var path: String {
        let raw: Substring
        if let q = uri.firstIndex(of: "?") { raw = uri[..<q] } else { raw = Substring(uri) }
        return percentDecode(raw, plusAsSpace: false)
    }

    /// The query parameters, percent-decoded (`+` as space); repeated keys keep every value in order.
    public var query: [String: [String]] {
        guard let q = uri.firstIndex(of: "?") else { return [:] }
        var result: [String: [String]] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
            let key: String
            let value: String
            if let eq = pair.firstIndex(of: "=") {
                key = percentDecode(pair[..<eq], plusAsSpace: true)
                value = percentDecode(pair[pair.index(after: eq)...], plusAsSpace: true)
            } else {
                key = percentDecode(pair, plusAsSpace: true)
                value = ""
            }
            result[key, default: []].append(value)
        }
        return result
    }

    /// The first value of query parameter `name`, if present.
    public func queryValue(_ name: String) -> String? {
        query[name]?.first
    }

    /// Whether the client asked for `Connection: Upgrade` + `Upgrade: tcp` (Docker's hijack).
    public var wantsUpgrade: Bool {
        guard let connection = headers["connection"], connection.containsToken("upgrade") else { return false }
        return headers["upgrade"] != nil
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept literally; invalid UTF-8 is repaired).
func percentDecode(_ s: Substring, plusAsSpace: Bool) -> String {
    let utf8 = s.utf8
    if !utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
        return String(s)
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count)
    var i = utf8.startIndex
    while i != utf8.endIndex {
        let c = utf8[i]
        if c == UInt8(ascii: "%") {
            let h1 = utf8.index(after: i)
            if h1 != utf8.endIndex {
                let h2 = utf8.index(after: h1)
                if h2 != utf8.endIndex, let hi = hexValue(utf8[h1]), let lo = hexValue(utf8[h2]) {
                    out.append(hi << 4 | lo)
                    i = utf8.index(after: h2)
                    continue
                }
            }
            out.append(c)
        } else if plusAsSpace && c == UInt8(ascii: "+") {
            out.append(UInt8(ascii: " "))
        } else {
            out.append(c)
        }
        i = utf8.index(after: i)
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
