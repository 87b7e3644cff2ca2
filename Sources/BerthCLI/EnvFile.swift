#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Docker's `--env-file` / `--label-file` format and `-e` rules (`opts.ParseEnvFile`,
/// `opts.ValidateEnv`).
///
/// One `NAME=value` per line; the value is kept verbatim (no quotes are removed, trailing
/// spaces stay); leading whitespace is dropped; empty lines and lines starting with `#` are
/// skipped; a bare `NAME` takes the value from the environment, or is left out when unset.
enum EnvFile {
    /// Parses `text` (the file's content); `file` names it in errors.
    static func parse(_ text: String, file: String, lookup: (String) -> String?) throws -> [String] {
        var lines: [String] = []
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // "\r\n" is one Character in Swift: split on both.
        for raw in body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = raw
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            let variable: Substring
            let value: Substring?
            if let eq = line.firstIndex(of: "=") {
                variable = line[..<eq]
                value = line[line.index(after: eq)...]
            } else {
                variable = line
                value = nil
            }
            if variable.isEmpty { throw Units.ParseError("no variable name on line '\(line)'") }
            if variable.contains(where: { $0 == " " || $0 == "\t" }) {
                throw Units.ParseError("variable '\(variable)' contains whitespaces")
            }
            if let value {
                lines.append("\(variable)=\(value)")
            } else if let v = lookup(String(variable)) {
                lines.append("\(variable)=\(v)")
            }
        }
        return lines
    }

    /// `-e NAME=value` as is; `-e NAME` takes the environment's value when set, else stays bare.
    static func validate(_ value: String, lookup: (String) -> String?) throws -> String {
        let name = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
        if name.isEmpty { throw Units.ParseError("invalid environment variable: \(value)") }
        if value.contains("=") { return value }
        if let v = lookup(value) { return "\(value)=\(v)" }
        return value
    }

    /// The process environment.
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Reads a whole (small) file as UTF-8; errors as Go's `open`.
    static func readFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Units.ParseError("open \(path): \(String(cString: strerror(errno)).lowercased())") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Units.ParseError("read \(path): \(String(cString: strerror(errno)).lowercased())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: buffer[..<n])
            if bytes.count > 64 << 20 { throw Units.ParseError("\(path): file too large") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Units.ParseError("env file \(path) contains invalid utf8 bytes")
        }
        return text
    }

    /// The current directory (for relative bind sources).
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(cString: buffer)
    }
}
