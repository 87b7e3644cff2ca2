/// Foundation-free JSON: parsing text into `JSONValue` and writing it back.
///
/// berth-init parses every container's `config.json` with this on the start path, so the parser
/// works on raw byte buffers (no per-character `String` work) and is strict about hostile input:
///
/// - RFC 8259 grammar only: no comments, no trailing commas, no `NaN`/`Infinity`, no leading
///   zeros, no byte order mark, nothing after the document. Any value may be the top level.
/// - Input must be UTF-8; invalid UTF-8 inside strings is rejected (outside strings any
///   non-ASCII byte is a syntax error anyway).
/// - `\uXXXX` escapes: a surrogate pair becomes one scalar; a lone surrogate is an error (as in
///   Foundation; Go would substitute U+FFFD).
/// - Objects and arrays may nest `maxDepth` (512) levels deep; deeper input is rejected before it
///   can exhaust the stack.
/// - A repeated object key keeps the last value.
/// - Numbers are kept as their literal text, so any size is accepted (`1e400` parses; decoding it
///   into a `Double` then fails).
///
/// Errors are `BerthError(.invalidArgument, "invalid json: line L column C: <what>")`; lines and
/// columns count from 1, columns in Unicode scalars.
public enum JSON {
    /// The deepest nesting of objects and arrays accepted (Foundation's limit): `[[…]]` 512
    /// levels deep parses, 513 does not.
    public static let maxDepth = 512

    /// Parses a complete JSON document from UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) throws(BerthError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buf) throws(BerthError) -> JSONValue in try parse(buf) }
    }

    /// Parses a complete JSON document from a string.
    public static func parse(_ text: String) throws(BerthError) -> JSONValue {
        var text = text
        // `withUTF8` rethrows untyped errors; carry the typed one out in a Result.
        let result = text.withUTF8 { buf in
            Result { () throws(BerthError) -> JSONValue in try parse(buf) }
        }
        return try result.get()
    }

    /// Parses a complete JSON document from raw memory (for example a mapped file).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(BerthError) -> JSONValue {
        try parse(bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Parses a complete JSON document from a buffer of UTF-8 bytes.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(BerthError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw BerthError(.invalidArgument, "invalid json: line 1 column 1: unexpected end of input, expected a value")
        }
        var parser = JSONParser(base: base, count: bytes.count)
        return try parser.parseDocument()
    }

    /// Writes a value as UTF-8 JSON text.
    ///
    /// Compact by default (no whitespace). Strings escape `"`, `\` and control characters (`\n`,
    /// `\r`, `\t`, `\b`, `\f` in short form, others as `\u00XX` with lowercase hex, like Go);
    /// `/` is never escaped; other characters are written as UTF-8. See `JSONWriteOptions` for
    /// pretty printing, sorted keys and HTML escaping. No trailing newline is written.
    public static func serialize(_ value: JSONValue, options: JSONWriteOptions = []) -> [UInt8] {
        var writer = JSONWriter(options: options)
        writer.write(value, depth: 0)
        return writer.out
    }

    /// Appends a value's JSON text to a buffer (see `serialize`).
    public static func serialize(_ value: JSONValue, options: JSONWriteOptions = [], into buffer: inout [UInt8]) {
        var writer = JSONWriter(options: options)
        swap(&writer.out, &buffer)
        writer.write(value, depth: 0)
        swap(&writer.out, &buffer)
    }

    /// Appends a string as a quoted, escaped JSON string (see `serialize` for the escaping rules;
    /// only `.escapeHTML` of the options matters here).
    public static func writeString(_ string: String, to buffer: inout [UInt8], options: JSONWriteOptions = []) {
        var writer = JSONWriter(options: options)
        swap(&writer.out, &buffer)
        writer.writeString(string)
        swap(&writer.out, &buffer)
    }
}

/// How `JSON.serialize` and `BerthJSONEncoder` write text.
public struct JSONWriteOptions: OptionSet, Sendable, Hashable {
    /// The options' bits.
    public let rawValue: Int

    /// Options from their bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// One member or element per line, indented two spaces per level, `"key": value` — the
    /// layout of Go's `json.MarshalIndent(v, "", "  ")` (Foundation writes `"key" : value`).
    /// Empty objects and arrays stay `{}` and `[]`.
    public static let prettyPrinted = JSONWriteOptions(rawValue: 1 << 0)

    /// Object members ordered by key, comparing keys' UTF-8 bytes (Go's order for map keys).
    /// Without it members are written in their order in the object (encoding order).
    public static let sortedKeys = JSONWriteOptions(rawValue: 1 << 1)

    /// Escape `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, and U+2028/U+2029 as `\u2028`,
    /// `\u2029`, as Go's encoding/json does by default (Docker's API and json-file logs).
    public static let escapeHTML = JSONWriteOptions(rawValue: 1 << 2)

    /// Accepted for source compatibility with Foundation; it is always the behaviour here: `/`
    /// is never escaped.
    public static let withoutEscapingSlashes = JSONWriteOptions(rawValue: 1 << 3)
}
