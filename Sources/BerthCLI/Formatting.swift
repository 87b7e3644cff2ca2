import BerthAPI
import BerthCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Docker's human forms of times, sizes and IDs.
enum Format {
    /// Now, in nanoseconds since the epoch.
    static func nowNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// go-units `HumanDuration` of the time since `seconds`, plus " ago" (`2 hours ago`).
    static func since(_ seconds: Int64, now: Int64 = nowNanos()) -> String {
        humanDuration(nanos: now - seconds * 1_000_000_000) + " ago"
    }

    /// go-units `HumanDuration`.
    static func humanDuration(nanos: Int64) -> String {
        let secondsD = Double(nanos) / 1e9
        let seconds = Int(secondsD)
        if seconds < 1 { return "Less than a second" }
        if seconds == 1 { return "1 second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = Int(secondsD / 60)
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int(secondsD / 3600 + 0.5)
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(Int(secondsD / 3600) / 24 / 365) years"
    }

    /// go-units `HumanSizeWithPrecision(size, 3)` (`4.26MB`), what `images` and `history` print.
    static func size3(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var v = Double(n)
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return goG(v, precision: 3) + units[i]
    }

    /// Go's `%.<precision>g` for non-negative values below 1e21.
    static func goG(_ v: Double, precision: Int) -> String {
        if v == 0 { return "0" }
        var scale = 1.0
        var exp = 0
        var x = v
        while x >= 10 { x /= 10; exp += 1 }
        while x < 1 { x *= 10; exp -= 1 }
        // Round to `precision` significant digits; rounding may carry into a new digit.
        for _ in 0..<(precision - 1) { scale *= 10 }
        var digits = (x * scale).rounded()
        if digits >= scale * 10 { digits /= 10; exp += 1 }
        if exp < -4 || exp >= precision {
            var mantissa = String(Int64(digits))
            if mantissa.count > 1 { mantissa.insert(".", at: mantissa.index(after: mantissa.startIndex)) }
            mantissa = trimZeros(mantissa)
            return mantissa + "e" + (exp < 0 ? "-" : "+") + (abs(exp) < 10 ? "0" : "") + String(abs(exp))
        }
        // Fixed notation: digits × 10^(exp − precision + 1), with `precision − 1 − exp` decimals.
        let decimals = precision - 1 - exp
        var s = String(Int64(digits))
        if decimals > 0 {
            while s.count <= decimals { s = "0" + s }
            s.insert(".", at: s.index(s.endIndex, offsetBy: -decimals))
            s = trimZeros(s)
        }
        return s
    }

    static func trimZeros(_ s: String) -> String {
        guard s.contains(".") else { return s }
        var s = s
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// `sha256:abc…` → the first 12 hex digits (docker's `stringid.TruncateID`).
    static func shortID(_ id: String) -> String {
        var s = Substring(id)
        if let colon = s.firstIndex(of: ":") { s = s[s.index(after: colon)...] }
        return String(s.prefix(12))
    }

    /// Civil UTC date and time of Unix `seconds` (Howard Hinnant's days-to-civil).
    static func civil(_ seconds: Int64) -> (year: Int64, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var days = seconds / 86400
        var rem = seconds % 86400
        if rem < 0 { rem += 86400; days -= 1 }
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, Int(m), Int(d), Int(rem / 3600), Int(rem % 3600 / 60), Int(rem % 60))
    }

    static func pad(_ n: some BinaryInteger, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2024-01-02T15:04:05Z` (Go's `time.RFC3339` in UTC).
    static func rfc3339(_ seconds: Int64) -> String {
        let c = civil(seconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))Z"
    }

    /// `2024-01-02T15:04:05.000000000Z` (docker's `RFC3339NanoFixed`, UTC) from nanoseconds.
    static func rfc3339NanoFixed(_ nanos: Int64) -> String {
        var s = nanos / 1_000_000_000
        var n = nanos % 1_000_000_000
        if n < 0 { n += 1_000_000_000; s -= 1 }
        let c = civil(s)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(n, 9))Z"
    }

    /// `2024-01-02 15:04:05 +0000 UTC` (Go's `time.Time.String()` in UTC).
    static func goTime(_ seconds: Int64) -> String {
        let c = civil(seconds)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2)) \(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) +0000 UTC"
    }

    /// Go's `json.MarshalIndent(v, "", "    ")` layout, what `docker inspect` prints. Not
    /// HTML-escaped: the daemon writes JSON with `SetEscapeHTML(false)` and the CLI indents those
    /// bytes as they are (`>&2` stays `>&2`).
    static func indentedJSON(_ v: JSONValue, indent: String = "    ") -> String {
        var out: [UInt8] = []
        writeIndented(v, level: 0, indent: Array(indent.utf8), into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func writeIndented(_ v: JSONValue, level: Int, indent: [UInt8], into out: inout [UInt8]) {
        func newline(_ l: Int) {
            out.append(UInt8(ascii: "\n"))
            for _ in 0..<l { out.append(contentsOf: indent) }
        }
        switch v {
        case .array(let items) where !items.isEmpty:
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                writeIndented(item, level: level + 1, indent: indent, into: &out)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case .object(let obj) where !obj.isEmpty:
            out.append(UInt8(ascii: "{"))
            for (i, member) in obj.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(level + 1)
                JSON.writeString(member.key, to: &out)
                out.append(contentsOf: Array(": ".utf8))
                writeIndented(member.value, level: level + 1, indent: indent, into: &out)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        default:
            JSON.serialize(v, into: &out)
        }
    }

    /// Compact JSON as the docker CLI's template `json` function writes it (an encoder with
    /// `SetEscapeHTML(false)`).
    static func compactJSON(_ v: JSONValue, sorted: Bool = false) -> String {
        String(decoding: JSON.serialize(v, options: sorted ? [.sortedKeys] : []), as: UTF8.self)
    }
}
