import BerthCore

/// The names a ``DNSServer`` answers itself: the containers, network aliases and link names of
/// one network, and the reverse names of its addresses. Everything the resolver does not claim
/// is forwarded upstream.
///
/// The server calls these methods on its event loop threads for every query, so they must be
/// quick and must not block: read a table under a lock and return (never wait on an actor,
/// a file or the network). `client` is the address the query came from, so answers can depend
/// on the asking container (link names are visible to the linking container only); it is nil
/// when unknown.
public protocol DNSResolver: Sendable {
    /// The addresses of `name`, IPv4 and IPv6 together, or nil when the name is not this
    /// network's (the server then forwards the query). `name` is lower case, without the
    /// trailing dot (`web`, `web.my-net`). A name that is ours with no addresses of the asked
    /// family gets an empty NOERROR answer, as Docker gives.
    func addresses(for name: String, client: IPAddress?) -> [IPAddress]?

    /// The name an address of this network points to (its PTR record), e.g. `web.my-net`, or
    /// nil when the address is not this network's (the server then forwards the query).
    func name(for address: IPAddress, client: IPAddress?) -> String?
}

/// A resolver over a fixed table: for tests and simple setups.
public struct StaticDNSResolver: DNSResolver {
    /// Lower-cased names (no trailing dot) → addresses.
    public let names: [String: [IPAddress]]
    /// Address → name for reverse lookups.
    public let reverse: [IPAddress: String]

    /// A resolver answering `names` (matched case-insensitively, a trailing dot ignored) and
    /// `reverse`.
    public init(names: [String: [IPAddress]], reverse: [IPAddress: String] = [:]) {
        var table: [String: [IPAddress]] = [:]
        for (name, addresses) in names {
            table[DNSServer.normalize(name), default: []].append(contentsOf: addresses)
        }
        self.names = table
        self.reverse = reverse
    }

    public func addresses(for name: String, client: IPAddress?) -> [IPAddress]? { names[name] }

    public func name(for address: IPAddress, client: IPAddress?) -> String? { reverse[address] }
}

/// A resolver made of two closures (same contract as ``DNSResolver``'s methods).
public struct ClosureDNSResolver: DNSResolver {
    let lookup: @Sendable (String, IPAddress?) -> [IPAddress]?
    let reverseLookup: @Sendable (IPAddress, IPAddress?) -> String?

    public init(
        addresses: @escaping @Sendable (_ name: String, _ client: IPAddress?) -> [IPAddress]?,
        name: @escaping @Sendable (_ address: IPAddress, _ client: IPAddress?) -> String? = { _, _ in nil }
    ) {
        lookup = addresses
        reverseLookup = name
    }

    public func addresses(for name: String, client: IPAddress?) -> [IPAddress]? { lookup(name, client) }

    public func name(for address: IPAddress, client: IPAddress?) -> String? { reverseLookup(address, client) }
}
