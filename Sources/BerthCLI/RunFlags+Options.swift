import BerthCore
import BerthOCI

/// The parts of the `run`/`create` conversion that are more than a copy: restart policy,
/// healthcheck, security options, capabilities, `k=v` lists and `--add-host`.
extension RunFlags {
    /// `--restart no|always|unless-stopped|on-failure[:max]` (docker's `ParseRestartPolicy`).
    func restartPolicy() throws(FlagError) -> HostConfig.RestartPolicy {
        guard let restart, !restart.isEmpty else { return HostConfig.RestartPolicy(name: "no") }
        let parts = restart.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 && parts[0].isEmpty {
            throw FlagError("invalid restart policy format: no policy provided before colon")
        }
        var policy = HostConfig.RestartPolicy(name: String(parts[0]))
        if parts.count == 2 && !parts[1].isEmpty {
            guard let n = Int(parts[1]) else { throw FlagError("invalid restart policy format: maximum retry count must be an integer") }
            policy.MaximumRetryCount = n
        }
        return policy
    }

    /// `Config.Healthcheck` from `--health-*` / `--no-healthcheck`; nil when none is given.
    func healthConfig() throws(FlagError) -> HealthConfig? {
        func duration(_ value: String?, _ flag: String) throws(FlagError) -> Int64 {
            guard let value else { return 0 }
            let d = try parsed(value, flag, Units.goDuration)
            if d < 0 { throw FlagError("\(flag) cannot be negative") }
            return d
        }
        let interval = try duration(healthInterval, "--health-interval")
        let timeout = try duration(healthTimeout, "--health-timeout")
        let startPeriod = try duration(healthStartPeriod, "--health-start-period")
        let startInterval = try duration(healthStartInterval, "--health-start-interval")
        let retries = healthRetries ?? 0
        let have = (healthCmd.map { !$0.isEmpty } ?? false) || interval != 0 || timeout != 0 || startPeriod != 0
            || startInterval != 0 || retries != 0
        if noHealthcheck {
            if have { throw FlagError("--no-healthcheck conflicts with --health-* options") }
            var h = HealthConfig()
            h.Test = ["NONE"]
            return h
        }
        guard have else { return nil }
        if retries < 0 { throw FlagError("--health-retries cannot be negative") }
        var h = HealthConfig()
        if let cmd = healthCmd, !cmd.isEmpty { h.Test = ["CMD-SHELL", cmd] }
        h.Interval = interval
        h.Timeout = timeout
        h.StartPeriod = startPeriod
        h.StartInterval = startInterval
        h.Retries = retries
        return h
    }

    /// `--security-opt`: checked as docker does; `seccomp=<file>` is replaced by the file's
    /// JSON (compacted), since the daemon cannot read the client's files.
    func securityOptions(context: RunContext) throws(FlagError) -> [String] {
        var out: [String] = []
        for opt in securityOpt {
            var key = opt, value = ""
            var hasValue = false
            if let eq = opt.firstIndex(of: "=") {
                key = String(opt[..<eq]); value = String(opt[opt.index(after: eq)...]); hasValue = true
            } else if opt != "no-new-privileges", let colon = opt.firstIndex(of: ":") {
                key = String(opt[..<colon]); value = String(opt[opt.index(after: colon)...]); hasValue = true
            }
            if (!hasValue || value.isEmpty) && key != "no-new-privileges" {
                throw FlagError("Invalid --security-opt: \"\(opt)\"")
            }
            if key == "seccomp" && value != "builtin" && value != "unconfined" {
                let text: String
                do { text = try context.readFile(value) } catch {
                    throw FlagError("opening seccomp profile (\(value)) failed: \(error)")
                }
                let json: JSONValue
                do { json = try JSON.parse(text) } catch {
                    throw FlagError("compacting json for seccomp profile (\(value)) failed: \(error)")
                }
                out.append("seccomp=" + String(decoding: JSON.serialize(json), as: UTF8.self))
                continue
            }
            out.append(opt)
        }
        return out
    }

    /// `k=v` items as a map (`k` alone: an empty value, unless `requireValue`).
    func keyValueMap(_ items: [String], _ flag: String, requireValue: Bool) throws(FlagError) -> [String: String] {
        var map: [String: String] = [:]
        for item in items {
            if requireValue && !item.contains("=") {
                throw FlagError.invalid(item, flag, Units.ParseError("invalid key=value: \(item)"))
            }
            let (k, v) = MountSpec.keyValue(item)
            map[k] = v
        }
        return map
    }

    /// Docker's `EffectiveCapAddCapDrop`: names upper-cased with a `CAP_` prefix (`ALL` stays),
    /// `ALL` absorbing the rest of its list, a capability both added and dropped only added;
    /// both lists sorted.
    static func effectiveCapabilities(add: [String], drop: [String]) -> (add: [String], drop: [String]) {
        func normalize(_ list: [String]) -> Set<String> {
            var set = Set(list.map { c -> String in
                let u = c.trimmingSpacesString().uppercased()
                return u == "ALL" || u.hasPrefix("CAP_") ? u : "CAP_" + u
            })
            if set.contains("ALL") { set = ["ALL"] }
            return set
        }
        let a = normalize(add)
        let d = normalize(drop).subtracting(a)
        return (a.sorted(), d.sorted())
    }

    /// `--add-host name:ip` or `name=ip` → `name:ip` (docker's `ValidateExtraHost`).
    static func extraHost(_ value: String) throws -> String {
        var name = "", ip = ""
        if let eq = value.firstIndex(of: "=") {
            name = String(value[..<eq]); ip = String(value[value.index(after: eq)...])
        } else if let colon = value.firstIndex(of: ":") {
            name = String(value[..<colon]); ip = String(value[value.index(after: colon)...])
        } else {
            throw Units.ParseError("bad format for add-host: \"\(value)\"")
        }
        if name.isEmpty || name.contains(":") { throw Units.ParseError("bad format for add-host: \"\(value)\"") }
        if ip != "host-gateway" {
            if ip.count > 2 && ip.hasPrefix("[") && ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
            guard PortSpec.isIP(ip) else { throw Units.ParseError("invalid IP address in add-host: \"\(ip)\"") }
        }
        return name + ":" + ip
    }
}
