/// Conversions between JSON number lexemes and Swift numbers, shared by `JSONValue`'s accessors
/// and the Codable coders.
enum JSONNumber {
    /// The result of reading a lexeme as an integer type.
    enum IntegerResult<I> {
        case value(I)
        /// Not an integral number (`3.5`, `1e3`, not a number at all).
        case notInteger
        /// Integral but outside the type's range.
        case outOfRange
    }

    /// The JSON text of a finite double: Swift's shortest round-trip `description`, with a
    /// trailing `.0` removed (`1.0` → `1`, as Foundation writes it). Nil for NaN and infinities.
    static func lexeme(_ d: Double) -> String? {
        guard d.isFinite else { return nil }
        return trimmed(d.description)
    }

    /// The JSON text of a finite float (`Float(0.1)` → `0.1`, not the double's digits).
    static func lexeme(_ f: Float) -> String? {
        guard f.isFinite else { return nil }
        return trimmed(f.description)
    }

    private static func trimmed(_ s: String) -> String {
        // `description` gives "1.0", "0.1", "1e-05", "1e+20": all valid JSON once ".0" is dropped.
        s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }

    /// Reads an integral lexeme exactly, without going through a double: optional `-`, digits,
    /// and optionally a fraction of zeros only (`3.0`, as Foundation accepts). Exponents are not
    /// accepted (`1e3` is not an integer here, as in Go).
    static func integer<I: FixedWidthInteger>(_ lexeme: String, as type: I.Type) -> IntegerResult<I> {
        var s = lexeme
        return s.withUTF8 { u -> IntegerResult<I> in
            let n = u.count
            var i = 0
            var negative = false
            if i < n && u[i] == UInt8(ascii: "-") {
                negative = true
                i += 1
            }
            guard i < n, isDigit(u[i]) else { return .notInteger }
            var acc: I = 0
            var overflow = false
            while i < n, isDigit(u[i]) {
                if !overflow {
                    let d = I(truncatingIfNeeded: u[i] &- 48)
                    let (m, o1) = acc.multipliedReportingOverflow(by: 10)
                    let (r, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                    if o1 || o2 { overflow = true } else { acc = r }
                }
                i += 1
            }
            if i < n && u[i] == UInt8(ascii: ".") {
                i += 1
                guard i < n, isDigit(u[i]) else { return .notInteger }
                while i < n && u[i] == UInt8(ascii: "0") { i += 1 }
                if i < n && isDigit(u[i]) { return .notInteger }
            }
            if i != n { return .notInteger }
            return overflow ? .outOfRange : .value(acc)
        }
    }

    /// The value of a valid lexeme as a double, nil when invalid or too large to be finite.
    static func double(_ lexeme: String) -> Double? {
        guard isValid(lexeme), let d = Double(lexeme), d.isFinite else { return nil }
        return d
    }

    /// The value of a valid lexeme as a float, nil when invalid or too large to be finite.
    static func float(_ lexeme: String) -> Float? {
        guard isValid(lexeme), let f = Float(lexeme), f.isFinite else { return nil }
        return f
    }

    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }

    /// Whether a string follows the JSON number grammar (RFC 8259 §6).
    static func isValid(_ lexeme: String) -> Bool {
        var s = lexeme
        return s.withUTF8 { u -> Bool in
            let n = u.count
            var i = 0
            if i < n && u[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n else { return false }
            if u[i] == UInt8(ascii: "0") {
                i += 1
            } else if isDigit(u[i]) {
                while i < n && isDigit(u[i]) { i += 1 }
            } else {
                return false
            }
            if i < n && u[i] == UInt8(ascii: ".") {
                i += 1
                guard i < n, isDigit(u[i]) else { return false }
                while i < n && isDigit(u[i]) { i += 1 }
            }
            if i < n && (u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E")) {
                i += 1
                if i < n && (u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-")) { i += 1 }
                guard i < n, isDigit(u[i]) else { return false }
                while i < n && isDigit(u[i]) { i += 1 }
            }
            return i == n
        }
    }
}
