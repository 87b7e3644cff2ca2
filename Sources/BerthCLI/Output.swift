#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing to the terminal or pipes: stdout and stderr, unbuffered at our level (each call is
/// one or more `write(2)`s), so text and binary output never interleave wrongly.
enum Output {
    /// Writes `bytes` to `fd` completely (retrying on EINTR and short writes).
    static func write(_ bytes: some Collection<UInt8>, to fd: Int32) throws {
        let data = Array(bytes)
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { buf in
                Glibc.write(fd, buf.baseAddress.map { $0 + offset }, data.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError.message("write error: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Prints `text` on stdout (a newline is appended unless `terminator` says otherwise).
    static func out(_ text: String, terminator: String = "\n") {
        try? write(Array((text + terminator).utf8), to: 1)
    }

    /// Prints `text` on stderr.
    static func err(_ text: String, terminator: String = "\n") {
        try? write(Array((text + terminator).utf8), to: 2)
    }

    /// Whether `fd` is a terminal.
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}

/// Go's `text/tabwriter` as docker uses it (`NewWriter(out, 10, 1, 3, ' ', 0)`): every column
/// but the last is padded to its widest cell plus 3 spaces, and at least 10 wide.
struct TabWriter {
    var rows: [[String]] = []
    var minWidth = 10
    var padding = 3

    mutating func add(_ cells: [String]) { rows.append(cells) }

    /// The aligned text, one line per row, each ending in a newline.
    func render() -> String {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() where i < row.count - 1 {
                if widths.count <= i { widths.append(0) }
                widths[i] = max(widths[i], cell.count + padding, minWidth)
            }
        }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: max(0, widths[i] - cell.count)) }
            }
            out += line + "\n"
        }
        return out
    }
}
