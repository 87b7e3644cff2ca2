import BerthCore
import BerthSystem

/// A kernel's loadable modules, from `/lib/modules/<version>/modules.dep` (and
/// `modules.builtin`): which file a module is, what it needs, and the order to load them in.
public struct KernelModules: Sendable {
    /// The module directory, `/lib/modules/<version>`.
    public let directory: String
    /// Module name (`virtio_blk`; dashes read as underscores) → path relative to `directory`.
    public private(set) var paths: [String: String] = [:]
    /// Module name → the names it depends on (modules.dep lists them all, transitively).
    public private(set) var dependencies: [String: [String]] = [:]
    /// Modules built into the kernel (nothing to load).
    public private(set) var builtin: Set<String> = []

    /// Reads `directory/modules.dep` and, if present, `modules.builtin`.
    public init(directory: String) throws {
        let dep: String
        do {
            dep = try FileSystem.readString(directory + "/modules.dep")
        } catch {
            throw BerthError.notFound("kernel modules not found: \(directory)/modules.dep (install the kernel's modules)")
        }
        self.init(directory: directory, modulesDep: dep,
                  modulesBuiltin: (try? FileSystem.readString(directory + "/modules.builtin")) ?? "")
    }

    /// Parses the texts of modules.dep and modules.builtin.
    public init(directory: String, modulesDep: String, modulesBuiltin: String = "") {
        self.directory = directory
        for line in modulesDep.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let path = String(line[..<colon])
            let deps = line[line.index(after: colon)...].split(separator: " ").map { KernelModules.name(ofPath: String($0)) }
            let name = KernelModules.name(ofPath: path)
            paths[name] = path
            dependencies[name] = deps
        }
        for line in modulesBuiltin.split(separator: "\n") {
            builtin.insert(KernelModules.name(ofPath: String(line)))
        }
    }

    /// `kernel/drivers/block/virtio_blk.ko.xz` → `virtio_blk`.
    public static func name(ofPath path: String) -> String {
        var base = Substring(path.split(separator: "/").last ?? Substring(path))
        for suffix in [".xz", ".zst", ".gz"] where base.hasSuffix(suffix) { base = base.dropLast(suffix.count) }
        if base.hasSuffix(".ko") { base = base.dropLast(3) }
        return String(base).replacingDashes
    }

    /// The modules to load for `names`, dependencies first, each once, built-ins left out.
    /// Throws `.notFound` naming a module that is neither a file nor built in.
    public func loadOrder(for names: [String]) throws -> [String] {
        var order: [String] = []
        var seen: Set<String> = []
        func visit(_ raw: String, chain: [String]) throws {
            let name = raw.replacingDashes
            if seen.contains(name) { return }
            seen.insert(name)
            if builtin.contains(name) && paths[name] == nil { return }
            guard paths[name] != nil else {
                let via = chain.isEmpty ? "" : " (needed by \(chain.joined(separator: " → ")))"
                throw BerthError.notFound("kernel module not found: \(name)\(via) in \(directory)/modules.dep")
            }
            for d in dependencies[name] ?? [] { try visit(d, chain: chain + [name]) }
            order.append(name)
        }
        for n in names { try visit(n, chain: []) }
        return order
    }
}

extension String {
    var replacingDashes: String {
        String(self.map { $0 == "-" ? "_" : $0 })
    }
}
