#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Facts about the host and the engine, for `/info` and `/version`.
public struct SystemService: Sendable {
    public let root: String
    /// A stable engine ID (kept in `<root>/engine-id`).
    public let engineID: String
    public let version = "0.3.0"
    public let gitCommit = "berth"

    public init(root: String, engineID: String) {
        self.root = root
        self.engineID = engineID
    }

    static func loadOrCreateID(root: String) throws -> String {
        let path = root + "/engine-id"
        if let bytes = try? FileSystem.read(path), !bytes.isEmpty {
            return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: "\n ")
        }
        let raw = Array(try FileSystem.read("/dev/urandom", limit: 16).prefix(16))
        let hex = raw.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let id = "\(hex.prefix(8))-\(hex.dropFirst(8).prefix(4))-\(hex.dropFirst(12).prefix(4))-\(hex.dropFirst(16).prefix(4))-\(hex.dropFirst(20))"
        try FileSystem.writeAtomically(path, Array(id.utf8), mode: 0o600)
        return id
    }

    /// `uname -r`.
    public var kernelVersion: String {
        var u = utsname()
        uname(&u)
        return withUnsafePointer(to: &u.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
    }

    /// The host name.
    public var hostname: String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(cString: buf)
    }

    /// PRETTY_NAME and VERSION_ID of /etc/os-release.
    public var operatingSystem: (name: String, version: String) {
        guard let text = try? FileSystem.readString("/etc/os-release") else { return ("Linux", "") }
        var name = "Linux", version = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("PRETTY_NAME=") { name = String(line.dropFirst(12)).trimmingCharacters(in: "\"") }
            if line.hasPrefix("VERSION_ID=") { version = String(line.dropFirst(11)).trimmingCharacters(in: "\"") }
        }
        return (name, version)
    }

    public var cpuCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    public var memoryTotal: Int64 { Int64(sysconf(Int32(_SC_PHYS_PAGES))) * Int64(sysconf(Int32(_SC_PAGESIZE))) }

    /// "1" on v1 and hybrid hosts, "2" on unified ones.
    public var cgroupVersion: String {
        FileSystem.exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1"
    }
}

extension String {
    /// Without the given characters at either end.
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        guard let a = firstIndex(where: { !chars.contains($0) }), let b = lastIndex(where: { !chars.contains($0) }) else { return "" }
        return String(self[a...b])
    }
}
