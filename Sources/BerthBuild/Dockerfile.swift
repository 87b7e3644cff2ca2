import BerthCore

/// A parsed Dockerfile: parser directives, the `ARG`s before the first `FROM`, and the stages.
/// Values are kept as written (quotes and `$VAR` references included): variables are expanded
/// by the builder, step by step, with ``ShellWords``, because their values depend on the
/// `ENV` and `ARG` instructions before each use.
public struct Dockerfile: Sendable, Equatable {
    /// Parser directives from the top of the file (`# syntax=…`, `# escape=…`, `# check=…`),
    /// names lowercased.
    public var directives: [String: String]
    /// The escape character (`\` unless `# escape=` says `` ` ``).
    public var escape: Character
    /// `ARG` instructions before the first `FROM` (usable in `FROM` lines only).
    public var metaArgs: [Instruction]
    /// The build stages, in file order.
    public var stages: [Stage]

    public init(directives: [String: String] = [:], escape: Character = "\\", metaArgs: [Instruction] = [], stages: [Stage] = []) {
        self.directives = directives
        self.escape = escape
        self.metaArgs = metaArgs
        self.stages = stages
    }
}

/// One `FROM` and the instructions up to the next.
public struct Stage: Sendable, Equatable {
    /// Position in the file, from 0 (`COPY --from=0` refers to it).
    public var index: Int
    /// The `FROM` instruction (its kind is `.from`).
    public var from: Instruction
    /// The instructions after `FROM`, in order.
    public var instructions: [Instruction]

    public init(index: Int, from: Instruction, instructions: [Instruction]) {
        self.index = index
        self.from = from
        self.instructions = instructions
    }

    /// `AS name`, lowercased, if given.
    public var name: String? {
        if case .from(_, let name, _) = from.kind { return name }
        return nil
    }
}

/// One instruction with where it came from.
public struct Instruction: Sendable, Equatable {
    /// First line (1-based) of the instruction in the Dockerfile.
    public var line: Int
    /// Last line (continuations and heredoc bodies included).
    public var endLine: Int
    /// The instruction as Docker prints it in "Step N/M : …": the keyword uppercased, then the
    /// rest with line continuations joined (heredoc bodies not included).
    public var text: String
    /// Flags given before the arguments (`--from=build`, `--chown=1:1`, `--link`), in order.
    /// A flag without `=value` has the value "" (`--link`). The parser accepts only the flags
    /// the instruction knows (see ``Instruction/allowedFlags``).
    public var flags: [Flag]
    /// Heredocs attached to the instruction (`RUN <<EOF`, `COPY <<A <<B /dst/`), in order.
    public var heredocs: [Heredoc]
    public var kind: Kind

    public init(line: Int, endLine: Int, text: String, flags: [Flag] = [], heredocs: [Heredoc] = [], kind: Kind) {
        self.line = line
        self.endLine = endLine
        self.text = text
        self.flags = flags
        self.heredocs = heredocs
        self.kind = kind
    }

    /// The value of a flag (the last one given), nil if absent.
    public func flag(_ name: String) -> String? { flags.last { $0.name == name }?.value }

    /// Flags each instruction accepts (Docker's, BuildKit's included); others are a parse error.
    public static let allowedFlags: [String: Set<String>] = [
        "FROM": ["platform"],
        "RUN": ["network", "mount", "security"],
        "COPY": ["from", "chown", "chmod", "link", "parents", "exclude"],
        "ADD": ["chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"],
        "HEALTHCHECK": ["interval", "timeout", "start-period", "start-interval", "retries"],
    ]

    /// The instructions, as `Kind` cases.
    public enum Kind: Sendable, Equatable {
        /// `FROM [--platform=…] image [AS name]`: `image` unexpanded, `name` lowercased.
        case from(image: String, name: String?, platform: String?)
        case run(Command)
        case cmd(Command)
        case entrypoint(Command)
        /// `ENV k=v …` or the legacy `ENV k v`: values unexpanded, quotes kept.
        case env([KeyValue])
        /// `ARG name[=default] …`: defaults unexpanded, quotes kept.
        case arg([ArgDefinition])
        /// `LABEL k=v …`: keys and values unexpanded, quotes kept.
        case label([KeyValue])
        case workdir(String)
        case user(String)
        case copy(CopyArguments)
        case add(CopyArguments)
        /// `EXPOSE 80 443/tcp` as words (unexpanded).
        case expose([String])
        /// `VOLUME /a /b` or `VOLUME ["/a", "/b"]`.
        case volume([String])
        /// `HEALTHCHECK NONE` is `.none`; otherwise the `CMD` form and the flags (in `flags`).
        case healthcheck(Healthcheck)
        /// `SHELL ["executable", "parameters"]` (JSON form only).
        case shell([String])
        case stopsignal(String)
        /// `ONBUILD <instruction>`: the trigger as written (re-parsed when it fires).
        case onbuild(String)
        case maintainer(String)
    }
}

/// `--name=value` before an instruction's arguments.
public struct Flag: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A here-document: `<<EOF` (expanded), `<<"EOF"` / `<<'EOF'` (not expanded), `<<-EOF`
/// (leading tabs removed from each body line).
public struct Heredoc: Sendable, Equatable {
    /// The delimiter word without quotes or `-`.
    public var name: String
    /// The body: the lines between the instruction and the delimiter, each ending in "\n".
    public var content: String
    /// False when the delimiter was quoted: the body is taken literally.
    public var expand: Bool
    /// `<<-`: leading tabs were stripped from the body lines.
    public var chomp: Bool

    public init(name: String, content: String, expand: Bool, chomp: Bool) {
        self.name = name
        self.content = content
        self.expand = expand
        self.chomp = chomp
    }
}

/// `RUN`, `CMD`, `ENTRYPOINT`: the JSON (exec) form or the shell form.
public enum Command: Sendable, Equatable {
    /// `["executable", "arg"]`: run as is, no shell, no expansion.
    case exec([String])
    /// The shell form: the text after the keyword, continuations joined. For `RUN` with
    /// heredocs it is the first line only (`cat <<EOF > /x`); the bodies are in the
    /// instruction's `heredocs`.
    case shell(String)
}

/// `key=value` as written.
public struct KeyValue: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// `ARG name` or `ARG name=default`.
public struct ArgDefinition: Sendable, Equatable {
    public var name: String
    public var defaultValue: String?
    public init(name: String, defaultValue: String?) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

/// `COPY`/`ADD` sources and destination as written (JSON form or words; unexpanded). A
/// source `<<NAME` refers to the heredoc of that name.
public struct CopyArguments: Sendable, Equatable {
    public var sources: [String]
    public var destination: String
    public init(sources: [String], destination: String) {
        self.sources = sources
        self.destination = destination
    }
}

/// `HEALTHCHECK`.
public enum Healthcheck: Sendable, Equatable {
    /// `HEALTHCHECK NONE`: disables the base image's check.
    case none
    /// `HEALTHCHECK [flags] CMD …`.
    case command(Command)
}

/// A Dockerfile syntax error, with Docker's wording: `dockerfile parse error on line N: …`.
public struct DockerfileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line, or 0 when the error concerns the whole file.
    public var line: Int
    public var message: String
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
    public var description: String {
        line > 0 ? "dockerfile parse error on line \(line): \(message)" : message
    }
}
