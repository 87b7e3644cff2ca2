#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Resolves Docker's `--user` (`name`, `uid`, `name:group`, `uid:gid`) and `--group-add`
/// against the container's own /etc/passwd and /etc/group, read inside the rootfs (symlinks
/// can't lead out of it).
enum UserLookup {
    struct Resolved: Equatable {
        var uid: UInt32
        var gid: UInt32
        var additionalGids: [UInt32]
    }

    struct PasswdEntry { var name: String; var uid: UInt32; var gid: UInt32 }
    struct GroupEntry { var name: String; var gid: UInt32; var members: [String] }

    static func resolve(_ spec: String, groupAdd: [String], rootfs: String) throws -> Resolved {
        let passwd = parsePasswd(read(rootfs, "/etc/passwd"))
        let groups = parseGroup(read(rootfs, "/etc/group"))
        return try resolve(spec, groupAdd: groupAdd, passwd: passwd, groups: groups)
    }

    static func resolve(_ spec: String, groupAdd: [String], passwd: [PasswdEntry], groups: [GroupEntry]) throws -> Resolved {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        var uid: UInt32 = 0, gid: UInt32 = 0
        var userName: String?
        if userPart.isEmpty {
            if let root = passwd.first(where: { $0.uid == 0 }) { userName = root.name; gid = root.gid }
        } else if let n = UInt32(userPart) {
            uid = n
            if let e = passwd.first(where: { $0.uid == n }) { userName = e.name; gid = e.gid }
        } else {
            guard let e = passwd.first(where: { $0.name == userPart }) else {
                throw BerthError.invalid("unable to find user \(userPart): no matching entries in passwd file")
            }
            uid = e.uid; gid = e.gid; userName = e.name
        }
        if parts.count == 2 {
            gid = try group(parts[1], groups)
        }
        var extra: [UInt32] = []
        // Supplementary groups of the user (only when no group was given, as Docker).
        if parts.count == 1, let name = userName {
            for g in groups where g.members.contains(name) && g.gid != gid && !extra.contains(g.gid) { extra.append(g.gid) }
        }
        for g in groupAdd {
            let n = try group(g, groups)
            if !extra.contains(n) { extra.append(n) }
        }
        return Resolved(uid: uid, gid: gid, additionalGids: extra)
    }

    static func group(_ s: String, _ groups: [GroupEntry]) throws -> UInt32 {
        if let n = UInt32(s) { return n }
        guard let g = groups.first(where: { $0.name == s }) else {
            throw BerthError.invalid("unable to find group \(s): no matching entries in group file")
        }
        return g.gid
    }

    static func read(_ rootfs: String, _ path: String) -> String {
        guard let root = try? FD.open(rootfs, O_PATH | O_DIRECTORY) else { return "" }
        defer { FD.close(root) }
        guard let fd = try? FD.openInRoot(root, path, O_RDONLY) else { return "" }
        defer { FD.close(fd) }
        let bytes = (try? FileSystem.readAll(fd: fd, what: path)) ?? []
        return String(decoding: bytes.prefix(4 << 20), as: UTF8.self)
    }

    static func parsePasswd(_ text: String) -> [PasswdEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, !line.hasPrefix("#"), let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return PasswdEntry(name: String(f[0]), uid: uid, gid: gid)
        }
    }

    static func parseGroup(_ text: String) -> [GroupEntry] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 3, !line.hasPrefix("#"), let gid = UInt32(f[2]) else { return nil }
            let members = f.count > 3 ? f[3].split(separator: ",").map(String.init) : []
            return GroupEntry(name: String(f[0]), gid: gid, members: members)
        }
    }
}
