import BerthCore
import BerthSystem

/// A guest kernel on the host: the image QEMU boots and the module directory of the same
/// version (Debian's linux-image-cloud-amd64 puts them in /boot and /lib/modules).
public struct GuestKernel: Sendable, Equatable {
    /// The kernel image, e.g. `/boot/vmlinuz-6.1.0-56-cloud-amd64`.
    public var image: String
    /// Its release, e.g. `6.1.0-56-cloud-amd64`.
    public var version: String
    /// `/lib/modules/<version>`.
    public var modulesDirectory: String

    public init(image: String, version: String, modulesDirectory: String) {
        self.image = image
        self.version = version
        self.modulesDirectory = modulesDirectory
    }

    /// The newest `vmlinuz-*-cloud-amd64` in `boot` whose modules are in `modules`.
    /// Throws `.notFound` saying what to install when there is none.
    public static func findCloudKernel(boot: String = "/boot", modules: String = "/lib/modules") throws -> GuestKernel {
        let names = (try? FileSystem.list(boot)) ?? []
        let versions = names.compactMap { n -> String? in
            guard n.hasPrefix("vmlinuz-"), n.hasSuffix("-cloud-amd64") else { return nil }
            return String(n.dropFirst("vmlinuz-".count))
        }.filter { FileSystem.exists("\(modules)/\($0)/modules.dep") }
        guard let newest = versions.max(by: { compareVersions($0, $1) }) else {
            throw BerthError.notFound("no guest kernel: no \(boot)/vmlinuz-*-cloud-amd64 with modules in \(modules) (install linux-image-cloud-amd64)")
        }
        return GuestKernel(image: "\(boot)/vmlinuz-\(newest)", version: newest, modulesDirectory: "\(modules)/\(newest)")
    }

    /// Numeric-aware ordering of kernel releases (`6.1.0-9` < `6.1.0-56`).
    static func compareVersions(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [Int] { s.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) } }
        return parts(a).lexicographicallyPrecedes(parts(b))
    }
}
