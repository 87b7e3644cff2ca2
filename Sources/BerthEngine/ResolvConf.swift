import BerthOCI
import BerthSystem

/// A container's /etc/resolv.conf: the host's, with `--dns`, `--dns-search` and `--dns-option`
/// replacing its parts as Docker does.
enum ResolvConf {
    /// - Parameter embeddedDNS: on a user-defined network, the network's DNS server (its
    ///   gateway) is the only nameserver, as Docker puts 127.0.0.11 there; it forwards the names
    ///   it does not know to the host's resolvers.
    static func make(for h: HostConfig, hostFile: String = "/etc/resolv.conf", embeddedDNS: String? = nil) -> String {
        let host: String = (try? FileSystem.readString(hostFile)) ?? ""
        var nameservers: [String] = [], search: [String] = [], options: [String] = [], other: [String] = []
        for raw in host.split(separator: "\n") {
            let line: String = String(raw).berthTrimmed()
            let words: [String] = line.split(whereSeparator: { (c: Character) -> Bool in c == " " || c == "\t" }).map { String($0) }
            guard let first = words.first, !first.hasPrefix("#"), !first.hasPrefix(";") else { continue }
            switch first {
            case "nameserver": if words.count > 1 { nameservers.append(words[1]) }
            case "search", "domain": search = Array(words.dropFirst())
            case "options": options += words.dropFirst()
            default: other.append(line)
            }
        }
        if h.NetworkMode != "host" {
            // A resolver on the host's loopback is unreachable from the container's network.
            nameservers.removeAll { $0.hasPrefix("127.") || $0 == "::1" }
        }
        if let d = h.Dns, !d.isEmpty { nameservers = d }
        if let dns = embeddedDNS {
            nameservers = [dns]
            if !options.contains(where: { $0.hasPrefix("ndots:") }) { options.append("ndots:0") }
        }
        if let s = h.DnsSearch, !s.isEmpty { search = s == ["."] ? [] : s }
        if let o = h.DnsOptions, !o.isEmpty { options = o }
        var out = ""
        for n in nameservers { out += "nameserver \(n)\n" }
        if !search.isEmpty { out += "search \(search.joined(separator: " "))\n" }
        if !options.isEmpty { out += "options \(options.joined(separator: " "))\n" }
        for l in other { out += l + "\n" }
        return out
    }
}
