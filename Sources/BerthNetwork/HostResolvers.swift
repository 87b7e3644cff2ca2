#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import NIOCore

/// The host's resolver configuration, as resolv.conf(5) states it: the name servers embedded
/// DNS servers forward to, the search domains and the options.
///
/// Parsing follows glibc: a line is a keyword and its arguments separated by blanks; lines
/// starting with `#` or `;` are comments, and so is anything from a `#` or `;` token on; `search`
/// and `domain` replace each other (the last one wins); unknown keywords are ignored.
/// Name servers that are not an address (a host name, an IPv6 address with a `%zone`) are
/// skipped.
public struct HostResolvers: Sendable, Equatable {
    /// Every `nameserver` address, in file order.
    public var nameservers: [IPAddress]
    /// The search domains (`search a b`, or `domain a`).
    public var search: [String]
    /// The `options` tokens as written (`ndots:2`, `timeout:1`, `rotate`, …).
    public var options: [String]

    public init(nameservers: [IPAddress] = [], search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.search = search
        self.options = options
    }

    /// Reads and parses a resolv.conf. A missing file is an empty configuration (glibc would then
    /// ask 127.0.0.1, which ``upstreamNameservers`` skips anyway).
    public static func load(path: String = "/etc/resolv.conf") throws -> HostResolvers {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(path, limit: 1 << 20)
        } catch let error as BerthError where error.errno == ENOENT {
            return HostResolvers()
        }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Parses resolv.conf text.
    public static func parse(_ text: String) -> HostResolvers {
        var result = HostResolvers()
        for line in text.split(whereSeparator: \.isNewline) {
            var tokens: [Substring] = []
            for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                if token.hasPrefix("#") || token.hasPrefix(";") { break }
                tokens.append(token)
            }
            guard let keyword = tokens.first else { continue }
            let arguments = tokens.dropFirst()
            switch keyword {
            case "nameserver":
                if let first = arguments.first, let address = IPAddress(first) {
                    result.nameservers.append(address)
                }
            case "search":
                result.search = arguments.map(String.init)
            case "domain":
                result.search = arguments.first.map { [String($0)] } ?? []
            case "options":
                result.options.append(contentsOf: arguments.map(String.init))
            default:
                continue
            }
        }
        return result
    }

    /// The name servers an embedded DNS server forwards to: loopback ones are dropped (as Docker
    /// drops them from containers' resolv.conf: `127.0.0.53` means nothing inside a container),
    /// and so are unspecified ones (`0.0.0.0`). May be empty: then the server answers SERVFAIL
    /// to everything it does not know.
    public var upstreamNameservers: [IPAddress] {
        nameservers.filter { !$0.isLoopback && !$0.isUnspecified }
    }

    /// ``upstreamNameservers`` as socket addresses on `port`.
    public func upstreams(port: Int = 53) -> [SocketAddress] {
        upstreamNameservers.compactMap { try? SocketAddress(ipAddress: $0.description, port: port) }
    }
}
