/// Accepts docker's `--flag=false` forms for boolean flags, which swift-argument-parser does
/// not: before parsing, `--sig-proxy=false` becomes `--no-sig-proxy`, `--rm=true` becomes
/// `--rm`, `--rm=false` and `-d=false` are dropped. Only the options of the container verbs
/// are rewritten, and only up to their first positional argument (the image or container),
/// so a container's own command line is never touched.
enum ArgumentRewriter {
    struct Verb {
        let longBools: Set<String>
        let shortBools: Set<Character>
        /// Long flags with a `--no-` inversion.
        let invertible: Set<String>
    }

    static let runBools: Set<String> = [
        "interactive", "tty", "rm", "init", "read-only", "privileged", "oom-kill-disable", "publish-all",
        "no-healthcheck", "quiet", "disable-content-trust", "detach", "sig-proxy", "help",
    ]

    static let verbs: [String: Verb] = [
        "run": Verb(longBools: runBools, shortBools: ["d", "i", "t", "P", "q"], invertible: ["sig-proxy"]),
        "create": Verb(longBools: runBools, shortBools: ["i", "t", "P", "q"], invertible: []),
        "exec": Verb(longBools: ["detach", "interactive", "tty", "privileged", "help"], shortBools: ["d", "i", "t"], invertible: []),
        "start": Verb(longBools: ["attach", "interactive", "help"], shortBools: ["a", "i"], invertible: []),
        "attach": Verb(longBools: ["no-stdin", "sig-proxy", "help"], shortBools: [], invertible: ["sig-proxy"]),
    ]

    static func rewrite(_ args: [String]) -> [String] {
        // Skip the global options (`-H x`, `--host=x`).
        var i = 0
        while i < args.count, args[i].hasPrefix("-") {
            if args[i] == "-H" || args[i] == "--host" { i += 2 } else { i += 1 }
        }
        guard i < args.count else { return args }
        let verbStart = i
        var verbName = args[i]
        if verbName == "container", i + 1 < args.count {
            i += 1
            verbName = args[i]
        }
        guard let verb = verbs[verbName] else { return args }
        let verbPath = Array(args[verbStart...i])
        var out = Array(args[...i])
        i += 1
        while i < args.count {
            let a = args[i]
            if a == "--" || !a.hasPrefix("-") || a == "-" { break }
            if a == "--help" {
                // The image/command capture would swallow it: ask for the help subcommand.
                return Array(args[..<verbStart]) + ["help"] + verbPath
            }
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                if let eq = body.firstIndex(of: "=") {
                    let name = String(body[..<eq])
                    if verb.longBools.contains(name), let value = parseBool(String(body[body.index(after: eq)...])) {
                        if value {
                            out.append("--" + name)
                        } else if verb.invertible.contains(name) {
                            out.append("--no-" + name)
                        }
                    } else {
                        out.append(a)
                    }
                    i += 1
                    continue
                }
                out.append(a)
                let name = String(body)
                let isBool = verb.longBools.contains(name) || (name.hasPrefix("no-") && verb.invertible.contains(String(name.dropFirst(3))))
                if !isBool, i + 1 < args.count {
                    out.append(args[i + 1])
                    i += 1
                }
                i += 1
                continue
            }
            // Short flags: `-it`, `-d=false`, `-eA=b`, `-p 80:80`.
            let letters = Array(a.dropFirst())
            if letters.count >= 2, letters[1] == "=", verb.shortBools.contains(letters[0]),
               let value = parseBool(String(letters[2...])) {
                if value { out.append("-" + String(letters[0])) }
                i += 1
                continue
            }
            out.append(a)
            var consumesNext = false
            for (k, c) in letters.enumerated() where !verb.shortBools.contains(c) {
                consumesNext = k == letters.count - 1
                break
            }
            if consumesNext, i + 1 < args.count {
                out.append(args[i + 1])
                i += 1
            }
            i += 1
        }
        out.append(contentsOf: args[i...])
        return out
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: return nil
        }
    }
}
