/// The one error type of Berth.
///
/// `code` says what kind of failure it is (and so which HTTP status the API answers with);
/// `message` is lower case and names the object (`no such container: web`); `cause` carries the
/// underlying error, if any, for logs.
public struct BerthError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of failure. One table (in the API layer) maps these to HTTP statuses.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// Bad input from the caller (HTTP 400).
        case invalidArgument
        /// The named object does not exist (HTTP 404).
        case notFound
        /// The object exists already or is in a conflicting state (HTTP 409).
        case conflict
        /// The caller may not do this (HTTP 403).
        case permissionDenied
        /// The operation is not supported here (HTTP 501).
        case unsupported
        /// A system call failed (HTTP 500).
        case system
        /// Data on disk or on the wire is corrupt (HTTP 500).
        case corrupt
        /// Anything else that is our fault (HTTP 500).
        case `internal`
    }

    public var code: Code
    public var message: String
    /// The error number of the failed system call, where there was one.
    public var errno: Int32?
    /// A short description of the underlying error.
    public var cause: String?

    public init(_ code: Code, _ message: String, errno: Int32? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }

    /// Prefixes the message with context: `"create container web"` + `"no such file"`.
    public func context(_ prefix: String) -> BerthError {
        var e = self
        e.message = "\(prefix): \(message)"
        return e
    }

    public static func invalid(_ message: String) -> BerthError { BerthError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> BerthError { BerthError(.notFound, message) }
    public static func conflict(_ message: String) -> BerthError { BerthError(.conflict, message) }
    public static func unsupported(_ message: String) -> BerthError { BerthError(.unsupported, message) }
    public static func permissionDenied(_ message: String) -> BerthError { BerthError(.permissionDenied, message) }
}
