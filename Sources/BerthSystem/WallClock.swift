#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time with nanoseconds, formatted as Go's RFC3339Nano (what Docker writes in logs
/// and inspect output): `2024-05-01T12:00:00.123456789Z`, trailing zeros of the fraction trimmed.
public struct WallClock: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32) { self.seconds = seconds; self.nanoseconds = nanoseconds }

    /// Now, from CLOCK_REALTIME.
    public static func now() -> WallClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return WallClock(seconds: Int64(ts.tv_sec), nanoseconds: Int32(ts.tv_nsec))
    }

    public static func < (a: WallClock, b: WallClock) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// RFC3339Nano in UTC.
    public var rfc3339Nano: String {
        var t = time_t(seconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var s = ""
        s.reserveCapacity(30)
        func pad(_ v: Int32, _ width: Int) {
            let d = String(v)
            if d.count < width { s += String(repeating: "0", count: width - d.count) }
            s += d
        }
        pad(tmv.tm_year + 1900, 4); s += "-"; pad(tmv.tm_mon + 1, 2); s += "-"; pad(tmv.tm_mday, 2)
        s += "T"; pad(tmv.tm_hour, 2); s += ":"; pad(tmv.tm_min, 2); s += ":"; pad(tmv.tm_sec, 2)
        if nanoseconds > 0 {
            var frac = String(nanoseconds)
            frac = String(repeating: "0", count: 9 - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            s += "." + frac
        }
        s += "Z"
        return s
    }
}

extension WallClock {
    /// Parses RFC 3339 (`2024-05-01T12:00:00.123Z`, `…+02:00`); nil if malformed.
    public init?(rfc3339 text: String) {
        let u = Array(text.utf8)
        func num(_ a: Int, _ n: Int) -> Int64? {
            guard a + n <= u.count else { return nil }
            var v: Int64 = 0
            for i in a..<(a + n) {
                guard u[i] >= 0x30 && u[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(u[i] - 0x30)
            }
            return v
        }
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
              u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t") || u[10] == UInt8(ascii: " "),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"),
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2),
              let mi = num(14, 2), let s = num(17, 2), (1...12).contains(mo), (1...31).contains(d),
              h < 24, mi < 60, s < 61 else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < u.count && u[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < u.count && u[i] >= 0x30 && u[i] <= 0x39 {
                if digits < 9 { nanos = nanos * 10 + Int64(u[i] - 0x30); digits += 1 }
                i += 1
            }
            guard digits > 0 else { return nil }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        var offset: Int64 = 0
        guard i < u.count else { return nil }
        if u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z") {
            i += 1
        } else if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), i + 3 < u.count, u[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (u[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == u.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (mo + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        self.init(seconds: days * 86400 + h * 3600 + mi * 60 + s - offset, nanoseconds: Int32(nanos))
    }
}
