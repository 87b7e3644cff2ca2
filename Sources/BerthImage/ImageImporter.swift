#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthOCI
import BerthSystem

/// `docker import`: a root filesystem tar (plain, gzip or zstd) becomes a one-layer image,
/// with Dockerfile-style `changes` applied to its config.
public struct ImageImporter {
    let store: ImageStore

    public init(store: ImageStore) { self.store = store }

    /// What to import.
    public struct Options: Sendable {
        public var changes: [String] = []
        public var message: String?
        /// Shown in history as "Imported from <source>".
        public var sourceName = "-"
        public var architecture = "amd64"
        public var os = "linux"
        public var tag: Reference?
        public init() {}
    }

    /// Reads the tar from `source`, records the image and returns its ID.
    public func importRootfs(source: @escaping TarReader.Source, options: Options) throws -> Digest {
        // Validate the changes before reading gigabytes.
        var cfg = ImageConfig.Config()
        for c in options.changes { try ImageChanges.apply(c, to: &cfg) }
        let leases = LeaseTracker(store: store)
        defer { leases.finish() }
        let ingest = try store.content.ingest()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = try source(buffer)
            if n == 0 { break }
            try ingest.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        guard ingest.size > 0 else {
            ingest.discard()
            throw BerthError.invalid("import: the archive is empty")
        }
        let blob = ingest.finalize()
        leases.add([blob])
        try ingest.commit(digest: blob)
        let compression = try ImageLoader.sniff(store.content.path(blob))
        // The chain ID of a base layer is its diff ID, known only after extraction.
        let fd = try FD.open(store.content.path(blob), O_RDONLY)
        defer { FD.close(fd) }
        let info = try store.snapshots.apply(source: { buf in try FD.readSome(fd, into: buf, what: "import") }, diffID: nil, parent: nil, chainID: nil)
        leases.add([info.chainID])

        let now = WallClock.now().rfc3339Nano
        var history = ImageConfig.History(created: now)
        history.comment = options.message ?? "Imported from \(options.sourceName)"
        let config = ImageConfig(architecture: options.architecture, os: options.os, config: cfg,
                                 rootfs: ImageConfig.RootFS(diffIDs: [info.diffID]), history: [history], created: now)
        let configBytes = try BerthJSONEncoder().encode(config)
        let id = try store.content.write(configBytes)
        leases.add([id])
        let mediaType = compression == .gzip ? MediaType.ociLayerGzip : compression == .zstd ? MediaType.ociLayerZstd : MediaType.ociLayer
        var layer = LayerRecord(diffID: info.diffID, chainID: info.chainID, blob: blob, mediaType: mediaType,
                                blobSize: store.content.size(blob) ?? 0, size: info.size)
        layer.contentSize = info.contentSize
        let record = ImageRecord(id: id, layers: [layer], created: now, labels: cfg.Labels, size: info.contentSize ?? info.size)
        try store.add(record)
        if let tag = options.tag { try store.tag(id, as: tag) }
        return id
    }
}

/// Dockerfile instructions allowed in `docker import --change` and `docker commit --change`:
/// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR (and STOPSIGNAL).
public enum ImageChanges {
    /// Applies one change line to a config.
    public static func apply(_ line: String, to c: inout ImageConfig.Config) throws {
        let trimmed = line.trimmingSpaces
        guard !trimmed.isEmpty else { return }
        let word: Substring
        let rest: String
        if let sp = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) {
            word = trimmed[..<sp]
            rest = String(trimmed[sp...]).trimmingSpaces
        } else {
            word = Substring(trimmed)
            rest = ""
        }
        let instruction = word.uppercased()
        switch instruction {
        case "CMD": c.Cmd = try commandForm(rest, instruction)
        case "ENTRYPOINT": c.Entrypoint = try commandForm(rest, instruction)
        case "ENV":
            var env = c.Env ?? []
            for (k, v) in try keyValues(rest, instruction, allowSpaceForm: true) {
                env.removeAll { $0 == k || $0.hasPrefix(k + "=") }
                env.append("\(k)=\(v)")
            }
            c.Env = env
        case "LABEL":
            var labels = c.Labels ?? [:]
            for (k, v) in try keyValues(rest, instruction, allowSpaceForm: false) { labels[k] = v }
            c.Labels = labels
        case "EXPOSE":
            var ports = c.ExposedPorts ?? [:]
            for p in rest.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                let parts = p.split(separator: "/", maxSplits: 1)
                guard let n = Int(parts[0]), (1...65535).contains(n) else { throw BerthError.invalid("invalid containerPort: \(p)") }
                let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
                guard ["tcp", "udp", "sctp"].contains(proto) else { throw BerthError.invalid("invalid proto: \(proto)") }
                ports["\(n)/\(proto)"] = .object([:])
            }
            c.ExposedPorts = ports
        case "USER":
            guard !rest.isEmpty else { throw BerthError.invalid("USER requires exactly one argument") }
            c.User = rest
        case "WORKDIR":
            guard !rest.isEmpty else { throw BerthError.invalid("WORKDIR requires exactly one argument") }
            c.WorkingDir = rest.hasPrefix("/") ? rest : "/" + rest
        case "VOLUME":
            var vols = c.Volumes ?? [:]
            let list: [String]
            if rest.hasPrefix("["), let arr = try? BerthJSONDecoder().decode([String].self, from: rest) { list = arr }
            else { list = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
            guard !list.isEmpty else { throw BerthError.invalid("VOLUME requires at least one argument") }
            for v in list { vols[v] = .object([:]) }
            c.Volumes = vols
        case "ONBUILD":
            guard !rest.isEmpty else { throw BerthError.invalid("ONBUILD requires at least one argument") }
            c.OnBuild = (c.OnBuild ?? []) + [rest]
        case "STOPSIGNAL":
            guard !rest.isEmpty else { throw BerthError.invalid("STOPSIGNAL requires exactly one argument") }
            c.StopSignal = rest
        default:
            throw BerthError.invalid("\(word) is not a valid change command")
        }
    }

    /// JSON array form, or shell form wrapped in `/bin/sh -c`.
    static func commandForm(_ rest: String, _ what: String) throws -> [String] {
        if rest.hasPrefix("[") {
            if let arr = try? BerthJSONDecoder().decode([String].self, from: rest) { return arr }
        }
        guard !rest.isEmpty else { throw BerthError.invalid("\(what) requires at least one argument") }
        return ["/bin/sh", "-c", rest]
    }

    /// `K=V K2="v 2"` (or `K V` for ENV's legacy form).
    static func keyValues(_ rest: String, _ what: String, allowSpaceForm: Bool) throws -> [(String, String)] {
        let words = try splitWords(rest)
        guard !words.isEmpty else { throw BerthError.invalid("\(what) requires at least one argument") }
        if !words[0].contains("=") {
            guard allowSpaceForm, words.count >= 2 else { throw BerthError.invalid("\(what) names can not be blank: \(rest)") }
            let value = rest.trimmingSpaces.dropFirst(words[0].count).description.trimmingSpaces
            return [(words[0], unquote(value))]
        }
        return try words.map { w in
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else {
                throw BerthError.invalid("\(what) must have two arguments: \(w)")
            }
            return (String(w[..<eq]), String(w[w.index(after: eq)...]))
        }
    }

    /// Splits on blanks, honouring double and single quotes (quotes removed) and backslashes.
    static func splitWords(_ s: String) throws -> [String] {
        var out: [String] = []
        var cur = ""
        var inWord = false
        var quote: Character?
        var escape = false
        for ch in s {
            if escape { cur.append(ch); escape = false; continue }
            if ch == "\\" && quote != "'" { escape = true; inWord = true; continue }
            if let q = quote {
                if ch == q { quote = nil } else { cur.append(ch) }
                continue
            }
            if ch == "\"" || ch == "'" { quote = ch; inWord = true; continue }
            if ch == " " || ch == "\t" {
                if inWord { out.append(cur); cur = ""; inWord = false }
                continue
            }
            cur.append(ch)
            inWord = true
        }
        if quote != nil { throw BerthError.invalid("unmatched quote in: \(s)") }
        if inWord { out.append(cur) }
        return out
    }

    static func unquote(_ s: String) -> String {
        if s.count >= 2, let f = s.first, f == s.last, f == "\"" || f == "'" { return String(s.dropFirst().dropLast()) }
        return s
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: String {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let a = firstIndex(where: { !ws($0) }), let b = lastIndex(where: { !ws($0) }) else { return "" }
        return String(self[a...b])
    }
}
