import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthSystem

extension APIServer {
    static let eventFilters: Set<String> = ["type", "event", "image", "container", "label", "scope", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config"]

    /// `GET /events`: past events since `since`, then live ones until `until` (or forever).
    func events(_ ctx: RequestContext) throws -> HTTPResponse {
        let filters = try ctx.filters()
        try filters.validate(APIServer.eventFilters)
        let now = WallClock.now()
        let nowNano = now.seconds * 1_000_000_000 + Int64(now.nanoseconds)
        let since = try ctx.query("since").flatMap { $0.isEmpty ? nil : try APIServer.timestamp($0, now: nowNano, what: "since") }
        let until = try ctx.query("until").flatMap { $0.isEmpty ? nil : try APIServer.timestamp($0, now: nowNano, what: "until") }
        if let since, let until, since > until {
            throw BerthError.invalid("`since` time (\(since / 1_000_000_000)) cannot be after `until` time (\(until / 1_000_000_000))")
        }
        let (past, live) = engine.events.subscribe()
        let version = ctx.version
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            func send(_ e: EngineEvent) async throws {
                try await writer.write(APIServer.encodeLine(APIServer.wire(e, version: version)))
            }
            if let since {
                for e in past where e.timeNano >= since && (until.map { e.timeNano <= $0 } ?? true) && APIServer.match(e, filters) {
                    try await send(e)
                }
            }
            if let until, until <= nowNano { return }
            // Live events; with `until` in the future the stream ends when it passes.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await e in live {
                        if let until, e.timeNano > until { return }
                        if APIServer.match(e, filters) { try await send(e) }
                    }
                }
                if let until {
                    group.addTask {
                        let wait = max(0, until - nowNano)
                        try await Task.sleep(nanoseconds: UInt64(wait))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    static func wire(_ e: EngineEvent, version: APIVersion) -> EventMessage {
        EventMessage(type: e.type, action: e.action, actor: .init(ID: e.actorID, Attributes: e.attributes), timeNano: e.timeNano)
    }

    /// Docker's event filter semantics: each filter key must match (values within a key are ORed).
    static func match(_ e: EngineEvent, _ f: Filters) -> Bool {
        if f.contains("type"), !f["type"].contains(e.type) { return false }
        if f.contains("event"), !f["event"].contains(where: { $0 == e.action || e.action.hasPrefix($0 + ":") }) { return false }
        if f.contains("scope"), !f["scope"].contains("local") { return false }
        if f.contains("image") {
            let names = [e.actorID, e.attributes["name"], e.attributes["image"]].compactMap { $0 }
            let ok = f["image"].contains { want in
                names.contains { n in n == want || n.hasPrefix(want + ":") || n == "sha256:" + want || (n.hasPrefix("sha256:") && n.dropFirst(7).hasPrefix(want)) }
            }
            if !ok { return false }
        }
        if f.contains("container") {
            guard e.type == "container" else { return false }
            let ok = f["container"].contains { e.actorID.hasPrefix($0) || e.attributes["name"] == $0 }
            if !ok { return false }
        }
        for key in ["network", "volume"] where f.contains(key) {
            guard e.type == key, f[key].contains(where: { e.actorID.hasPrefix($0) || e.attributes["name"] == $0 }) else { return false }
        }
        if !f.matchLabels(e.attributes) { return false }
        return true
    }

    /// Docker's timestamp forms: a Go duration (`10m`, `1h30m`: that long ago), RFC 3339,
    /// a date (`2024-01-02`), or Unix seconds with an optional fraction. Nanoseconds.
    static func timestamp(_ value: String, now: Int64, what: String) throws -> Int64 {
        if value != "0", let d = goDuration(value) { return now - d }
        if let t = WallClock(rfc3339: value) { return t.seconds * 1_000_000_000 + Int64(t.nanoseconds) }
        if value.count == 10, let t = WallClock(rfc3339: value + "T00:00:00Z") { return t.seconds * 1_000_000_000 }
        if value.count == 19, let t = WallClock(rfc3339: value + "Z") { return t.seconds * 1_000_000_000 }
        let parts = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        if let s = Int64(parts[0]) {
            var nanos: Int64 = 0
            if parts.count == 2 {
                let frac = String(parts[1].prefix(9))
                guard let n = Int64(frac), frac.allSatisfy(\.isNumber) else { throw BerthError.invalid("invalid value for \(what): \(value)") }
                nanos = n
                for _ in frac.count..<9 { nanos *= 10 }
            }
            return s * 1_000_000_000 + nanos
        }
        throw BerthError.invalid("invalid value for \(what): \(value)")
    }

    /// A Go duration string in nanoseconds (`1h2m3.5s`, `300ms`), nil if not one.
    static func goDuration(_ s: String) -> Int64? {
        var chars = Substring(s)
        var negative = false
        if chars.hasPrefix("-") { negative = true; chars = chars.dropFirst() } else if chars.hasPrefix("+") { chars = chars.dropFirst() }
        guard !chars.isEmpty else { return nil }
        var total: Double = 0
        while !chars.isEmpty {
            let numEnd = chars.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? chars.endIndex
            guard numEnd != chars.startIndex, let n = Double(chars[..<numEnd]) else { return nil }
            chars = chars[numEnd...]
            let unitEnd = chars.firstIndex(where: { $0.isNumber || $0 == "." }) ?? chars.endIndex
            let unit = chars[..<unitEnd]
            chars = chars[unitEnd...]
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += n * scale
        }
        return Int64(negative ? -total : total)
    }
}
