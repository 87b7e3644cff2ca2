import BerthAPI
import BerthCore

/// Docker's container formatter (cli/command/formatter/container.go): what `ps` prints for
/// each field, as JSON rows for ``Template``.
enum ContainerFormat {
    /// Column titles of the `table` format.
    static let headers = [
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Ports": "PORTS", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
        "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
        "Networks": "NETWORKS", "State": "STATE", "Platform": "PLATFORM",
    ]

    /// The default `ps` table.
    static func defaultFormat(size: Bool) -> String {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}" + (size ? "\t{{.Size}}" : "")
    }

    /// One row per container. Hidden member `Label()` holds the labels for `{{.Label "k"}}`.
    static func rows(_ containers: [ContainerSummary], trunc: Bool, now: Int64 = Format.nowNanos()) -> [JSONValue] {
        containers.map { row($0, trunc: trunc, now: now) }
    }

    static func row(_ c: ContainerSummary, trunc: Bool, now: Int64) -> JSONValue {
        var labels: JSONObject = [:]
        for (k, v) in c.Labels.sorted(by: { $0.key < $1.key }) { labels.updateValue(.string(v), forKey: k) }
        return .object([
            "Command": .string(goQuote(trunc ? ellipsis(c.Command, 20) : c.Command)),
            "CreatedAt": .string(Format.goTime(c.Created)),
            "ID": .string(trunc ? Format.shortID(c.Id) : c.Id),
            "Image": .string(image(c, trunc: trunc)),
            "Labels": .string(c.Labels.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
            "LocalVolumes": .string(String(c.Mounts.filter { $0.Driver == "local" }.count)),
            "Mounts": .string(c.Mounts.map { m in
                let name = (m.Name ?? "").isEmpty ? m.Source : (m.Name ?? "")
                return trunc ? ellipsis(name, 15) : name
            }.joined(separator: ",")),
            "Names": .string(names(c.Names, trunc: trunc)),
            "Networks": .string((c.NetworkSettings["Networks"]?.objectValue.map { $0.map(\.key) } ?? []).sorted().joined(separator: ",")),
            "Platform": .null,
            "Ports": .string(displayablePorts(c.Ports)),
            "RunningFor": .string(Format.since(c.Created, now: now)),
            "Size": .string(size(c)),
            "State": .string(c.State),
            "Status": .string(c.Status),
            "Label()": .object(labels),
        ])
    }

    /// The row without hidden members, for `--format json`.
    static func visible(_ row: JSONValue) -> JSONValue {
        guard let obj = row.objectValue else { return row }
        var out: JSONObject = [:]
        for (k, v) in obj where !k.hasSuffix("()") { out.updateValue(v, forKey: k) }
        return .object(out)
    }

    /// Names without their `/`; truncated, only the first name that is not a link (`/a/b`).
    static func names(_ names: [String], trunc: Bool) -> String {
        let stripped = names.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
        if trunc, let own = stripped.first(where: { !$0.contains("/") }) { return own }
        return stripped.joined(separator: ",")
    }

    /// The image as given at create; truncated: an ID shortened, a digest dropped.
    static func image(_ c: ContainerSummary, trunc: Bool) -> String {
        if c.Image.isEmpty { return "<no image>" }
        guard trunc else { return c.Image }
        let short = Format.shortID(c.ImageID)
        if !c.ImageID.isEmpty && short == Format.shortID(c.Image) { return short }
        if let at = c.Image.firstIndex(of: "@") { return String(c.Image[..<at]) }
        return c.Image
    }

    /// `0B`, or `0B (virtual 4.26MB)` when the root filesystem size is known.
    static func size(_ c: ContainerSummary) -> String {
        let rw = Format.size3(c.SizeRw ?? 0)
        if let v = c.SizeRootFs, v > 0 { return "\(rw) (virtual \(Format.size3(v)))" }
        return rw
    }

    /// Docker's `DisplayablePorts`: consecutive ports grouped into ranges, published ones as
    /// `0.0.0.0:8080->80/tcp`.
    static func displayablePorts(_ ports: [ContainerSummary.Port]) -> String {
        let sorted = ports.sorted { a, b in
            if a.PrivatePort != b.PrivatePort { return a.PrivatePort < b.PrivatePort }
            if (a.IP ?? "") != (b.IP ?? "") { return (a.IP ?? "") < (b.IP ?? "") }
            if (a.PublicPort ?? 0) != (b.PublicPort ?? 0) { return (a.PublicPort ?? 0) < (b.PublicPort ?? 0) }
            return a.Type < b.Type
        }
        var groups: [String: (first: Int, last: Int)] = [:]
        var keys: [String] = []
        var result: [String] = []
        var hostMappings: [String] = []
        for p in sorted {
            let current = p.PrivatePort
            var key = p.Type
            if let ip = p.IP, !ip.isEmpty {
                let pub = p.PublicPort ?? 0
                if pub != current {
                    hostMappings.append("\(joinHostPort(ip, String(pub)))->\(p.PrivatePort)/\(p.Type)")
                    continue
                }
                key = "\(ip)/\(p.Type)"
            }
            guard let g = groups[key] else {
                groups[key] = (current, current)
                keys.append(key)
                continue
            }
            if current == g.last + 1 {
                groups[key] = (g.first, current)
                continue
            }
            result.append(formGroup(key, g.first, g.last))
            groups[key] = (current, current)
        }
        for key in keys {
            if let g = groups[key] { result.append(formGroup(key, g.first, g.last)) }
        }
        return (result + hostMappings).joined(separator: ", ")
    }

    static func formGroup(_ key: String, _ first: Int, _ last: Int) -> String {
        var type = key
        var ip = ""
        if let slash = key.lastIndex(of: "/") {
            ip = String(key[..<slash])
            type = String(key[key.index(after: slash)...])
        }
        var group = String(first)
        if first != last { group += "-\(last)" }
        if !ip.isEmpty { group = "\(joinHostPort(ip, group))->\(group)" }
        return group + "/" + type
    }

    static func joinHostPort(_ host: String, _ port: String) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Docker's `formatter.Ellipsis`: at most `width` columns, the last one `…` when cut.
    static func ellipsis(_ s: String, _ width: Int) -> String {
        if width <= 0 { return "" }
        let scalars = Array(s.unicodeScalars)
        if width == 1 { return scalars.first.map { String($0) } ?? "" }
        var widths: [Int] = []
        var total = 0
        for u in scalars {
            total += displayWidth(u)
            widths.append(total)
        }
        if total <= width { return s }
        var out = String.UnicodeScalarView()
        for (i, u) in scalars.enumerated() where widths[i] <= width - 1 { out.append(u) }
        return String(out) + "…"
    }

    /// Columns a character takes (2 for East Asian wide ranges, as go-runewidth).
    static func displayWidth(_ u: Unicode.Scalar) -> Int {
        switch u.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
             0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
             0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return 2
        default:
            return 1
        }
    }

    /// Go's `strconv.Quote`.
    static func goQuote(_ s: String) -> String {
        var out = "\""
        let hex = Array("0123456789abcdef")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                let v = u.value
                if v < 0x20 || v == 0x7F {
                    out += "\\x" + String(hex[Int(v >> 4)]) + String(hex[Int(v & 15)])
                } else if (0x80...0x9F).contains(v) || v == 0xAD || v == 0xFEFF || (0x2028...0x2029).contains(v) {
                    out += "\\u" + String(v, radix: 16).leftPadded(4)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
