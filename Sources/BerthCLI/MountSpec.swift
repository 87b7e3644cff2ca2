import BerthCore
import BerthOCI

/// Docker's parsers for `-v/--volume`, `--mount`, `--tmpfs` and `--device` values (pure: the
/// working directory is passed in for relative bind sources).
enum MountSpec {
    /// Where a `-v` value goes: an anonymous volume (`Config.Volumes`) or a bind/named volume
    /// (`HostConfig.Binds`, with `./rel` sources made absolute).
    enum Volume: Equatable {
        case anonymous(String)
        case bind(String)
    }

    /// Docker's `-v` rules (compose's `ParseVolume`): `dst`, `src:dst`, `src:dst:opts`; the
    /// options (`ro`, `rw`, `z`, `Z`, propagation, `nocopy`) are checked by the daemon.
    static func volume(_ spec: String, cwd: String) throws -> Volume {
        guard !spec.isEmpty else { throw Units.ParseError("invalid empty volume spec") }
        if spec.count <= 2 { return .anonymous(spec) }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.contains(where: \.isEmpty) { throw Units.ParseError("invalid spec: \(spec): empty section between colons") }
        if parts.count > 3 { throw Units.ParseError("invalid spec: \(spec): too many colons") }
        if parts.count == 1 { return .anonymous(spec) }
        var source = parts[0]
        let isPath = source.hasPrefix(".") || source.hasPrefix("/") || source.hasPrefix("~")
        if isPath && source.hasPrefix(".") { source = absolute(source, cwd: cwd) }
        return .bind(([source] + parts.dropFirst()).joined(separator: ":"))
    }

    /// `path` made absolute against `cwd` and cleaned (Go's `filepath.Abs`).
    static func absolute(_ path: String, cwd: String) -> String {
        let joined = path.hasPrefix("/") ? path : cwd + "/" + path
        var out: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(part)
        }
        return "/" + out.joined(separator: "/")
    }

    /// `--mount type=bind,source=/a,target=/b,readonly` (docker's `MountOpt.Set`). The type
    /// defaults to `volume`.
    static func mount(_ spec: String, cwd: String) throws -> Mount {
        var type = "volume"
        var source: String?
        var target: String?
        var readOnly = false
        var consistency: String?
        var bind: Mount.BindOptions?
        var volume: Mount.VolumeOptions?
        var tmpfs: Mount.TmpfsOptions?
        var driverName: String?
        var driverOptions: [String: String]?
        func bindOptions() -> Mount.BindOptions { bind ?? Mount.BindOptions() }
        func volumeOptions() -> Mount.VolumeOptions { volume ?? Mount.VolumeOptions() }
        func tmpfsOptions() -> Mount.TmpfsOptions { tmpfs ?? Mount.TmpfsOptions() }
        func bool(_ key: String, _ value: String) throws -> Bool {
            switch value.lowercased() {
            case "1", "t", "true": return true
            case "0", "f", "false": return false
            default: throw Units.ParseError("invalid value for \(key): \(value)")
            }
        }

        for field in try csvFields(spec) {
            guard let eq = field.firstIndex(of: "=") else {
                switch field.lowercased() {
                case "readonly", "ro": readOnly = true
                case "volume-nocopy": var v = volumeOptions(); v.NoCopy = true; volume = v
                case "bind-nonrecursive":
                    throw Units.ParseError("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
                default: throw Units.ParseError("invalid field '\(field)' must be a key=value pair")
                }
                continue
            }
            let key = field[..<eq].lowercased()
            let value = String(field[field.index(after: eq)...])
            switch key {
            case "type": type = value.lowercased()
            case "source", "src":
                source = value
                if value.hasPrefix(".") { source = absolute(value, cwd: cwd) }
            case "target", "dst", "destination": target = value
            case "readonly", "ro": readOnly = try bool(key, value)
            case "consistency": consistency = value.lowercased()
            case "bind-propagation": var b = bindOptions(); b.Propagation = value.lowercased(); bind = b
            case "bind-nonrecursive":
                throw Units.ParseError("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
            case "bind-recursive":
                var b = bindOptions()
                switch value {
                case "enabled": break
                case "disabled": b.NonRecursive = true
                case "writable": b.ReadOnlyNonRecursive = true
                case "readonly": b.ReadOnlyForceRecursive = true
                default:
                    throw Units.ParseError("invalid value for \(key): \(value) (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")")
                }
                bind = b
            case "bind-create-src", "bind-create-mountpoint":
                var b = bindOptions(); b.CreateMountpoint = try bool(key, value); bind = b
            case "volume-subpath": var v = volumeOptions(); v.Subpath = value; volume = v
            case "volume-nocopy": var v = volumeOptions(); v.NoCopy = try bool(key, value); volume = v
            case "volume-label":
                var v = volumeOptions()
                let (k, val) = keyValue(value)
                v.Labels = (v.Labels ?? [:]).merging([k: val]) { $1 }
                volume = v
            case "volume-driver":
                volume = volumeOptions()
                driverName = value
            case "volume-opt":
                volume = volumeOptions()
                let (k, val) = keyValue(value)
                driverOptions = (driverOptions ?? [:]).merging([k: val]) { $1 }
            case "tmpfs-size":
                var t = tmpfsOptions()
                guard let size = try? Units.ramInBytes(value) else { throw Units.ParseError("invalid value for \(key): \(value)") }
                t.SizeBytes = size
                tmpfs = t
            case "tmpfs-mode":
                var t = tmpfsOptions()
                guard let mode = UInt32(value, radix: 8) else { throw Units.ParseError("invalid value for \(key): \(value)") }
                t.Mode = mode
                tmpfs = t
            default:
                throw Units.ParseError("unexpected key '\(key)' in '\(field)'")
            }
        }
        guard let target, !target.isEmpty else { throw Units.ParseError("target is required") }
        if volume != nil && type != "volume" { throw Units.ParseError("cannot mix 'volume-*' options with mount type '\(type)'") }
        if bind != nil && type != "bind" { throw Units.ParseError("cannot mix 'bind-*' options with mount type '\(type)'") }
        if tmpfs != nil && type != "tmpfs" { throw Units.ParseError("cannot mix 'tmpfs-*' options with mount type '\(type)'") }
        if let b = bind {
            if b.ReadOnlyNonRecursive == true && !readOnly {
                throw Units.ParseError("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
            }
            if b.ReadOnlyForceRecursive == true {
                if !readOnly { throw Units.ParseError("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction") }
                if b.Propagation != "rprivate" {
                    throw Units.ParseError("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
                }
            }
        }
        if driverName != nil || driverOptions != nil {
            var driver: JSONObject = [:]
            if let driverName { driver.updateValue(.string(driverName), forKey: "Name") }
            if let driverOptions {
                var o: JSONObject = [:]
                for (k, v) in driverOptions.sorted(by: { $0.key < $1.key }) { o.updateValue(.string(v), forKey: k) }
                driver.updateValue(.object(o), forKey: "Options")
            }
            volume?.DriverConfig = .object(driver)
        }
        var m = Mount(type: type, source: source, target: target, readOnly: readOnly ? true : nil)
        m.Consistency = consistency
        m.BindOptions = bind
        m.VolumeOptions = volume
        m.TmpfsOptions = tmpfs
        return m
    }

    /// `k=v` → (k, v); `k` → (k, "").
    static func keyValue(_ s: String) -> (String, String) {
        guard let eq = s.firstIndex(of: "=") else { return (s, "") }
        return (String(s[..<eq]), String(s[s.index(after: eq)...]))
    }

    /// One CSV record as Go's `encoding/csv` reads it: `,` separates, `"…"` quotes (`""` is a
    /// quote inside).
    static func csvFields(_ s: String) throws -> [String] {
        var fields: [String] = []
        var current = ""
        var inQuotes = false
        var atFieldStart = true
        var chars = Array(s)[...]
        while let c = chars.popFirst() {
            if inQuotes {
                if c == "\"" {
                    if chars.first == "\"" { current.append("\""); chars.removeFirst() } else { inQuotes = false }
                } else {
                    current.append(c)
                }
            } else if c == "\"" && atFieldStart {
                inQuotes = true
                atFieldStart = false
            } else if c == "," {
                fields.append(current)
                current = ""
                atFieldStart = true
            } else {
                if c == "\"" { throw Units.ParseError("parse error on line 1, column \(s.count - chars.count): bare \" in non-quoted-field") }
                current.append(c)
                atFieldStart = false
            }
        }
        if inQuotes { throw Units.ParseError("parse error on line 1, column \(s.count): extraneous or missing \" in quoted-field") }
        fields.append(current)
        return fields
    }

    /// `--tmpfs /run:size=64m,mode=1777` → ("/run", "size=64m,mode=1777").
    static func tmpfs(_ spec: String) throws -> (String, String) {
        let path: Substring
        let options: Substring
        if let colon = spec.firstIndex(of: ":") {
            path = spec[..<colon]
            options = spec[spec.index(after: colon)...]
        } else {
            path = Substring(spec)
            options = ""
        }
        guard path.hasPrefix("/") else { throw Units.ParseError("invalid mount path: \(path): mount path must be absolute") }
        return (String(path), String(options))
    }

    /// `--device /dev/x[:/dev/y][:rwm]`, as docker's `parseLinuxDevice` reads it.
    static func device(_ spec: String) throws -> HostConfig.DeviceMapping {
        func validMode(_ m: Substring) -> Bool {
            !m.isEmpty && m.count <= 3 && m.allSatisfy { "rwm".contains($0) } && Set(m).count == m.count
        }
        let parts = spec.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        var permissions = "rwm"
        var dst = ""
        switch parts.count {
        case 1: break
        case 2:
            if validMode(parts[1]) { permissions = String(parts[1]) } else { dst = String(parts[1]) }
        case 3:
            dst = String(parts[1])
            permissions = String(parts[2])
            guard validMode(parts[2]) else { throw Units.ParseError("invalid device mode: \(parts[2])") }
        default:
            throw Units.ParseError("invalid device specification: \(spec)")
        }
        let src = String(parts[0])
        if dst.isEmpty { dst = src }
        guard dst.hasPrefix("/") else { throw Units.ParseError("\(dst) is not an absolute path") }
        // DeviceMapping has no public memberwise init; build it from its wire form.
        let json: JSONValue = .object([
            "PathOnHost": .string(src), "PathInContainer": .string(dst), "CgroupPermissions": .string(permissions),
        ])
        do {
            return try BerthJSONDecoder().decode(HostConfig.DeviceMapping.self, from: JSON.serialize(json))
        } catch {
            throw Units.ParseError("invalid device specification: \(spec)")
        }
    }
}
