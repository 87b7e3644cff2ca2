import BerthCore
import BerthOCI

/// Docker's `-p/--publish` and `--expose` parsers (go-connections `nat.ParsePortSpec`).
enum PortSpec {
    /// One container port and how it is published.
    struct Mapping: Equatable {
        /// `80/tcp`.
        var port: String
        var hostIP: String
        /// Empty: a random host port.
        var hostPort: String
    }

    /// `[ip:][hostPort:]containerPort[/proto]`, with ranges (`8000-8010:80-90/udp`).
    static func publish(_ raw: String) throws -> [Mapping] {
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var ip = "", hostPort = "", containerPort = parts[parts.count - 1]
        switch parts.count {
        case 1: break
        case 2: hostPort = parts[0]
        case 3: ip = parts[0]; hostPort = parts[1]
        default:
            ip = parts[..<(parts.count - 2)].joined(separator: ":")
            hostPort = parts[parts.count - 2]
        }
        var proto = "tcp"
        if let slash = containerPort.firstIndex(of: "/") {
            proto = String(containerPort[containerPort.index(after: slash)...])
            containerPort = String(containerPort[..<slash])
        }
        if ip.hasPrefix("[") {
            guard ip.hasSuffix("]") else { throw Units.ParseError("invalid IP address \(ip): missing ']' in address") }
            ip = String(ip.dropFirst().dropLast())
        }
        if !ip.isEmpty && !isIP(ip) { throw Units.ParseError("invalid IP address: \(ip)") }
        if containerPort.isEmpty { throw Units.ParseError("no port specified: \(raw)<empty>") }
        guard let (start, end) = range(containerPort) else { throw Units.ParseError("invalid containerPort: \(containerPort)") }
        var hostStart = 0, hostEnd = 0
        if !hostPort.isEmpty {
            guard let r = range(hostPort) else { throw Units.ParseError("invalid hostPort: \(hostPort)") }
            (hostStart, hostEnd) = r
        }
        if !hostPort.isEmpty && end - start != hostEnd - hostStart && end != start {
            throw Units.ParseError("invalid ranges specified for container and host Ports: \(containerPort) and \(hostPort)")
        }
        proto = proto.lowercased()
        guard ["tcp", "udp", "sctp"].contains(proto) else { throw Units.ParseError("invalid proto: \(proto)") }
        var out: [Mapping] = []
        for i in 0...(end - start) {
            var host = hostPort.isEmpty ? "" : String(hostStart + i)
            if start == end && hostStart != hostEnd { host = "\(host)-\(hostEnd)" }
            out.append(Mapping(port: "\(start + i)/\(proto)", hostIP: ip, hostPort: host))
        }
        return out
    }

    /// `--expose 80`, `80/udp`, `8000-8010/tcp` → the port keys.
    static func expose(_ raw: String) throws -> [String] {
        var port = raw
        var proto = "tcp"
        if let slash = raw.firstIndex(of: "/") {
            port = String(raw[..<slash])
            proto = String(raw[raw.index(after: slash)...]).lowercased()
        }
        guard ["tcp", "udp", "sctp"].contains(proto) else { throw Units.ParseError("invalid proto: \(proto)") }
        guard let (start, end) = range(port) else {
            throw Units.ParseError("invalid range format for --expose: \(raw), error: invalid port \(port)")
        }
        return (start...end).map { "\($0)/\(proto)" }
    }

    /// `80` or `80-90`, each in 0...65535.
    static func range(_ s: String) -> (Int, Int)? {
        let bounds = s.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let a = Int(bounds[0]), (0...65535).contains(a) else { return nil }
        guard bounds.count == 2 else { return (a, a) }
        guard let b = Int(bounds[1]), (0...65535).contains(b), b >= a else { return nil }
        return (a, b)
    }

    /// Whether `s` is an IPv4 or IPv6 literal (as `net.ParseIP`, without zones).
    static func isIP(_ s: String) -> Bool {
        if isIPv4(Substring(s)) { return true }
        guard s.contains(":") else { return false }
        var groups = s.split(separator: ":", omittingEmptySubsequences: false)
        var units = 0
        if let last = groups.last, last.contains(".") {
            guard isIPv4(last) else { return false }
            groups.removeLast()
            units = 2
        }
        let compressed = s.contains("::")
        if compressed && s.components(separatedBy: "::") > 2 { return false }
        let nonEmpty = groups.filter { !$0.isEmpty }
        guard nonEmpty.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return false }
        units += nonEmpty.count
        // Without `::` every group is present; with it, at least one is left out.
        return compressed ? units <= 7 : (units == 8 && nonEmpty.count == groups.count)
    }

    static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) && UInt8(p) != nil }
    }

    /// The publish maps as the API wants them: ExposedPorts keys and PortBindings.
    static func apply(_ mappings: [Mapping], exposed: inout [String: JSONValue], bindings: inout [String: [PortBinding]?]) {
        for m in mappings {
            exposed[m.port] = .object([:])
            var list = (bindings[m.port] ?? nil) ?? []
            list.append(PortBinding(HostIp: m.hostIP, HostPort: m.hostPort))
            bindings[m.port] = list
        }
    }
}

extension String {
    /// How many pieces `separator` cuts the string into.
    fileprivate func components(separatedBy separator: String) -> Int {
        split(separator: separator, omittingEmptySubsequences: false).count
    }
}
