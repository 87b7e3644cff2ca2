/// The recursive-descent parser behind `JSON.parse`, over a borrowed byte buffer.
///
/// Positions are byte offsets into `base`; line and column are computed only when an error is
/// reported. Strings without escapes (nearly all) are scanned eight bytes at a time and made
/// into a `String` with one copy (UTF-8 checked only when a non-ASCII byte was seen); strings
/// with escapes are decoded into a reused scratch buffer. Elements and members collect on
/// shared stacks so each array and object is allocated once, at its final size.
struct JSONParser {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos = 0
    /// Reused for strings that contain escapes.
    var scratch: [UInt8] = []
    /// Elements of the arrays being parsed, innermost last: each array is built once at its
    /// final size instead of growing by doubling.
    var elementStack: [JSONValue] = []
    /// Members of the objects being parsed, innermost last.
    var memberStack: [JSONObject.Element] = []

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.end = count
    }

    // MARK: bytes

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    mutating func parseDocument() throws(BerthError) -> JSONValue {
        if end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF {
            throw error(at: 0, "unexpected byte order mark, expected a value")
        }
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if pos < end { throw error(at: pos, "unexpected \(describe(pos)) after the document") }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            // ' ', '\n', '\r', '\t'
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
            // Indentation in pretty-printed input: eight spaces at a time.
            while pos + 8 <= end && UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020 {
                pos += 8
            }
        }
    }

    mutating func parseValue(depth: Int) throws(BerthError) -> JSONValue {
        guard pos < end else { throw error(at: pos, "unexpected end of input, expected a value") }
        switch base[pos] {
        case JSONParser.quote: return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error(at: pos, "unexpected \(describe(pos)), expected a value")
        }
    }

    // MARK: containers

    mutating func parseArray(depth: Int) throws(BerthError) -> JSONValue {
        if depth > JSON.maxDepth { throw error(at: pos, "nesting deeper than \(JSON.maxDepth) levels") }
        pos += 1  // '['
        skipWhitespace()
        if pos < end && base[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array([])
        }
        let first = elementStack.count
        while true {
            let element = try parseValue(depth: depth)
            elementStack.append(element)
            skipWhitespace()
            guard pos < end else { throw error(at: pos, "unexpected end of input, expected ',' or ']' in array") }
            let c = base[pos]
            if c == UInt8(ascii: ",") {
                pos += 1
                skipWhitespace()
                if pos < end && base[pos] == UInt8(ascii: "]") {
                    throw error(at: pos, "unexpected ']' after ',', expected a value (no trailing commas)")
                }
                continue
            }
            if c == UInt8(ascii: "]") {
                pos += 1
                let elements = Array(elementStack[first...])
                elementStack.removeSubrange(first...)
                return .array(elements)
            }
            throw error(at: pos, "unexpected \(describe(pos)), expected ',' or ']' in array")
        }
    }

    mutating func parseObject(depth: Int) throws(BerthError) -> JSONValue {
        if depth > JSON.maxDepth { throw error(at: pos, "nesting deeper than \(JSON.maxDepth) levels") }
        pos += 1  // '{'
        skipWhitespace()
        if pos < end && base[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(JSONObject())
        }
        let first = memberStack.count
        // Past this many members, duplicates are found through a hash index.
        var index: [String: Int]?
        while true {
            guard pos < end else { throw error(at: pos, "unexpected end of input, expected a string key") }
            guard base[pos] == JSONParser.quote else {
                if base[pos] == UInt8(ascii: "}") {
                    throw error(at: pos, "unexpected '}' after ',', expected a string key (no trailing commas)")
                }
                throw error(at: pos, "unexpected \(describe(pos)), expected a string key")
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < end else { throw error(at: pos, "unexpected end of input, expected ':' after key") }
            guard base[pos] == UInt8(ascii: ":") else {
                throw error(at: pos, "unexpected \(describe(pos)), expected ':' after key")
            }
            pos += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            addMember(key, value, first: first, index: &index)
            skipWhitespace()
            guard pos < end else { throw error(at: pos, "unexpected end of input, expected ',' or '}' in object") }
            let c = base[pos]
            if c == UInt8(ascii: ",") {
                pos += 1
                skipWhitespace()
                continue
            }
            if c == UInt8(ascii: "}") {
                pos += 1
                let members = Array(memberStack[first...])
                memberStack.removeSubrange(first...)
                return .object(JSONObject(uniqueEntries: members))
            }
            throw error(at: pos, "unexpected \(describe(pos)), expected ',' or '}' in object")
        }
    }

    /// Adds a member to the object whose members start at `first` on the stack; a repeated key
    /// replaces the earlier value in place (the last one wins).
    @inline(__always)
    private mutating func addMember(_ key: String, _ value: JSONValue, first: Int, index: inout [String: Int]?) {
        let count = memberStack.count - first
        if index == nil && count < JSONObject.indexThreshold {
            for i in first..<memberStack.count where memberStack[i].key == key {
                memberStack[i].value = value
                return
            }
            memberStack.append((key: key, value: value))
            return
        }
        if index == nil {
            var d = [String: Int](minimumCapacity: 2 * count)
            for i in first..<memberStack.count { d[memberStack[i].key] = i - first }
            index = d
        }
        if let i = index?[key] {
            memberStack[first + i].value = value
            return
        }
        index?[key] = count
        memberStack.append((key: key, value: value))
    }

    // MARK: scalars

    mutating func literal(_ word: StaticString) throws(BerthError) {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        for i in 0..<n {
            guard pos + i < end else {
                throw error(at: pos + i, "unexpected end of input in literal, expected '\(word)'")
            }
            guard base[pos + i] == w[i] else {
                throw error(at: pos + i, "unexpected \(describe(pos + i)) in literal, expected '\(word)'")
            }
        }
        pos += n
    }

    @inline(__always)
    private func isDigit(_ i: Int) -> Bool { i < end && base[i] &- 48 < 10 }

    mutating func parseNumber() throws(BerthError) -> String {
        let start = pos
        if base[pos] == UInt8(ascii: "-") {
            pos += 1
            guard isDigit(pos) else { throw error(at: pos, "\(describeOrEnd(pos)) after '-', expected a digit") }
        }
        if base[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) { throw error(at: pos - 1, "leading zeros are not allowed in numbers") }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && base[pos] == UInt8(ascii: ".") {
            pos += 1
            guard isDigit(pos) else { throw error(at: pos, "\(describeOrEnd(pos)) after '.', expected a digit") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < end && (base[pos] | 0x20) == UInt8(ascii: "e") {
            pos += 1
            if pos < end && (base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard isDigit(pos) else { throw error(at: pos, "\(describeOrEnd(pos)) in exponent, expected a digit") }
            while isDigit(pos) { pos += 1 }
        }
        // ASCII digits and signs only: decoding cannot fail or repair anything.
        return String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
    }

    /// For eight bytes loaded little-endian: a mask with bit 7 of each byte set where the byte is
    /// `"`, `\` or below 0x20. The lowest set bit is always exact (a borrow can only flag bytes
    /// above a real hit), which is all the scanner uses.
    @inline(__always)
    private static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let q = w ^ (ones &* 0x22)
        let b = w ^ (ones &* 0x5C)
        let hasQuote = (q &- ones) & ~q
        let hasBackslash = (b &- ones) & ~b
        let hasControl = (w &- ones &* 0x20) & ~w
        return (hasQuote | hasBackslash | hasControl) & highs
    }

    /// Parses a string starting at its opening quote.
    mutating func parseString() throws(BerthError) -> String {
        let open = pos
        let start = pos + 1
        var i = start
        var high: UInt64 = 0  // OR of all bytes scanned: bit 7 set when any is non-ASCII
        while true {
            if i + 8 <= end {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let special = JSONParser.specialBytes(w)
                if special == 0 {
                    high |= w
                    i += 8
                    continue
                }
                // Skip straight to the first special byte (little-endian: lowest byte first).
                let skip = special.trailingZeroBitCount >> 3
                high |= w & ((1 << (UInt64(skip) << 3)) &- 1)
                i += skip
            }
            guard i < end else { throw error(at: open, "unterminated string") }
            let c = base[i]
            if c == JSONParser.quote {
                if high & 0x8080_8080_8080_8080 != 0, let bad = firstInvalidUTF8(from: start, to: i) {
                    throw error(at: bad, "invalid UTF-8 in string")
                }
                pos = i + 1
                // Valid UTF-8 now, so `decoding` repairs nothing; unlike `String(validating:)` it
                // has a specialized fast path for UTF-8 buffers.
                return String(decoding: UnsafeBufferPointer(start: base + start, count: i - start), as: UTF8.self)
            }
            if c == JSONParser.backslash { break }
            if c < 0x20 { throw controlCharacter(at: i) }
            high |= UInt64(c)
            i += 1
        }
        return try parseEscapedString(open: open, escapeAt: i)
    }

    private func controlCharacter(at i: Int) -> BerthError {
        let hex = String(base[i], radix: 16, uppercase: true)
        return error(at: i, "control character U+\(hex.count == 1 ? "000" : "00")\(hex) in string, it must be escaped")
    }

    /// The slow path: the string from `open` has its first escape at `escapeAt`.
    private mutating func parseEscapedString(open: Int, escapeAt: Int) throws(BerthError) -> String {
        let start = open + 1
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: escapeAt - start))
        var i = escapeAt
        while true {
            // A run of plain bytes.
            let runStart = i
            while i < end {
                let c = base[i]
                if c == JSONParser.quote || c == JSONParser.backslash || c < 0x20 { break }
                i += 1
            }
            if i > runStart { scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
            guard i < end else { throw error(at: open, "unterminated string") }
            let c = base[i]
            if c == JSONParser.quote {
                // Escapes only produce valid UTF-8, so checking the raw bytes is enough.
                if let bad = firstInvalidUTF8(from: start, to: i) { throw error(at: bad, "invalid UTF-8 in string") }
                pos = i + 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c < 0x20 { throw controlCharacter(at: i) }
            // A backslash.
            guard i + 1 < end else { throw error(at: open, "unterminated string") }
            let e = base[i + 1]
            switch e {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: i + 2)
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard i + 7 < end, base[i + 6] == JSONParser.backslash, base[i + 7] == UInt8(ascii: "u") else {
                        throw error(at: i, "lone high surrogate \\u\(hexString(scalar)) in string, expected a low surrogate escape after it")
                    }
                    let low = try hex4(at: i + 8)
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw error(at: i + 6, "\\u\(hexString(low)) after high surrogate \\u\(hexString(scalar)) is not a low surrogate")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error(at: i, "lone low surrogate \\u\(hexString(scalar)) in string")
                }
                appendUTF8(scalar)
                i += 4
            default:
                throw error(at: i, "invalid escape '\\\(describeRaw(i + 1))' in string")
            }
            i += 2
        }
    }

    private func hexString(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    private func hex4(at: Int) throws(BerthError) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            guard at + k < end else { throw error(at: at + k, "unexpected end of input in \\u escape, expected 4 hex digits") }
            let c = base[at + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - 55
            default: throw error(at: at + k, "unexpected \(describe(at + k)) in \\u escape, expected 4 hex digits")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private mutating func appendUTF8(_ s: UInt32) {
        switch s {
        case 0..<0x80:
            scratch.append(UInt8(s))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | s >> 6))
            scratch.append(UInt8(0x80 | s & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | s >> 12))
            scratch.append(UInt8(0x80 | s >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | s >> 18))
            scratch.append(UInt8(0x80 | s >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | s >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | s & 0x3F))
        }
    }

    /// The offset of the first byte in `from..<to` that does not start or continue a valid UTF-8
    /// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or nil when
    /// all are valid.
    private func firstInvalidUTF8(from: Int, to: Int) -> Int? {
        var i = from
        while i < to {
            let c = base[i]
            let len: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch c {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: len = 2
            case 0xE0: len = 3; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: len = 3
            case 0xED: len = 3; hi = 0x9F
            case 0xF0: len = 4; lo = 0x90
            case 0xF1...0xF3: len = 4
            case 0xF4: len = 4; hi = 0x8F
            default: return i
            }
            guard i + len <= to else { return i }
            let second = base[i + 1]
            guard second >= lo && second <= hi else { return i }
            for k in 2..<max(2, len) where base[i + k] & 0xC0 != 0x80 { return i }
            i += len
        }
        return nil
    }

    // MARK: errors

    /// `'x'` for a printable ASCII byte, `byte 0xNN` otherwise.
    private func describeRaw(_ i: Int) -> String {
        let c = base[i]
        if c >= 0x20 && c < 0x7F { return String(UnicodeScalar(c)) }
        return "\\x" + String(c, radix: 16)
    }

    func describe(_ i: Int) -> String {
        let c = base[i]
        if c >= 0x20 && c < 0x7F { return "'\(String(UnicodeScalar(c)))'" }
        let hex = String(c, radix: 16, uppercase: true)
        return "byte 0x\(hex.count == 1 ? "0" : "")\(hex)"
    }

    private func describeOrEnd(_ i: Int) -> String {
        i < end ? "unexpected \(describe(i))" : "unexpected end of input"
    }

    /// An error at byte offset `at`, with its line and column.
    func error(at: Int, _ what: String) -> BerthError {
        var line = 1
        var lineStart = 0
        let stop = min(at, end)
        for i in 0..<stop where base[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        var column = 1
        for i in lineStart..<stop where base[i] & 0xC0 != 0x80 { column += 1 }
        return BerthError(.invalidArgument, "invalid json: line \(line) column \(column): \(what)")
    }
}
