import BerthCore
import BerthOCI

/// A direct reader from a parsed `JSONValue`, about three times faster than the generic
/// `Decodable` path; it runs on every container start. Same result as `BerthJSONDecoder` (a test
/// checks): unknown keys are ignored, `null` is the same as absent.
extension DockerSeccompProfile {
    public init(json: JSONValue) throws {
        let o = try Reader.object(json, "profile")
        defaultAction = try Reader.string(o["defaultAction"], "defaultAction")
        defaultErrnoRet = try Reader.optional(o["defaultErrnoRet"]) { try Reader.uint32($0, "defaultErrnoRet") }
        architectures = try Reader.optional(o["architectures"]) { try Reader.strings($0, "architectures") }
        archMap = try Reader.optional(o["archMap"]) { v in
            try Reader.array(v, "archMap").enumerated().map { i, e in
                let p = "archMap[\(i)]"
                let m = try Reader.object(e, p)
                return ArchMap(architecture: try Reader.string(m["architecture"], p + ".architecture"),
                               subArchitectures: try Reader.optional(m["subArchitectures"]) { try Reader.strings($0, p + ".subArchitectures") })
            }
        }
        syscalls = try Reader.optional(o["syscalls"]) { v in
            try Reader.array(v, "syscalls").enumerated().map { i, e in try Rule(json: e, path: "syscalls[\(i)]") }
        }
        flags = try Reader.optional(o["flags"]) { try Reader.strings($0, "flags") }
        listenerPath = try Reader.optional(o["listenerPath"]) { try Reader.string($0, "listenerPath") }
        listenerMetadata = try Reader.optional(o["listenerMetadata"]) { try Reader.string($0, "listenerMetadata") }
    }
}

extension DockerSeccompProfile.Rule {
    init(json: JSONValue, path p: String) throws {
        let o = try Reader.object(json, p)
        name = try Reader.optional(o["name"]) { try Reader.string($0, p + ".name") }
        names = try Reader.optional(o["names"]) { try Reader.strings($0, p + ".names") }
        action = try Reader.string(o["action"], p + ".action")
        errnoRet = try Reader.optional(o["errnoRet"]) { try Reader.uint32($0, p + ".errnoRet") }
        args = try Reader.optional(o["args"]) { v in
            try Reader.array(v, p + ".args").enumerated().map { i, e in
                let q = "\(p).args[\(i)]"
                let a = try Reader.object(e, q)
                return RuntimeSpec.SyscallArg(
                    index: try Reader.uint32(a["index"], q + ".index"),
                    value: try Reader.uint64(a["value"], q + ".value"),
                    valueTwo: try Reader.optional(a["valueTwo"]) { try Reader.uint64($0, q + ".valueTwo") },
                    op: try Reader.string(a["op"], q + ".op"))
            }
        }
        comment = try Reader.optional(o["comment"]) { try Reader.string($0, p + ".comment") }
        includes = try Reader.optional(o["includes"]) { try DockerSeccompProfile.Filter(json: $0, path: p + ".includes") }
        excludes = try Reader.optional(o["excludes"]) { try DockerSeccompProfile.Filter(json: $0, path: p + ".excludes") }
    }
}

extension DockerSeccompProfile.Filter {
    init(json: JSONValue, path p: String) throws {
        let o = try Reader.object(json, p)
        caps = try Reader.optional(o["caps"]) { try Reader.strings($0, p + ".caps") }
        arches = try Reader.optional(o["arches"]) { try Reader.strings($0, p + ".arches") }
        minKernel = try Reader.optional(o["minKernel"]) { try Reader.string($0, p + ".minKernel") }
    }
}

/// Typed access with errors naming the path: `seccomp profile: syscalls[3].action: expected a string`.
private enum Reader {
    static func fail(_ path: String, _ what: String) -> BerthError {
        BerthError.invalid("seccomp profile: \(path): expected \(what)")
    }

    static func optional<T>(_ v: JSONValue?, _ body: (JSONValue) throws -> T) throws -> T? {
        guard let v, !v.isNull else { return nil }
        return try body(v)
    }

    static func object(_ v: JSONValue?, _ path: String) throws -> JSONObject {
        guard case .object(let o)? = v else { throw fail(path, "an object") }
        return o
    }

    static func array(_ v: JSONValue?, _ path: String) throws -> [JSONValue] {
        guard case .array(let a)? = v else { throw fail(path, "an array") }
        return a
    }

    static func string(_ v: JSONValue?, _ path: String) throws -> String {
        guard case .string(let s)? = v else { throw fail(path, "a string") }
        return s
    }

    static func strings(_ v: JSONValue, _ path: String) throws -> [String] {
        try array(v, path).map { e in
            guard case .string(let s) = e else { throw fail(path, "an array of strings") }
            return s
        }
    }

    static func uint64(_ v: JSONValue?, _ path: String) throws -> UInt64 {
        guard let n = v?.uint64Value else { throw fail(path, "an unsigned integer") }
        return n
    }

    static func uint32(_ v: JSONValue?, _ path: String) throws -> UInt32 {
        guard let n = v?.uint64Value, let m = UInt32(exactly: n) else { throw fail(path, "an unsigned 32-bit integer") }
        return m
    }
}
