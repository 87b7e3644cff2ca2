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
