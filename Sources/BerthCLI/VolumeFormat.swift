import BerthAPI
import BerthCore

/// Docker's volume formatter (cli/command/formatter/volume.go) and the volume parts of its
/// disk-usage formatter: what `volume ls` and `system df` print for each field, as JSON rows
/// for ``Template``.
enum VolumeFormat {
    /// Column titles of `table` formats.
    static let headers = [
        "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS", "Label": "LABEL", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
        "Availability": "AVAILABILITY", "Status": "STATUS",
    ]

    /// The default `volume ls` table.
    static let defaultTable = "table {{.Driver}}\t{{.Name}}"
    /// `volume ls -q`.
    static let quietFormat = "{{.Name}}"
    /// The volumes section of `system df -v`.
    static let diskUsageTable = "table {{.Name}}\t{{.Links}}\t{{.Size}}"

    /// One row (members sorted, as docker's JSON has them). `Links` and `Size` are `N/A` unless
    /// the daemon computed the usage (`system df`); the cluster-volume fields are always `N/A`.
    /// Hidden member `Label()` holds the labels for `{{.Label "k"}}`.
    static func row(_ v: Volume) -> JSONValue {
        var labels: JSONObject = [:]
        for (k, value) in v.Labels.sorted(by: { $0.key < $1.key }) { labels.updateValue(.string(value), forKey: k) }
        return .object([
            "Availability": "N/A",
            "Driver": .string(v.Driver),
            "Group": "N/A",
            "Labels": .string(v.Labels.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: ",")),
            "Links": .string(v.UsageData.map { String($0.RefCount) } ?? "N/A"),
            "Mountpoint": .string(v.Mountpoint),
            "Name": .string(v.Name),
            "Scope": .string(v.Scope),
            "Size": .string(v.UsageData.map { HumanSize.decimal($0.Size) } ?? "N/A"),
            "Status": "N/A",
            "Label()": .object(labels),
        ])
    }

    /// `volume ls` output: sorted by name in natural order (`vol9` before `vol10`), through
    /// the default table, `-q`, `--format json` or a template.
    static func renderList(_ volumes: [Volume], format: String?, quiet: Bool) throws -> String {
        let rows = volumes.sorted { naturalLess($0.Name, $1.Name) }.map(row)
        if Template.isJSON(format) {
            return rows.map { Format.compactJSON(ContainerFormat.visible($0), sorted: true) + "\n" }.joined()
        }
        var f = format ?? ""
        if f.isEmpty || f == "table" { f = quiet ? quietFormat : defaultTable }
        return try Template(f).renderAll(rows, headers: headers)
    }

    /// The `Local Volumes` row of `system df`: how many, how many referenced by a container,
    /// their total size, and the size of those no container references (with the integer
    /// percentage of the total when it is not zero). A size of -1 (not computed) counts as none.
    static func diskUsageRow(_ volumes: [Volume]) -> JSONValue {
        var size: Int64 = 0
        var reclaimable: Int64 = 0
        var active = 0
        for v in volumes {
            guard let u = v.UsageData else { continue }
            if u.RefCount > 0 { active += 1 }
            if u.Size != -1 {
                size += u.Size
                if u.RefCount == 0 { reclaimable += u.Size }
            }
        }
        let reclaim = size > 0
            ? "\(HumanSize.decimal(reclaimable)) (\(reclaimable * 100 / size)%)"
            : HumanSize.decimal(reclaimable)
        return [
            "Type": "Local Volumes", "TotalCount": .string(String(volumes.count)), "Active": .string(String(active)),
            "Size": .string(HumanSize.decimal(size)), "Reclaimable": .string(reclaim),
        ]
    }

    /// The volumes section of `system df -v`, in the daemon's order.
    static func diskUsageSection(_ volumes: [Volume]) -> String {
        let table = (try? Template(diskUsageTable).renderAll(volumes.map(row), headers: headers)) ?? ""
        return "Local Volumes space usage:\n\n" + table
    }

    /// `sortorder.NaturalLess`, which docker sorts volume names with: runs of digits compare as
    /// numbers (then fewer leading zeros first), digits sort before other bytes, the rest
    /// bytewise.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let s1 = Array(a.utf8), s2 = Array(b.utf8)
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        var i1 = 0, i2 = 0
        while i1 < s1.count && i2 < s2.count {
            let c1 = s1[i1], c2 = s2[i2]
            let d1 = isDigit(c1), d2 = isDigit(c2)
            if d1 != d2 { return d1 }
            if !d1 {
                if c1 != c2 { return c1 < c2 }
                i1 += 1
                i2 += 1
                continue
            }
            while i1 < s1.count && s1[i1] == 0x30 { i1 += 1 }
            while i2 < s2.count && s2[i2] == 0x30 { i2 += 1 }
            let nz1 = i1, nz2 = i2
            while i1 < s1.count && isDigit(s1[i1]) { i1 += 1 }
            while i2 < s2.count && isDigit(s2[i2]) { i2 += 1 }
            let len1 = i1 - nz1, len2 = i2 - nz2
            if len1 != len2 { return len1 < len2 }
            let n1 = s1[nz1..<i1], n2 = s2[nz2..<i2]
            if !n1.elementsEqual(n2) { return n1.lexicographicallyPrecedes(n2) }
            if nz1 != nz2 { return nz1 < nz2 }
        }
        return s1.count < s2.count
    }
}
