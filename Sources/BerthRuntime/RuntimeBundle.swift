#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// A loaded and validated OCI bundle: the config plus resolved absolute paths.
public struct RuntimeBundle: Sendable {
    /// The bundle directory, absolute.
    public var path: String
    public var spec: RuntimeSpec
    /// The root filesystem, absolute.
    public var rootfs: String
    /// Namespaces to create (no path) and join (with path).
    public var namespaces: [(kind: NamespaceKind, path: String?)]

    /// Loads `config.json` from a bundle directory and validates it. Every problem is a
    /// `BerthError` naming the field.
    public static func load(_ dir: String) throws -> RuntimeBundle {
        let abs = absolutePath(dir)
        guard FileSystem.isDirectory(abs) else { throw BerthError.notFound("bundle \(dir) is not a directory") }
        let configPath = "\(abs)/config.json"
        guard FileSystem.exists(configPath) else { throw BerthError.notFound("bundle \(dir) has no config.json") }
        let bytes = try FileSystem.read(configPath)
        let spec: RuntimeSpec
        do {
            spec = try BerthJSONDecoder().decode(RuntimeSpec.self, from: bytes)
        } catch let e as BerthError {
            throw BerthError.invalid("config.json: \(e.message)")
        }
        return try RuntimeBundle(path: abs, spec: spec)
    }

    /// Validates an in-memory spec for a bundle directory.
    public init(path: String, spec: RuntimeSpec) throws {
        self.path = path
        self.spec = spec
        guard spec.ociVersion.hasPrefix("1.") else {
            throw BerthError.invalid("config.json: unsupported ociVersion \"\(spec.ociVersion)\"")
        }
        guard let root = spec.root else { throw BerthError.invalid("config.json: missing field 'root'") }
        rootfs = root.path.hasPrefix("/") ? root.path : "\(path)/\(root.path)"
        guard FileSystem.isDirectory(rootfs) else {
            throw BerthError.notFound("config.json: root.path: rootfs \(rootfs) does not exist or is not a directory")
        }
        guard let process = spec.process else { throw BerthError.invalid("config.json: missing field 'process'") }
        guard let args = process.args, !args.isEmpty, !args[0].isEmpty else {
            throw BerthError.invalid("config.json: process.args must name a program")
        }
        guard process.cwd.hasPrefix("/") else {
            throw BerthError.invalid("config.json: process.cwd \"\(process.cwd)\" must be an absolute path")
        }
        var seen = Set<String>()
        var ns: [(NamespaceKind, String?)] = []
        for n in spec.linux?.namespaces ?? [] {
            guard let kind = NamespaceKind(ociType: n.type) else {
                throw BerthError.invalid("config.json: linux.namespaces: unknown namespace type \"\(n.type)\"")
            }
            guard seen.insert(n.type).inserted else {
                throw BerthError.invalid("config.json: linux.namespaces: namespace \"\(n.type)\" listed twice")
            }
            if let p = n.path, !p.isEmpty {
                guard FileSystem.exists(p) else {
                    throw BerthError.notFound("config.json: linux.namespaces: \(n.type) namespace path \(p) does not exist")
                }
                ns.append((kind, p))
            } else {
                ns.append((kind, nil))
            }
        }
        guard ns.contains(where: { $0.0 == .mount }) else {
            throw BerthError.invalid("config.json: linux.namespaces: a mount namespace is required")
        }
        if ns.contains(where: { $0.0 == .user && $0.1 == nil }) {
            if (spec.linux?.uidMappings ?? []).isEmpty || (spec.linux?.gidMappings ?? []).isEmpty {
                throw BerthError.invalid("config.json: a new user namespace needs linux.uidMappings and linux.gidMappings")
            }
        }
        for (i, m) in (spec.mounts ?? []).enumerated() where !m.destination.hasPrefix("/") {
            throw BerthError.invalid("config.json: mounts[\(i)].destination \"\(m.destination)\" must be an absolute path")
        }
        for r in process.rlimits ?? [] where Rlimits.number(of: r.type) == nil {
            throw BerthError.invalid("config.json: process.rlimits: unknown rlimit type \"\(r.type)\"")
        }
        if let caps = process.capabilities {
            for list in [caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient] {
                _ = try Capabilities.mask(list)
            }
        }
        self.namespaces = ns
    }

    /// The clone flags for the namespaces to create.
    public var cloneFlags: UInt64 {
        namespaces.filter { $0.path == nil }.reduce(0) { $0 | $1.kind.cloneFlag }
    }

    /// Whether a namespace of this kind is created or joined.
    public func has(_ kind: NamespaceKind) -> Bool { namespaces.contains { $0.kind == kind } }

    static func absolutePath(_ p: String) -> String {
        if p.hasPrefix("/") { return p }
        var buf = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buf, buf.count) != nil else { return p }
        let cwd = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return p == "." ? cwd : "\(cwd)/\(p)"
    }
}

/// rlimit names.
public enum Rlimits {
    static let table: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]
    /// The resource number of an rlimit name.
    public static func number(of name: String) -> Int32? { table[name] }
}
