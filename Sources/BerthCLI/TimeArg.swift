/// Docker's `timetypes.GetTimestamp` for `logs --since/--until`: a Go duration means that
/// long before `now`; an RFC 3339 date (or a prefix: `2024-01-02`, `2024-01-02T15:04`) becomes
/// Unix `seconds.nanoseconds`; anything else (Unix seconds) is passed through. Dates without a
/// zone are read in UTC (the CLI's time zone for display, too).
enum TimeArg {
    static func timestamp(_ value: String, nowNanos: Int64) throws -> String {
        if value != "0", let d = try? Units.goDuration(value) {
            let t = nowNanos - d
            // Go's `Time.Unix()` floors.
            return String(t >= 0 ? t / 1_000_000_000 : (t - 999_999_999) / 1_000_000_000)
        }
        guard let nanos = parseDate(value) else {
            if value.contains("-") && value.first?.isNumber == true && !value.allSatisfy({ $0.isNumber || $0 == "." }) {
                throw Units.ParseError("parsing time \"\(value)\": cannot parse")
            }
            return value
        }
        let seconds = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        let frac = nanos - seconds * 1_000_000_000
        return "\(seconds).\(Format.pad(frac, 9))"
    }

    /// `YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM]` → nanoseconds since the epoch.
    static func parseDate(_ text: String) -> Int64? {
        var s = Substring(text)
        func number(_ digits: Int) -> Int64? {
            guard s.count >= digits else { return nil }
            let part = s.prefix(digits)
            guard part.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int64(part) else { return nil }
            s = s.dropFirst(digits)
            return n
        }
        func expect(_ c: Character) -> Bool {
            guard s.first == c else { return false }
            s = s.dropFirst()
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, frac: Int64 = 0
        if expect("T") {
            guard let h = number(2), h < 24 else { return nil }
            hour = h
            if expect(":") {
                guard let m = number(2), m < 60 else { return nil }
                minute = m
                if expect(":") {
                    guard let sec = number(2), sec < 61 else { return nil }
                    second = sec
                    if expect(".") {
                        let digits = s.prefix(while: { $0.isASCII && $0.isNumber })
                        guard !digits.isEmpty else { return nil }
                        s = s.dropFirst(digits.count)
                        let nine = String(digits.prefix(9))
                        frac = (Int64(nine) ?? 0) * pow10(9 - nine.count)
                    }
                }
            }
        }
        var offset: Int64 = 0
        if expect("Z") || expect("z") {
            offset = 0
        } else if let sign = s.first, sign == "+" || sign == "-" {
            s = s.dropFirst()
            guard let oh = number(2), expect(":"), let om = number(2) else { return nil }
            offset = (oh * 3600 + om * 60) * (sign == "-" ? -1 : 1)
        }
        guard s.isEmpty else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return seconds * 1_000_000_000 + frac
    }

    static func pow10(_ n: Int) -> Int64 {
        var v: Int64 = 1
        for _ in 0..<max(0, n) { v *= 10 }
        return v
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}
