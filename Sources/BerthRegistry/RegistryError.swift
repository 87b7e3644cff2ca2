import BerthCore
import BerthHTTP

/// An error of the distribution API, answered as the spec's JSON body
/// `{"errors":[{"code":"BLOB_UNKNOWN","message":"…","detail":…}]}` with its HTTP status.
public struct RegistryError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The spec's error codes (OCI distribution spec, "Error Codes"), plus `RANGE_INVALID`
    /// (docker/distribution's answer to an out-of-order chunk) and `UNSUPPORTED`.
    public enum Code: String, Sendable, CaseIterable {
        case blobUnknown = "BLOB_UNKNOWN"
        case blobUploadInvalid = "BLOB_UPLOAD_INVALID"
        case blobUploadUnknown = "BLOB_UPLOAD_UNKNOWN"
        case digestInvalid = "DIGEST_INVALID"
        case manifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
        case manifestInvalid = "MANIFEST_INVALID"
        case manifestUnknown = "MANIFEST_UNKNOWN"
        case nameInvalid = "NAME_INVALID"
        case nameUnknown = "NAME_UNKNOWN"
        case sizeInvalid = "SIZE_INVALID"
        case tagInvalid = "TAG_INVALID"
        case unauthorized = "UNAUTHORIZED"
        case denied = "DENIED"
        case unsupported = "UNSUPPORTED"
        case rangeInvalid = "RANGE_INVALID"
        case paginationNumberInvalid = "PAGINATION_NUMBER_INVALID"
    }

    /// The spec's code.
    public var code: Code
    /// HTTP status to answer with.
    public var status: Int
    /// A lower-case human message.
    public var message: String
    /// Optional free-form detail (JSON).
    public var detail: JSONValue?

    /// Makes an error; `status` defaults to the code's usual status.
    public init(_ code: Code, _ message: String, detail: JSONValue? = nil, status: Int? = nil) {
        self.code = code
        self.message = message
        self.detail = detail
        self.status = status ?? Self.defaultStatus(code)
    }

    /// The status docker/distribution answers each code with.
    public static func defaultStatus(_ code: Code) -> Int {
        switch code {
        case .blobUnknown, .blobUploadUnknown, .manifestUnknown, .nameUnknown: return 404
        case .unauthorized: return 401
        case .denied: return 403
        case .unsupported: return 405
        case .rangeInvalid: return 416
        case .manifestBlobUnknown, .blobUploadInvalid, .digestInvalid, .manifestInvalid,
             .nameInvalid, .sizeInvalid, .tagInvalid, .paginationNumberInvalid:
            return 400
        }
    }

    /// `CODE: message`, for logs.
    public var description: String { "\(code.rawValue): \(message)" }

    /// The JSON error body.
    public var body: [UInt8] {
        var entry: JSONObject = ["code": .string(code.rawValue), "message": .string(message)]
        entry["detail"] = detail ?? .null
        let value: JSONValue = ["errors": .array([.object(entry)])]
        return JSON.serialize(value)
    }

    /// The HTTP response, with `extraHeaders` (e.g. `WWW-Authenticate`, `Range`).
    public func response(extraHeaders: HTTPHeaderFields = []) -> HTTPResponse {
        var headers: HTTPHeaderFields = [("Content-Type", "application/json; charset=utf-8"),
                                         ("Docker-Distribution-API-Version", "registry/2.0")]
        for field in extraHeaders { headers.add(field.name, field.value) }
        return .bytes(status: status, headers: headers, body: body)
    }
}
