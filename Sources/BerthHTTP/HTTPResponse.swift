/// What a handler answers: a status, header fields, and one of three kinds of body.
///
/// - `bytes`: a fixed body sent with `Content-Length` (the fast path; no extra task hop).
/// - `stream`: a chunked body produced by a closure writing through an ``HTTPBodyWriter``;
///   each write is flushed at once (for `/events`, pull and load progress).
/// - `hijack`: Docker's `Upgrade: tcp`: after the head, the connection becomes a raw
///   bidirectional byte stream handed to the closure as a ``HijackedStream``.
public struct HTTPResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
        case hijack(@Sendable (HijackedStream) async throws -> Void)
    }

    /// The status code.
    public var status: Int
    /// The header fields the handler chose. The server adds `Content-Length` (fixed bodies),
    /// `Transfer-Encoding: chunked` (streams) and `Connection`/`Upgrade` (hijack) itself.
    public var headers: HTTPHeaderFields
    let body: Body

    init(status: Int, headers: HTTPHeaderFields, body: Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a fixed body (possibly empty), sent with `Content-Length`.
    public static func bytes(status: Int = 200, headers: HTTPHeaderFields = [], body: [UInt8] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .bytes(body))
    }

    /// A UTF-8 text body with the given content type.
    public static func text(
        status: Int = 200, _ text: String, contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }

    /// A chunked streaming response. The head is sent before `body` runs; `body` writes chunks
    /// and returns to end the response. If it throws, the connection is closed (a chunked body
    /// cannot carry an error). If the client disconnects, writes throw and the task running
    /// `body` is cancelled.
    public static func stream(
        status: Int = 200, headers: HTTPHeaderFields = [],
        _ body: @escaping @Sendable (HTTPBodyWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(body))
    }

    /// Hijacks the connection (Docker attach/exec). With status 101 the head carries
    /// `Connection: Upgrade` and `Upgrade: tcp` (reason `UPGRADED`); with 200 (for clients that
    /// sent no upgrade headers) a plain head with neither length nor chunking is sent. Then
    /// `body` owns the raw byte stream; the connection is closed when it returns or throws.
    public static func hijack(
        status: Int = 101, headers: HTTPHeaderFields = [],
        _ body: @escaping @Sendable (HijackedStream) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .hijack(body))
    }
}

/// Serves requests. Called once per request on the Swift concurrency pool; may be called
/// concurrently for requests on different connections.
public protocol HTTPHandler: Sendable {
    /// Answers `request`. A thrown error becomes `500` with a Docker-style
    /// `{"message": "..."}` body (map errors to statuses yourself for anything better).
    func handle(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// An ``HTTPHandler`` made from a closure.
public struct HTTPClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// Wraps `body`.
    public init(_ body: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        self.body = body
    }

    /// Calls the closure.
    public func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await body(request)
    }
}

extension HTTPResponse {
    /// The response for a handler that threw.
    static func internalError(_ error: any Error) -> HTTPResponse {
        let message = String(describing: error)
        return .bytes(
            status: 500, headers: [("Content-Type", "application/json")],
            body: Array("{\"message\":\(jsonQuoted(message))}\n".utf8))
    }
}

/// A JSON string literal for `s`.
func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
