#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// A route as `RTM_GETROUTE` reports it.
public struct RouteInfo: Sendable, Hashable {
    /// The destination block (`RTA_DST` and `rtm_dst_len`): `0.0.0.0/0` or `::/0` for a
    /// default route.
    public var destination: CIDR
    /// The next hop (`RTA_GATEWAY`; for a multipath route, the first hop's).
    public var gateway: IPAddress?
    /// The output interface's index (`RTA_OIF`; for a multipath route, the first hop's).
    public var outputLinkIndex: Int32?
    /// The preferred source address (`RTA_PREFSRC`).
    public var preferredSource: IPAddress?
    /// The metric (`RTA_PRIORITY`).
    public var metric: UInt32?
    /// The routing table (`RTA_TABLE`, else `rtm_table`): 254 is main, 255 local.
    public var table: UInt32
    /// Who installed it (`rtm_protocol`): 2 kernel, 3 boot, 4 static, 16 dhcp, …
    public var routeProtocol: UInt8
    /// `rtm_scope`: 0 universe, 253 link, 254 host.
    public var scope: UInt8
    /// `rtm_type`: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable, …
    public var type: UInt8

    /// Whether this is a default route (prefix length 0).
    public var isDefault: Bool { destination.prefixLength == 0 }
    /// The address family.
    public var family: IPAddress.Family { destination.family }

    /// A value (for tests and fakes).
    public init(destination: CIDR, gateway: IPAddress? = nil, outputLinkIndex: Int32? = nil, preferredSource: IPAddress? = nil,
                metric: UInt32? = nil, table: UInt32 = 254, routeProtocol: UInt8 = 3, scope: UInt8 = 0, type: UInt8 = 1) {
        self.destination = destination
        self.gateway = gateway
        self.outputLinkIndex = outputLinkIndex
        self.preferredSource = preferredSource
        self.metric = metric
        self.table = table
        self.routeProtocol = routeProtocol
        self.scope = scope
        self.type = type
    }

    /// Decodes an `RTM_NEWROUTE` message; `nil` for families other than IPv4 and IPv6.
    public init?(message: NetlinkMessage) throws {
        let header = try RouteHeader(decoding: message.payload)
        let family: IPAddress.Family
        switch header.family {
        case RTNL.inet: family = .v4
        case RTNL.inet6: family = .v6
        default: return nil
        }
        let attributes = try message.attributes(after: RouteHeader.size)
        func address(_ type: UInt16) -> IPAddress? {
            attributes.first(type).flatMap { IPAddress(bytes: $0.payload) }.flatMap { $0.family == family ? $0 : nil }
        }
        let zero = IPAddress(family: family, value: 0) ?? .v4(.any)
        guard let destination = CIDR(address: address(RTNL.rtaDestination) ?? zero, prefixLength: Int(header.destinationLength)) else {
            throw netlinkCorrupt("route with prefix length \(header.destinationLength)")
        }
        self.destination = destination
        gateway = address(RTNL.rtaGateway)
        outputLinkIndex = attributes.first(RTNL.rtaOutputInterface)?.integerValue(Int32.self)
        if gateway == nil, outputLinkIndex == nil, let multipath = attributes.first(RTNL.rtaMultipath) {
            // struct rtnexthop { u16 len; u8 flags; u8 hops; i32 ifindex; } then its attributes.
            let p = multipath.payload[...]
            if p.count >= 8 {
                let length = min(Int(netlinkInteger(p, at: 0, as: UInt16.self)), p.count)
                let index: Int32 = netlinkInteger(p, at: 4)
                outputLinkIndex = index == 0 ? nil : index
                if length > 8, let hop = try? NetlinkAttribute.decode(p[(p.startIndex + 8)..<(p.startIndex + length)]) {
                    gateway = hop.first(RTNL.rtaGateway).flatMap { IPAddress(bytes: $0.payload) }
                }
            }
        }
        preferredSource = address(RTNL.rtaPreferredSource)
        metric = attributes.first(RTNL.rtaPriority)?.uint32Value
        table = attributes.first(RTNL.rtaTable)?.uint32Value ?? UInt32(header.table)
        routeProtocol = header.routeProtocol
        scope = header.scope
        type = header.type
    }
}

// MARK: - Requests (pure)

extension NetlinkRequest {
    /// `RTM_NEWROUTE` or `RTM_DELROUTE` in the main table. `outputIndex`/`linkName` name the
    /// interface (index for the kernel, name for messages).
    static func route(add: Bool, destination: CIDR?, gateway: IPAddress?, outputIndex: Int32?, linkName: String?,
                      metric: UInt32?) throws -> NetlinkRequest {
        let family = destination?.family ?? gateway?.family ?? .v4
        let block = destination?.masked ?? CIDR(address: IPAddress(family: family, value: 0) ?? .v4(.any), prefixLength: 0)
        guard let block else { throw BerthError.invalid("invalid route destination") }
        var text = "\(add ? "add" : "delete") route \(destination == nil ? "default" : block.description)"
        if let gateway { text += " via \(gateway)" }
        if let linkName { text += " dev \(linkName)" }
        if let gateway, gateway.family != family {
            throw BerthError.invalid("\(text): the gateway is not an \(family.rawValue) address")
        }
        if add && gateway == nil && outputIndex == nil {
            throw BerthError.invalid("\(text): a route needs a gateway or an interface")
        }
        var header = RouteHeader(family: family.netlinkFamily, destinationLength: UInt8(block.prefixLength), table: RTNL.tableMain)
        if add {
            header.routeProtocol = RTNL.protocolBoot
            header.type = RTNL.typeUnicast
            // As `ip route add`: an IPv4 route straight onto a link has link scope.
            header.scope = family == .v4 && gateway == nil ? RTNL.scopeLink : RTNL.scopeUniverse
        } else {
            // Matches any scope, protocol and type.
            header.scope = RTNL.scopeNowhere
        }
        var attributes: [NetlinkAttribute] = []
        if block.prefixLength > 0 { attributes.append(NetlinkAttribute(type: RTNL.rtaDestination, payload: block.address.bytes)) }
        if let gateway { attributes.append(NetlinkAttribute(type: RTNL.rtaGateway, payload: gateway.bytes)) }
        if let outputIndex { attributes.append(.integer(RTNL.rtaOutputInterface, UInt32(bitPattern: outputIndex))) }
        if let metric { attributes.append(.integer(RTNL.rtaPriority, metric)) }
        return NetlinkRequest(type: add ? RTNL.newRoute : RTNL.delRoute, flags: add ? RTNL.create | RTNL.exclusive : 0,
                              payload: header.encoded + NetlinkAttribute.encode(attributes), what: text)
    }
}

// MARK: - Operations

extension Netlink {
    /// Adds a unicast route to the main table (`ip route add`). `destination` `nil` is the
    /// default route (of the gateway's family; IPv4 without a gateway); host bits of the
    /// destination are ignored. Needs a `gateway`, a `link`, or both; an IPv4 route without a
    /// gateway has link scope. Throws `.conflict` (EEXIST) when the route exists, and ENETUNREACH
    /// when the gateway is not reachable through a connected route (add the address first).
    public func addRoute(destination: CIDR?, gateway: IPAddress? = nil, link: String? = nil, metric: UInt32? = nil) throws {
        try changeRoute(add: true, destination: destination, gateway: gateway, link: link, metric: metric)
    }

    /// Deletes a route from the main table (`ip route del`); `gateway`, `link` and `metric`
    /// narrow the match when given. A missing route throws ESRCH (`.notFound`).
    public func deleteRoute(destination: CIDR?, gateway: IPAddress? = nil, link: String? = nil, metric: UInt32? = nil) throws {
        try changeRoute(add: false, destination: destination, gateway: gateway, link: link, metric: metric)
    }

    private func changeRoute(add: Bool, destination: CIDR?, gateway: IPAddress?, link: String?, metric: UInt32?) throws {
        var index: Int32?
        if let link {
            let probe = try NetlinkRequest.route(add: add, destination: destination, gateway: gateway, outputIndex: 0,
                                                 linkName: link, metric: metric)
            index = try requireIndex(link, what: probe.what)
        }
        try perform(.route(add: add, destination: destination, gateway: gateway, outputIndex: index, linkName: link, metric: metric))
    }

    /// The routes of a table (`ip route show table main`; `nil` for every table), of one family
    /// or both. The engine reads the main table to pick private subnets that do not overlap
    /// anything the host already routes.
    public func routes(family: IPAddress.Family? = nil, table: UInt32? = 254) throws -> [RouteInfo] {
        let header = RouteHeader(family: family?.netlinkFamily ?? 0)
        return try dump(RTNL.getRoute, payload: header.encoded, what: "list routes")
            .filter { $0.type == RTNL.newRoute }
            .compactMap { try RouteInfo(message: $0) }
            .filter { (table == nil || $0.table == table) && (family == nil || $0.family == family) }
    }
}
