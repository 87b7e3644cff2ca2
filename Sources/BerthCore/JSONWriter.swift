/// Writes `JSONValue`s as UTF-8 text (see `JSON.serialize` for the format).
struct JSONWriter {
    var out: [UInt8] = []
    let pretty: Bool
    let sorted: Bool
    let escapeHTML: Bool

    init(options: JSONWriteOptions) {
        pretty = options.contains(.prettyPrinted)
        sorted = options.contains(.sortedKeys)
        escapeHTML = options.contains(.escapeHTML)
        out.reserveCapacity(1024)
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    @inline(__always)
    private mutating func append(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func newline(_ depth: Int) {
        out.append(0x0A)
        for _ in 0..<depth { out.append(0x20); out.append(0x20) }
    }

    mutating func write(_ value: JSONValue, depth: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): b ? append("true") : append("false")
        case .number(let n):
            if JSONNumber.isValid(n) { out.append(contentsOf: n.utf8) } else { append("null") }
        case .string(let s): writeString(s)
        case .array(let a):
            if a.isEmpty { append("[]"); return }
            out.append(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(depth + 1) }
                write(e, depth: depth + 1)
            }
            if pretty { newline(depth) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty { append("{}"); return }
            out.append(UInt8(ascii: "{"))
            if sorted {
                let members = o.entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
                writeMembers(members, depth: depth)
            } else {
                writeMembers(o.entries, depth: depth)
            }
            if pretty { newline(depth) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private mutating func writeMembers(_ members: [JSONObject.Element], depth: Int) {
        for (i, m) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if pretty { newline(depth + 1) }
            writeString(m.key)
            out.append(UInt8(ascii: ":"))
            if pretty { out.append(0x20) }
            write(m.value, depth: depth + 1)
        }
    }

    /// Appends a quoted, escaped string. Runs of bytes that need no escaping are copied whole.
    mutating func writeString(_ string: String) {
        out.append(UInt8(ascii: "\""))
        var s = string
        s.withUTF8 { u in
            let n = u.count
            var runStart = 0
            var i = 0
            while i < n {
                let c = u[i]
                let needsEscape = c < 0x20 || c == 0x22 || c == 0x5C
                    || (escapeHTML && (c == UInt8(ascii: "<") || c == UInt8(ascii: ">") || c == UInt8(ascii: "&") || c == 0xE2))
                if !needsEscape {
                    i += 1
                    continue
                }
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9; other E2 sequences pass through.
                if c == 0xE2 && !(i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
                    i += 1
                    continue
                }
                if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<i])) }
                switch c {
                case 0x22: append("\\\"")
                case 0x5C: append("\\\\")
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                case 0x08: append("\\b")
                case 0x0C: append("\\f")
                case UInt8(ascii: "<"): append("\\u003c")
                case UInt8(ascii: ">"): append("\\u003e")
                case UInt8(ascii: "&"): append("\\u0026")
                case 0xE2:
                    u[i + 2] == 0xA8 ? append("\\u2028") : append("\\u2029")
                    i += 2
                default:
                    append("\\u00")
                    let hex = JSONWriter.hexDigits.utf8Start
                    out.append(hex[Int(c >> 4)])
                    out.append(hex[Int(c & 0x0F)])
                }
                i += 1
                runStart = i
            }
            if n > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<n])) }
        }
        out.append(UInt8(ascii: "\""))
    }
}
