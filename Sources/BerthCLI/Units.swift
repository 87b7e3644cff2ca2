/// Docker's parsers for flag values: sizes (go-units `RAMInBytes`), Go durations, `--cpus`,
/// ulimits and detach keys. Errors are the text docker prints after
/// `invalid argument "…" for "…" flag: `.
enum Units {
    struct ParseError: Error, Equatable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// go-units `RAMInBytes`: `512`, `512b`, `32k`, `32m`, `1.5g`, `1GiB`, `1 MB` (binary units).
    static func ramInBytes(_ text: String) throws -> Int64 {
        let s = Array(text)
        guard let sep = s.lastIndex(where: { $0.isASCII && ($0.isNumber || $0 == "." || $0 == " ") }) else {
            throw ParseError("invalid size: '\(text)'")
        }
        let number = s[sep] == " " ? String(s[..<sep]) : String(s[...sep])
        var suffix = String(s[(sep + 1)...]).lowercased()
        guard let value = Double(number), number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
            throw ParseError("strconv.ParseFloat: parsing \"\(number)\": invalid syntax")
        }
        if suffix.isEmpty { return Int64(value) }
        let bad = ParseError("invalid suffix: '\(suffix)'")
        if suffix.count > 3 { throw bad }
        if suffix.first == "b" {
            if suffix.count > 1 { throw bad }
            return Int64(value)
        }
        let multipliers: [Character: Double] = [
            "k": 1024, "m": 1024 * 1024, "g": 1024 * 1024 * 1024, "t": 1024 * 1024 * 1024 * 1024,
            "p": 1024 * 1024 * 1024 * 1024 * 1024,
        ]
        guard let first = suffix.first, let mul = multipliers[first] else { throw bad }
        suffix.removeFirst()
        if !(suffix.isEmpty || suffix == "b" || suffix == "ib") { throw bad }
        return Int64(value * mul)
    }

    /// `--memory-swap`: `-1` (unlimited) or a size.
    static func swapBytes(_ text: String) throws -> Int64 {
        text == "-1" ? -1 : try ramInBytes(text)
    }

    /// Go's `time.ParseDuration`, in nanoseconds: `1h30m`, `1.5s`, `300ms`, `-2m`, `0`.
    static func goDuration(_ text: String) throws -> Int64 {
        let bad = ParseError("time: invalid duration \"\(text)\"")
        var s = Substring(text)
        var negative = false
        if let f = s.first, f == "-" || f == "+" {
            negative = f == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        if s.isEmpty { throw bad }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var total = 0.0
        while !s.isEmpty {
            let numberEnd = s.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? s.endIndex
            let number = s[..<numberEnd]
            guard !number.isEmpty, number != ".", let value = Double(number.hasPrefix(".") ? "0" + number : String(number)) else { throw bad }
            s = s[numberEnd...]
            let unitEnd = s.firstIndex(where: { $0.isASCII && ($0.isNumber || $0 == ".") }) ?? s.endIndex
            let unit = String(s[..<unitEnd])
            guard let mul = units.first(where: { $0.0 == unit })?.1 else {
                throw ParseError(unit.isEmpty ? "time: missing unit in duration \"\(text)\"" : "time: unknown unit \"\(unit)\" in duration \"\(text)\"")
            }
            total += value * mul
            s = s[unitEnd...]
        }
        guard total < 9.3e18 else { throw bad }
        let nanos = Int64(total.rounded())
        return negative ? -nanos : nanos
    }

    /// `--cpus 1.5` → 1_500_000_000 (docker's `NanoCPUs`: exact decimals, at most 9 places).
    static func nanoCPUs(_ text: String) throws -> Int64 {
        var s = Substring(text)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        var frac = parts.count > 1 ? parts[1] : ""
        guard !(whole.isEmpty && frac.isEmpty), whole.allSatisfy({ $0.isASCII && $0.isNumber }),
              frac.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ParseError("failed to parse \(text) as a rational number")
        }
        while frac.count > 9 && frac.last == "0" { frac = frac.dropLast() }
        guard frac.count <= 9 else { throw ParseError("value is too precise") }
        let padded = frac + String(repeating: "0", count: 9 - frac.count)
        guard let w = Int64(whole.isEmpty ? "0" : whole), let f = Int64(padded),
              w <= Int64.max / 1_000_000_000 else {
            throw ParseError("value is too large")
        }
        let nanos = w * 1_000_000_000 + f
        return negative ? -nanos : nanos
    }

    /// The ulimit names docker knows.
    static let ulimitNames: Set<String> = [
        "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
        "rtprio", "rttime", "sigpending", "stack",
    ]

    /// go-units `ParseUlimit`: `nofile=1024:2048`, `nproc=512` (soft = hard).
    static func ulimit(_ text: String) throws -> (name: String, soft: Int64, hard: Int64) {
        let kv = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard kv.count == 2 else { throw ParseError("invalid ulimit argument: \(text)") }
        let name = String(kv[0])
        guard ulimitNames.contains(name) else { throw ParseError("invalid ulimit type: \(name)") }
        let limits = kv[1].split(separator: ":", omittingEmptySubsequences: false)
        guard limits.count <= 2 else {
            throw ParseError("too many limit value arguments - \(kv[1]), can only have up to two, `soft[:hard]`")
        }
        guard let soft = Int64(limits[0]) else { throw ParseError("strconv.ParseInt: parsing \"\(limits[0])\": invalid syntax") }
        var hard = soft
        if limits.count == 2 {
            guard let h = Int64(limits[1]) else { throw ParseError("strconv.ParseInt: parsing \"\(limits[1])\": invalid syntax") }
            hard = h
        }
        if soft > hard { throw ParseError("ulimit soft limit must be less than or equal to hard limit: \(soft) > \(hard)") }
        return (name, soft, hard)
    }

    /// moby/term `ToBytes`: `ctrl-p,ctrl-q` → [16, 17]; single characters stand for themselves.
    static func detachKeys(_ text: String) throws -> [UInt8] {
        let controls = ["ctrl-@"] + (UInt8(ascii: "a")...UInt8(ascii: "z")).map { "ctrl-" + String(UnicodeScalar($0)) }
            + ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]
        var codes: [UInt8] = []
        for key in text.split(separator: ",", omittingEmptySubsequences: false) {
            if key.utf8.count == 1, let b = key.utf8.first {
                codes.append(b)
            } else if let i = controls.firstIndex(of: String(key)) {
                codes.append(UInt8(i))
            } else if key == "DEL" {
                codes.append(127)
            } else {
                throw ParseError("Unknown character: '\(key)'")
            }
        }
        return codes
    }
}
