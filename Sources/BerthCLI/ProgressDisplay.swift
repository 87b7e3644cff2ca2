import BerthAPI
import BerthClient

/// Renders a JSON progress stream as docker's `jsonmessage.DisplayJSONMessagesStream` does:
/// on a terminal one line per layer id, updated in place with cursor movements; otherwise
/// progress bars are dropped and only status and stream lines are printed. A message with an
/// `error` stops the display and is thrown (the CLI prints it and exits 1).
struct ProgressDisplay {
    let isTerminal: Bool
    /// Where the display goes (`run`/`create` pull to stderr: stdout is for the ID).
    let fd: Int32
    var ids: [String: Int] = [:]

    init(isTerminal: Bool, fd: Int32 = 1) {
        self.isTerminal = isTerminal
        self.fd = fd
    }

    /// Displays the whole stream; returns the messages' `status` texts (import prints the ID).
    @discardableResult
    mutating func run(_ stream: JSONLineStream<JSONMessage>) async throws -> [String] {
        var statuses: [String] = []
        for try await m in stream {
            if let s = m.status { statuses.append(s) }
            try display(m)
        }
        return statuses
    }

    mutating func display(_ m: JSONMessage) throws {
        if m.aux != nil { return }
        var out = ""
        var diff = 0
        let hasProgress = m.progressDetail != nil || (m.progress.map { !$0.isEmpty } ?? false)
        if let id = m.id, !id.isEmpty, hasProgress {
            let line: Int
            if let l = ids[id] {
                line = l
            } else {
                line = ids.count
                ids[id] = line
                if isTerminal { out += "\n" }
            }
            diff = ids.count - line
            if isTerminal { out += "\u{1B}[\(diff)A" }
        } else {
            ids = [:]
        }
        if let error = m.error ?? m.errorDetail?.message {
            try? Output.write(Array(out.utf8), to: fd)
            throw CLIError.message(error)
        }
        out += render(m)
        if let id = m.id, !id.isEmpty, isTerminal, diff > 0 { out += "\u{1B}[\(diff)B" }
        try? Output.write(Array(out.utf8), to: fd)
    }

    /// One message as `JSONMessage.Display` writes it.
    func render(_ m: JSONMessage) -> String {
        var out = ""
        let bar = m.progress.flatMap { $0.isEmpty ? nil : $0 }
            ?? m.progressDetail.flatMap { d in d.total.map { ProgressBar.render(current: d.current ?? 0, total: $0) } }
        var endl = ""
        if isTerminal && m.stream == nil && bar != nil {
            out += "\u{1B}[2K\r"
            endl = "\r"
        } else if bar != nil {
            return "" // no progress bars off a terminal
        }
        if let id = m.id, !id.isEmpty { out += "\(id): " }
        if let bar, isTerminal {
            out += "\(m.status ?? "") \(bar)\(endl)"
        } else if let s = m.stream {
            out += s + endl
        } else {
            out += "\(m.status ?? "")\(endl)\n"
        }
        return out
    }
}
