#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// An address of an interface as `RTM_GETADDR` reports it.
public struct AddressInfo: Sendable, Hashable {
    /// The interface's index (`ifa_index`).
    public var linkIndex: Int32
    /// The address with its prefix length (`IFA_LOCAL`, or `IFA_ADDRESS` when there is no local
    /// address, as for IPv6; `ifa_prefixlen`).
    public var cidr: CIDR
    /// The peer of a point-to-point address (`IFA_ADDRESS` when it differs from `IFA_LOCAL`).
    public var peer: IPAddress?
    /// The IPv4 broadcast address (`IFA_BROADCAST`).
    public var broadcast: IPAddress?
    /// The IPv4 label (`IFA_LABEL`), usually the interface name.
    public var label: String?
    /// `RT_SCOPE_UNIVERSE` (0), `RT_SCOPE_LINK` (253), `RT_SCOPE_HOST` (254).
    public var scope: UInt8
    /// `IFA_F_*` flags (`IFA_FLAGS`, or `ifa_flags`): permanent, tentative, nodad, …
    public var flags: UInt32

    /// The address.
    public var address: IPAddress { cidr.address }
    /// The prefix length.
    public var prefixLength: Int { cidr.prefixLength }
    /// The address family.
    public var family: IPAddress.Family { cidr.family }

    /// A value (for tests and fakes).
    public init(linkIndex: Int32, cidr: CIDR, peer: IPAddress? = nil, broadcast: IPAddress? = nil,
                label: String? = nil, scope: UInt8 = 0, flags: UInt32 = 0) {
        self.linkIndex = linkIndex
        self.cidr = cidr
        self.peer = peer
        self.broadcast = broadcast
        self.label = label
        self.scope = scope
        self.flags = flags
    }

    /// Decodes an `RTM_NEWADDR` message; `nil` for families other than IPv4 and IPv6.
    public init?(message: NetlinkMessage) throws {
        let header = try AddressHeader(decoding: message.payload)
        guard header.family == RTNL.inet || header.family == RTNL.inet6 else { return nil }
        let attributes = try message.attributes(after: AddressHeader.size)
        let local = attributes.first(RTNL.ifaLocal).flatMap { IPAddress(bytes: $0.payload) }
        let address = attributes.first(RTNL.ifaAddress).flatMap { IPAddress(bytes: $0.payload) }
        guard let primary = local ?? address,
              let cidr = CIDR(address: primary, prefixLength: Int(header.prefixLength)) else {
            throw netlinkCorrupt("address message without a valid address")
        }
        linkIndex = Int32(bitPattern: header.index)
        self.cidr = cidr
        peer = local != nil && address != local ? address : nil
        broadcast = attributes.first(RTNL.ifaBroadcast).flatMap { IPAddress(bytes: $0.payload) }
        label = attributes.first(RTNL.ifaLabel)?.stringValue
        scope = header.scope
        flags = attributes.first(RTNL.ifaFlags)?.uint32Value ?? UInt32(header.flags)
    }
}

extension IPAddress.Family {
    /// `AF_INET` or `AF_INET6`.
    var netlinkFamily: UInt8 { self == .v4 ? RTNL.inet : RTNL.inet6 }
}

// MARK: - Requests (pure)

extension NetlinkRequest {
    static func addAddress(index: Int32, link: String, address: IPAddress, prefixLength: Int, noDAD: Bool) throws -> NetlinkRequest {
        guard let cidr = CIDR(address: address, prefixLength: prefixLength) else {
            throw BerthError.invalid("invalid prefix length \(prefixLength) for \(address)")
        }
        // Loopback IPv4 addresses get host scope, as `ip addr add` gives them.
        let scope = address.ipv4?.isLoopback == true ? UInt8(RT_SCOPE_HOST.rawValue) : RTNL.scopeUniverse
        let header = AddressHeader(family: address.family.netlinkFamily, prefixLength: UInt8(prefixLength),
                                   flags: noDAD ? UInt8(RTNL.noDAD) : 0, scope: scope, index: UInt32(bitPattern: index))
        var attributes: [NetlinkAttribute] = [
            NetlinkAttribute(type: RTNL.ifaLocal, payload: address.bytes),
            NetlinkAttribute(type: RTNL.ifaAddress, payload: address.bytes),
        ]
        if let broadcast = cidr.broadcast {
            attributes.append(NetlinkAttribute(type: RTNL.ifaBroadcast, payload: broadcast.bytes))
        }
        return NetlinkRequest(type: RTNL.newAddress, flags: RTNL.create | RTNL.exclusive,
                              payload: header.encoded + NetlinkAttribute.encode(attributes),
                              what: "add address \(cidr) to \(link)")
    }

    static func deleteAddress(index: Int32, link: String, address: IPAddress, prefixLength: Int) throws -> NetlinkRequest {
        guard let cidr = CIDR(address: address, prefixLength: prefixLength) else {
            throw BerthError.invalid("invalid prefix length \(prefixLength) for \(address)")
        }
        let header = AddressHeader(family: address.family.netlinkFamily, prefixLength: UInt8(prefixLength),
                                   index: UInt32(bitPattern: index))
        let attributes = [NetlinkAttribute(type: RTNL.ifaLocal, payload: address.bytes)]
        return NetlinkRequest(type: RTNL.delAddress, payload: header.encoded + NetlinkAttribute.encode(attributes),
                              what: "delete address \(cidr) from \(link)")
    }
}

// MARK: - Operations

extension Netlink {
    /// Adds `address/prefixLength` to `link` (`ip addr add`): `IFA_LOCAL` and `IFA_ADDRESS`, and
    /// for IPv4 the broadcast address of the prefix (none for /31 and /32). The kernel adds the
    /// prefix route once the link is up. `noDAD` skips IPv6 duplicate address detection, so the
    /// address is usable at once (what a container's freshly made interface wants). Throws
    /// `.conflict` (EEXIST) when the address is there already.
    public func addAddress(link: String, address: IPAddress, prefixLength: Int, noDAD: Bool = false) throws {
        let what = "add address \(address)/\(prefixLength) to \(link)"
        let index = try requireIndex(link, what: what)
        try perform(.addAddress(index: index, link: link, address: address, prefixLength: prefixLength, noDAD: noDAD))
    }

    /// Adds `cidr` (address and prefix length) to `link`; see `addAddress(link:address:prefixLength:noDAD:)`.
    public func addAddress(link: String, _ cidr: CIDR, noDAD: Bool = false) throws {
        try addAddress(link: link, address: cidr.address, prefixLength: cidr.prefixLength, noDAD: noDAD)
    }

    /// Removes `address/prefixLength` from `link` (`ip addr del`). A missing address throws
    /// EADDRNOTAVAIL.
    public func deleteAddress(link: String, address: IPAddress, prefixLength: Int) throws {
        let what = "delete address \(address)/\(prefixLength) from \(link)"
        let index = try requireIndex(link, what: what)
        try perform(.deleteAddress(index: index, link: link, address: address, prefixLength: prefixLength))
    }

    /// The addresses of `link`, or of every interface when `nil` (`ip addr`), optionally of one
    /// family. Throws `.notFound` for a link that does not exist.
    public func addresses(link: String? = nil, family: IPAddress.Family? = nil) throws -> [AddressInfo] {
        let what = link.map { "list addresses of \($0)" } ?? "list addresses"
        let index = try link.map { try requireIndex($0, what: what) }
        let header = AddressHeader(family: family?.netlinkFamily ?? 0, prefixLength: 0, index: 0)
        return try dump(RTNL.getAddress, payload: header.encoded, what: what)
            .filter { $0.type == RTNL.newAddress }
            .compactMap { try AddressInfo(message: $0) }
            .filter { (index == nil || $0.linkIndex == index) && (family == nil || $0.family == family) }
    }
}
