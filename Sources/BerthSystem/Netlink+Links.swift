#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// A network interface as `RTM_GETLINK` reports it.
public struct LinkInfo: Sendable, Hashable {
    /// The interface index (`ifi_index`).
    public var index: Int32
    /// The name (`IFLA_IFNAME`).
    public var name: String
    /// The driver kind (`IFLA_LINKINFO`/`IFLA_INFO_KIND`): `bridge`, `veth`, …; `nil` for
    /// physical interfaces and loopback.
    public var kind: String?
    /// The index of the bridge (or bond) the interface is a port of (`IFLA_MASTER`).
    public var masterIndex: Int32?
    /// The index of the underlying or peer interface (`IFLA_LINK`): a veth's peer. When the
    /// peer is in another namespace, `linkNetnsID` says which, and the index is that namespace's.
    public var linkIndex: Int32?
    /// The namespace id (as this namespace numbers it) of the peer's namespace
    /// (`IFLA_LINK_NETNSID`).
    public var linkNetnsID: Int32?
    /// The MTU (`IFLA_MTU`).
    public var mtu: UInt32
    /// The hardware address (`IFLA_ADDRESS`): six bytes for Ethernet-like interfaces.
    public var mac: [UInt8]?
    /// The interface flags (`ifi_flags`: `IFF_UP`, `IFF_RUNNING`, …).
    public var flags: UInt32
    /// Counters (`IFLA_STATS64`, or the 32-bit `IFLA_STATS` on kernels without it).
    public var statistics: LinkStatistics?

    /// Whether the interface is administratively up (`IFF_UP`).
    public var isUp: Bool { flags & RTNL.interfaceUp != 0 }

    /// The hardware address as `aa:bb:cc:dd:ee:ff`, if any.
    public var macString: String? { mac.map(Netlink.formatMAC) }

    /// A value (for tests and fakes).
    public init(index: Int32, name: String, kind: String? = nil, masterIndex: Int32? = nil, linkIndex: Int32? = nil,
                linkNetnsID: Int32? = nil, mtu: UInt32 = 1500, mac: [UInt8]? = nil, flags: UInt32 = 0,
                statistics: LinkStatistics? = nil) {
        self.index = index
        self.name = name
        self.kind = kind
        self.masterIndex = masterIndex
        self.linkIndex = linkIndex
        self.linkNetnsID = linkNetnsID
        self.mtu = mtu
        self.mac = mac
        self.flags = flags
        self.statistics = statistics
    }

    /// Decodes an `RTM_NEWLINK` message.
    public init(message: NetlinkMessage) throws {
        let header = try LinkHeader(decoding: message.payload)
        let attributes = try message.attributes(after: LinkHeader.size)
        index = header.index
        flags = header.flags
        name = attributes.first(RTNL.ifName)?.stringValue ?? ""
        mtu = attributes.first(RTNL.mtu)?.uint32Value ?? 0
        mac = attributes.first(RTNL.hardwareAddress)?.payload
        masterIndex = attributes.first(RTNL.master)?.integerValue(Int32.self).flatMap { $0 == 0 ? nil : $0 }
        linkIndex = attributes.first(RTNL.link)?.integerValue(Int32.self).flatMap { $0 == 0 || $0 == header.index ? nil : $0 }
        linkNetnsID = attributes.first(RTNL.linkNetnsID)?.integerValue(Int32.self)
        kind = try attributes.first(RTNL.linkInfo)?.nested().first(RTNL.infoKind)?.stringValue
        if let s = attributes.first(RTNL.stats64) {
            statistics = LinkStatistics(counters: s.payload, width: 8)
        } else if let s = attributes.first(RTNL.stats) {
            statistics = LinkStatistics(counters: s.payload, width: 4)
        }
    }
}

/// Interface counters, the first eight of `struct rtnl_link_stats64` (what `docker stats` shows).
public struct LinkStatistics: Sendable, Hashable {
    public var rxPackets: UInt64
    public var txPackets: UInt64
    public var rxBytes: UInt64
    public var txBytes: UInt64
    public var rxErrors: UInt64
    public var txErrors: UInt64
    public var rxDropped: UInt64
    public var txDropped: UInt64

    /// Counters.
    public init(rxPackets: UInt64 = 0, txPackets: UInt64 = 0, rxBytes: UInt64 = 0, txBytes: UInt64 = 0,
                rxErrors: UInt64 = 0, txErrors: UInt64 = 0, rxDropped: UInt64 = 0, txDropped: UInt64 = 0) {
        self.rxPackets = rxPackets
        self.txPackets = txPackets
        self.rxBytes = rxBytes
        self.txBytes = txBytes
        self.rxErrors = rxErrors
        self.txErrors = txErrors
        self.rxDropped = rxDropped
        self.txDropped = txDropped
    }

    /// Reads the first eight counters of `rtnl_link_stats64` (width 8) or `rtnl_link_stats`
    /// (width 4); `nil` when the payload is too short.
    init?(counters payload: [UInt8], width: Int) {
        guard payload.count >= 8 * width else { return nil }
        let p = payload[...]
        let c: [UInt64] = (0..<8).map {
            width == 8 ? netlinkInteger(p, at: $0 * 8, as: UInt64.self) : UInt64(netlinkInteger(p, at: $0 * 4, as: UInt32.self))
        }
        self.init(rxPackets: c[0], txPackets: c[1], rxBytes: c[2], txBytes: c[3],
                  rxErrors: c[4], txErrors: c[5], rxDropped: c[6], txDropped: c[7])
    }
}

// MARK: - Requests (pure)

extension NetlinkRequest {
    /// `RTM_SETLINK` naming the interface by `IFLA_IFNAME` (index 0), with more attributes.
    static func setLink(_ name: String, header: LinkHeader = LinkHeader(), _ attributes: [NetlinkAttribute], what: String) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(name)
        return NetlinkRequest(type: RTNL.setLink, payload: header.encoded + NetlinkAttribute.encode([.string(RTNL.ifName, name)] + attributes), what: what)
    }

    static func createBridge(name: String, mtu: UInt32?, mac: [UInt8]?) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(name)
        var attributes: [NetlinkAttribute] = [.string(RTNL.ifName, name)]
        if let mtu { attributes.append(.integer(RTNL.mtu, mtu)) }
        if let mac { attributes.append(try macAttribute(mac)) }
        attributes.append(.nested(RTNL.linkInfo, [.string(RTNL.infoKind, "bridge")]))
        return NetlinkRequest(type: RTNL.newLink, flags: RTNL.create | RTNL.exclusive,
                              payload: LinkHeader().encoded + NetlinkAttribute.encode(attributes),
                              what: "create bridge \(name)")
    }

    static func createVeth(name: String, peer: String, mtu: UInt32?, peerNamespaceFD: Int32?) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(name)
        try Netlink.checkInterfaceName(peer)
        var peerAttributes: [NetlinkAttribute] = [.string(RTNL.ifName, peer)]
        if let mtu { peerAttributes.append(.integer(RTNL.mtu, mtu)) }
        if let fd = peerNamespaceFD { peerAttributes.append(.integer(RTNL.netnsFD, UInt32(bitPattern: fd))) }
        // VETH_INFO_PEER holds a whole link message body: an ifinfomsg, then the peer's attributes.
        let peerInfo = NetlinkAttribute(type: RTNL.vethPeer, payload: LinkHeader().encoded + NetlinkAttribute.encode(peerAttributes))
        var attributes: [NetlinkAttribute] = [.string(RTNL.ifName, name)]
        if let mtu { attributes.append(.integer(RTNL.mtu, mtu)) }
        attributes.append(.nested(RTNL.linkInfo, [
            .string(RTNL.infoKind, "veth"),
            .nested(RTNL.infoData, [peerInfo]),
        ]))
        return NetlinkRequest(type: RTNL.newLink, flags: RTNL.create | RTNL.exclusive,
                              payload: LinkHeader().encoded + NetlinkAttribute.encode(attributes),
                              what: "create veth pair \(name) and \(peer)")
    }

    static func macAttribute(_ mac: [UInt8]) throws -> NetlinkAttribute {
        guard mac.count == 6 else { throw BerthError.invalid("invalid mac address: \(mac.count) bytes, expected 6") }
        return NetlinkAttribute(type: RTNL.hardwareAddress, payload: mac)
    }

    static func setUp(_ name: String, _ up: Bool) throws -> NetlinkRequest {
        try setLink(name, header: LinkHeader(flags: up ? RTNL.interfaceUp : 0, change: RTNL.interfaceUp), [],
                    what: "set link \(name) \(up ? "up" : "down")")
    }

    static func rename(index: Int32, from name: String, to newName: String) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(newName)
        return NetlinkRequest(type: RTNL.setLink,
                              payload: LinkHeader(index: index).encoded + NetlinkAttribute.encode([.string(RTNL.ifName, newName)]),
                              what: "rename link \(name) to \(newName)")
    }

    static func deleteLink(_ name: String) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(name)
        return NetlinkRequest(type: RTNL.delLink, payload: LinkHeader().encoded + NetlinkAttribute.encode([.string(RTNL.ifName, name)]),
                              what: "delete link \(name)")
    }

    static func getLink(_ name: String) throws -> NetlinkRequest {
        try Netlink.checkInterfaceName(name)
        return NetlinkRequest(type: RTNL.getLink, payload: LinkHeader().encoded + NetlinkAttribute.encode([.string(RTNL.ifName, name)]),
                              what: "look up link \(name)")
    }
}

// MARK: - Operations

extension Netlink {
    /// Creates a bridge (`ip link add NAME type bridge`), down. `mtu` and `mac` (six bytes) are
    /// set at creation when given; otherwise the kernel picks (a bridge takes a random MAC, and
    /// the lowest MTU of its ports). Throws `.conflict` (EEXIST) when the name is taken.
    public func createBridge(name: String, mtu: UInt32? = nil, mac: [UInt8]? = nil) throws {
        try perform(.createBridge(name: name, mtu: mtu, mac: mac))
    }

    /// Creates a veth pair `name` ↔ `peer`, both down. With `peerNamespace` (an open network
    /// namespace descriptor) the peer is created directly in that namespace, so its name cannot
    /// collide with the host's interfaces; otherwise both ends are here.
    public func createVeth(name: String, peer: String, mtu: UInt32? = nil, peerNamespace: Int32? = nil) throws {
        try perform(.createVeth(name: name, peer: peer, mtu: mtu, peerNamespaceFD: peerNamespace))
    }

    /// Makes `link` a port of the bridge `master` (`ip link set LINK master MASTER`); `nil`
    /// detaches it (`nomaster`).
    public func setMaster(link: String, master: String?) throws {
        let what = master.map { "set master of \(link) to \($0)" } ?? "remove \(link) from its master"
        var index: Int32 = 0
        if let master { index = try requireIndex(master, what: what) }
        try perform(.setLink(link, [.integer(RTNL.master, UInt32(bitPattern: index))], what: what))
    }

    /// Moves `link` into the network namespace open at `fd` (`IFLA_NET_NS_FD`). The link leaves
    /// this namespace: later calls on it go through a socket opened in the target namespace
    /// (`Netlink.open(inNamespaceOf:)`). It arrives down, addresses dropped.
    public func setNamespace(link: String, fd: Int32) throws {
        try perform(.setLink(link, [.integer(RTNL.netnsFD, UInt32(bitPattern: fd))],
                             what: "move link \(link) to network namespace fd \(fd)"))
    }

    /// Moves `link` into the network namespace of process `pid` (`IFLA_NET_NS_PID`).
    public func setNamespace(link: String, pid: Int32) throws {
        try perform(.setLink(link, [.integer(RTNL.netnsPID, UInt32(bitPattern: pid))],
                             what: "move link \(link) to the network namespace of process \(pid)"))
    }

    /// Renames `link` (`ip link set LINK name NEW`). The kernel refuses (EBUSY) while it is up.
    public func rename(link: String, to newName: String) throws {
        let what = "rename link \(link) to \(newName)"
        try perform(.rename(index: try requireIndex(link, what: what), from: link, to: newName))
    }

    /// Brings `link` up (`ip link set LINK up`).
    public func setUp(link: String) throws { try perform(.setUp(link, true)) }

    /// Takes `link` down (`ip link set LINK down`).
    public func setDown(link: String) throws { try perform(.setUp(link, false)) }

    /// Sets the MTU of `link`.
    public func setMTU(link: String, mtu: UInt32) throws {
        try perform(.setLink(link, [.integer(RTNL.mtu, mtu)], what: "set mtu of \(link) to \(mtu)"))
    }

    /// Sets the hardware address of `link` (six bytes).
    public func setMAC(link: String, mac: [UInt8]) throws {
        let what = "set mac address of \(link) to \(Netlink.formatMAC(mac))"
        try perform(.setLink(link, [try NetlinkRequest.macAttribute(mac)], what: what))
    }

    /// Deletes `name` (`ip link del NAME`); deleting either end of a veth pair deletes both.
    /// With `ignoreMissing`, an interface that does not exist is not an error. Throws
    /// `.notFound` otherwise.
    public func deleteLink(_ name: String, ignoreMissing: Bool = false) throws {
        do {
            try perform(.deleteLink(name))
        } catch let e as BerthError where ignoreMissing && e.errno == ENODEV {
            return
        }
    }

    /// The index of interface `name`, `nil` when there is none.
    public func linkIndex(_ name: String) throws -> Int32? {
        try link(named: name)?.index
    }

    /// The interface `name`, `nil` when there is none.
    public func link(named name: String) throws -> LinkInfo? {
        do {
            let replies = try perform(.getLink(name))
            guard let m = replies.first(where: { $0.type == RTNL.newLink }) else { return nil }
            return try LinkInfo(message: m)
        } catch let e as BerthError where e.errno == ENODEV {
            return nil
        }
    }

    /// Every interface of the namespace (`ip link`), in the kernel's order (by index).
    public func links() throws -> [LinkInfo] {
        try dump(RTNL.getLink, payload: LinkHeader().encoded, what: "list links")
            .filter { $0.type == RTNL.newLink }
            .map(LinkInfo.init(message:))
    }

    /// The index of `name`, or `ENODEV` reported against the operation `what`.
    func requireIndex(_ name: String, what: String) throws -> Int32 {
        guard let index = try linkIndex(name) else {
            throw BerthError(.notFound, "\(what): no such network interface \(name)", errno: ENODEV)
        }
        return index
    }
}
