import CBerth
import Glibc
import Testing
@testable import BerthCore
@testable import BerthSystem

/// The rtnetlink wire format without a socket: every byte of the requests Berth sends, and the
/// decoding of replies built by hand the way the kernel lays them out.
@Suite("netlink codec")
struct NetlinkCodecTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func layoutsMatchTheKernelHeaders() {
        #expect(NetlinkMessage.headerSize == MemoryLayout<nlmsghdr>.size)
        #expect(LinkHeader.size == MemoryLayout<ifinfomsg>.size)
        #expect(AddressHeader.size == MemoryLayout<ifaddrmsg>.size)
        #expect(RouteHeader.size == MemoryLayout<rtmsg>.size)
        #expect(LinkHeader().encoded.count == LinkHeader.size)
        #expect(AddressHeader(family: 2, prefixLength: 24, index: 1).encoded.count == AddressHeader.size)
        #expect(RouteHeader().encoded.count == RouteHeader.size)
        // ifi_index sits at offset 4, ifa_index at 4, rtm_flags at 8.
        #expect(MemoryLayout<ifinfomsg>.offset(of: \.ifi_index) == 4)
        #expect(MemoryLayout<ifinfomsg>.offset(of: \.ifi_change) == 12)
        #expect(MemoryLayout<ifaddrmsg>.offset(of: \.ifa_index) == 4)
        #expect(MemoryLayout<rtmsg>.offset(of: \.rtm_flags) == 8)
    }

    @Test func headersMatchCStructBytes() throws {
        var c = ifinfomsg()
        c.ifi_family = 7
        c.ifi_type = 0x0304
        c.ifi_index = 0x1122_3344
        c.ifi_flags = 0xAABB_CCDD
        c.ifi_change = 1
        let fromC = withUnsafeBytes(of: &c) { Array($0) }
        #expect(LinkHeader(family: 7, deviceType: 0x0304, index: 0x1122_3344, flags: 0xAABB_CCDD, change: 1).encoded == fromC)
        #expect(try LinkHeader(decoding: fromC) == LinkHeader(family: 7, deviceType: 0x0304, index: 0x1122_3344, flags: 0xAABB_CCDD, change: 1))

        var a = ifaddrmsg()
        a.ifa_family = 10
        a.ifa_prefixlen = 64
        a.ifa_flags = 2
        a.ifa_scope = 253
        a.ifa_index = 99
        let aC = withUnsafeBytes(of: &a) { Array($0) }
        #expect(AddressHeader(family: 10, prefixLength: 64, flags: 2, scope: 253, index: 99).encoded == aC)

        var r = rtmsg()
        r.rtm_family = 2
        r.rtm_dst_len = 16
        r.rtm_table = 254
        r.rtm_protocol = 3
        r.rtm_scope = 253
        r.rtm_type = 1
        r.rtm_flags = 0x0102_0304
        let rC = withUnsafeBytes(of: &r) { Array($0) }
        let header = RouteHeader(family: 2, destinationLength: 16, table: 254, routeProtocol: 3, scope: 253, type: 1, flags: 0x0102_0304)
        #expect(header.encoded == rC)
        #expect(try RouteHeader(decoding: rC) == header)
    }

    // MARK: attributes

    @Test func stringAttributeIsNulTerminatedAndPadded() {
        let a = NetlinkAttribute.string(3, "eth0")
        #expect(a.payload == Self.bytes("eth0") + [0])
        #expect(a.encoded == [9, 0, 3, 0] + Self.bytes("eth0") + [0, 0, 0, 0])
        #expect(a.encoded.count % 4 == 0)
        #expect(a.stringValue == "eth0")
        // Exactly aligned: no padding.
        #expect(NetlinkAttribute.string(3, "abc").encoded == [8, 0, 3, 0] + Self.bytes("abc") + [0])
    }

    @Test func integerAttributesAreHostOrder() {
        let a = NetlinkAttribute.integer(4, UInt32(1500))
        var host = UInt32(1500)
        #expect(a.payload == withUnsafeBytes(of: &host) { Array($0) })
        #expect(a.encoded.count == 8)
        #expect(a.uint32Value == 1500)
        #expect(a.integerValue(UInt16.self) == nil)
        #expect(NetlinkAttribute.integer(1, UInt8(7)).encoded == [5, 0, 1, 0, 7, 0, 0, 0])
        #expect(NetlinkAttribute.integer(1, UInt64.max).integerValue(UInt64.self) == .max)
        #expect(NetlinkAttribute.integer(1, Int32(-5)).integerValue(Int32.self) == -5)
    }

    @Test func emptyPayload() throws {
        let a = NetlinkAttribute(type: 9, payload: [])
        #expect(a.encoded == [4, 0, 9, 0])
        #expect(try NetlinkAttribute.decode(a.encoded) == [a])
    }

    @Test func nestedAttributesCarryTheFlagAndRoundTrip() throws {
        let inner: [NetlinkAttribute] = [.string(1, "veth"), .integer(2, UInt32(7))]
        let outer = NetlinkAttribute.nested(18, inner)
        let wire = outer.encoded
        // 4 (header) + 12 ("veth\0" padded) + 8 (u32).
        #expect(wire.prefix(4) == [24, 0, 18, 0x80])
        let decoded = try NetlinkAttribute.decode(wire)
        #expect(decoded.count == 1)
        #expect(decoded[0].type == 18)
        #expect(decoded[0].isNested)
        #expect(try decoded[0].nested() == inner)
        #expect(NetlinkAttribute.encode(decoded) == wire)
    }

    @Test func nestedWithoutFlagStillParses() throws {
        // The kernel sends IFLA_LINKINFO without NLA_F_NESTED.
        let children = NetlinkAttribute.encode([.string(1, "bridge")])
        let plain = NetlinkAttribute(type: 18, payload: children)
        let d = try NetlinkAttribute.decode(plain.encoded)
        #expect(d[0].isNested == false)
        #expect(try d[0].nested().first(1)?.stringValue == "bridge")
    }

    @Test func deepNesting() throws {
        var a = NetlinkAttribute.string(1, "leaf")
        for depth in 2...6 { a = .nested(UInt16(depth), [a, .integer(9, UInt16(depth))]) }
        var cursor = try NetlinkAttribute.decode(a.encoded)
        for depth in (2...6).reversed() {
            #expect(cursor.count == 1 && cursor[0].type == UInt16(depth))
            let children = try cursor[0].nested()
            #expect(children.count == 2)
            #expect(children[1].integerValue(UInt16.self) == UInt16(depth))
            cursor = [children[0]]
        }
        #expect(cursor[0].stringValue == "leaf")
    }

    @Test func decodingManyAttributes() throws {
        let attributes: [NetlinkAttribute] = (0..<50).map { i in
            NetlinkAttribute(type: UInt16(i), payload: [UInt8](repeating: UInt8(i), count: i % 7))
        }
        let wire = NetlinkAttribute.encode(attributes)
        #expect(try NetlinkAttribute.decode(wire) == attributes)
        #expect(try NetlinkAttribute.decode(wire[...]) == attributes)
        // A slice that does not start at index 0.
        let shifted = ([1, 2, 3] + wire)[3...]
        #expect(try NetlinkAttribute.decode(shifted) == attributes)
    }

    @Test func shortTailIsIgnoredAsTheKernelDoes() throws {
        let wire = NetlinkAttribute.string(3, "lo").encoded + [1, 2, 3]
        #expect(try NetlinkAttribute.decode(wire).map(\.stringValue) == ["lo"])
        #expect(try NetlinkAttribute.decode([]) == [])
    }

    static let corruptAttributes: [[UInt8]] = [
        [3, 0, 1, 0],  // length shorter than the header
        [0, 0, 1, 0],
        [12, 0, 1, 0, 1, 2, 3, 4],  // past the end
        [8, 0, 1, 0, 1, 2, 3, 4, 200, 0, 2, 0],  // the second one is past the end
    ]

    @Test(arguments: corruptAttributes)
    func corruptAttributeLengthsThrow(_ wire: [UInt8]) {
        #expect(throws: BerthError.self) { try NetlinkAttribute.decode(wire) }
    }

    // MARK: messages

    @Test func messageEncoding() throws {
        let m = NetlinkMessage(type: 16, flags: 0x0605, sequence: 7, port: 0, payload: [1, 2, 3, 4, 5])
        let wire = m.encoded
        #expect(wire.count == 24)  // 16 + 5, padded to 24
        #expect(Array(wire[0..<4]) == [21, 0, 0, 0])  // nlmsg_len excludes the padding
        #expect(Array(wire[4..<8]) == [16, 0, 5, 6])
        #expect(Array(wire[8..<12]) == [7, 0, 0, 0])
        #expect(try NetlinkMessage.decode(wire) == [m])
    }

    @Test func datagramWithSeveralMessages() throws {
        let a = NetlinkMessage(type: 16, flags: 2, sequence: 1, port: 99, payload: [UInt8](repeating: 7, count: 17))
        let b = NetlinkMessage(type: 20, flags: 2, sequence: 1, port: 99, payload: [])
        let done = NetlinkMessage(type: UInt16(NLMSG_DONE), flags: 2, sequence: 1, port: 99, payload: [0, 0, 0, 0])
        let decoded = try NetlinkMessage.decode(a.encoded + b.encoded + done.encoded)
        #expect(decoded == [a, b, done])
        #expect(decoded[2].errorCode == 0)
        #expect(decoded[0].errorCode == nil)
    }

    static let corruptMessages: [[UInt8]] = [
        [15, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  // shorter than the header
        [40, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  // past the end
    ]

    @Test(arguments: corruptMessages)
    func corruptMessageLengthsThrow(_ wire: [UInt8]) {
        #expect(throws: BerthError.self) { try NetlinkMessage.decode(wire) }
    }

    /// An NLMSG_ERROR as the kernel writes it with NETLINK_CAP_ACK and NETLINK_EXT_ACK.
    static func errorMessage(_ code: Int32, text: String?, capped: Bool = true, requestPayload: [UInt8] = []) -> NetlinkMessage {
        var w = NetlinkWriter()
        w.append(-code)
        let request = NetlinkMessage(type: 16, flags: 5, sequence: 3, payload: requestPayload)
        var flags: UInt16 = 0
        if capped {
            w.append(Array(request.encoded.prefix(16)))
            flags |= UInt16(NLM_F_CAPPED)
        } else {
            w.append(request.encoded)
        }
        if let text {
            w.append(NetlinkAttribute.encode([.string(UInt16(NLMSGERR_ATTR_MSG.rawValue), text)]))
            flags |= UInt16(NLM_F_ACK_TLVS)
        }
        return NetlinkMessage(type: UInt16(NLMSG_ERROR), flags: flags, sequence: 3, payload: w.bytes)
    }

    @Test func errorsAndExtendedAcks() throws {
        let ack = Self.errorMessage(0, text: nil)
        #expect(ack.errorCode == 0)
        #expect(ack.extendedAckMessage == nil)

        let exists = Self.errorMessage(EEXIST, text: "Interface name already exists")
        #expect(exists.errorCode == EEXIST)
        #expect(exists.extendedAckMessage == "Interface name already exists")

        let uncapped = Self.errorMessage(EINVAL, text: "Invalid prefix for given prefix length", capped: false,
                                         requestPayload: [UInt8](repeating: 9, count: 30))
        #expect(uncapped.errorCode == EINVAL)
        #expect(uncapped.extendedAckMessage == "Invalid prefix for given prefix length")

        // Round trip through the wire.
        let wire = try NetlinkMessage.decode(exists.encoded)
        #expect(wire.first?.extendedAckMessage == "Interface name already exists")

        let short = NetlinkMessage(type: UInt16(NLMSG_ERROR), flags: 0, payload: [1])
        #expect(short.errorCode == EPROTO)
    }

    @Test func failureMessagesNameTheOperation() {
        let e = Netlink.failure("create bridge berth0", EEXIST, nil)
        #expect(e.message == "create bridge berth0: File exists")
        #expect(e.code == .conflict)
        #expect(e.errno == EEXIST)
        let missing = Netlink.failure("delete link bt0", ENODEV, "no such device")
        #expect(missing.code == .notFound)
        #expect(missing.message == "delete link bt0: No such device")
        #expect(missing.description == "delete link bt0: No such device: no such device")
        #expect(Netlink.failure("set link x up", EPERM, nil).code == .permissionDenied)
    }

    // MARK: requests

    static func linkAttributes(_ r: NetlinkRequest) throws -> (LinkHeader, [NetlinkAttribute]) {
        (try LinkHeader(decoding: r.payload), try NetlinkAttribute.decode(Array(r.payload.dropFirst(LinkHeader.size))))
    }

    @Test func createBridgeBytes() throws {
        let r = try NetlinkRequest.createBridge(name: "br0", mtu: 1400, mac: nil)
        #expect(r.type == UInt16(RTM_NEWLINK))
        #expect(r.flags == UInt16(NLM_F_CREATE | NLM_F_EXCL))
        #expect(r.what == "create bridge br0")
        let mtu = NetlinkAttribute.integer(UInt16(IFLA_MTU), UInt32(1400)).encoded
        let expected: [UInt8] = [UInt8](repeating: 0, count: 16)  // ifinfomsg: AF_UNSPEC, index 0
            + [8, 0, UInt8(IFLA_IFNAME), 0] + Self.bytes("br0") + [0]
            + mtu
            + [16, 0, UInt8(IFLA_LINKINFO), 0x80]  // nested
            + [11, 0, UInt8(IFLA_INFO_KIND), 0] + Self.bytes("bridge") + [0, 0]
        #expect(r.payload == expected)

        let withMAC = try NetlinkRequest.createBridge(name: "br1", mtu: nil, mac: [2, 0x42, 0xAC, 0x11, 0, 1])
        let (_, attributes) = try Self.linkAttributes(withMAC)
        #expect(attributes.map(\.type) == [UInt16(IFLA_IFNAME), UInt16(IFLA_ADDRESS), UInt16(IFLA_LINKINFO)])
        #expect(attributes[1].payload == [2, 0x42, 0xAC, 0x11, 0, 1])
        #expect(throws: BerthError.self) { try NetlinkRequest.createBridge(name: "br1", mtu: nil, mac: [1, 2, 3]) }
    }

    @Test func createVethNestsThePeerLinkMessage() throws {
        let r = try NetlinkRequest.createVeth(name: "veth1", peer: "eth0", mtu: 9000, peerNamespaceFD: 42)
        #expect(r.what == "create veth pair veth1 and eth0")
        #expect(r.flags == UInt16(NLM_F_CREATE | NLM_F_EXCL))
        let (header, attributes) = try Self.linkAttributes(r)
        #expect(header == LinkHeader())
        #expect(attributes.first(UInt16(IFLA_IFNAME))?.stringValue == "veth1")
        #expect(attributes.first(UInt16(IFLA_MTU))?.uint32Value == 9000)
        let info = try #require(attributes.first(UInt16(IFLA_LINKINFO))).nested()
        #expect(info.first(UInt16(IFLA_INFO_KIND))?.stringValue == "veth")
        let data = try #require(info.first(UInt16(IFLA_INFO_DATA))).nested()
        let peer = try #require(data.first(UInt16(VETH_INFO_PEER)))
        #expect(peer.isNested == false)
        #expect(try LinkHeader(decoding: peer.payload) == LinkHeader())
        let peerAttributes = try NetlinkAttribute.decode(Array(peer.payload.dropFirst(16)))
        #expect(peerAttributes.first(UInt16(IFLA_IFNAME))?.stringValue == "eth0")
        #expect(peerAttributes.first(UInt16(IFLA_MTU))?.uint32Value == 9000)
        #expect(peerAttributes.first(UInt16(IFLA_NET_NS_FD))?.uint32Value == 42)

        let plain = try NetlinkRequest.createVeth(name: "a", peer: "b", mtu: nil, peerNamespaceFD: nil)
        let (_, plainAttributes) = try Self.linkAttributes(plain)
        #expect(plainAttributes.count == 2)
    }

    @Test func setLinkRequests() throws {
        let up = try NetlinkRequest.setUp("eth0", true)
        #expect(up.type == UInt16(RTM_SETLINK))
        #expect(up.flags == 0)
        #expect(up.what == "set link eth0 up")
        let (upHeader, upAttributes) = try Self.linkAttributes(up)
        #expect(upHeader.flags == UInt32(IFF_UP) && upHeader.change == UInt32(IFF_UP) && upHeader.index == 0)
        #expect(upAttributes == [.string(UInt16(IFLA_IFNAME), "eth0")])

        let (downHeader, _) = try Self.linkAttributes(try NetlinkRequest.setUp("eth0", false))
        #expect(downHeader.flags == 0 && downHeader.change == UInt32(IFF_UP))

        let rename = try NetlinkRequest.rename(index: 17, from: "veth9", to: "eth0")
        let (renameHeader, renameAttributes) = try Self.linkAttributes(rename)
        #expect(renameHeader.index == 17)
        #expect(renameAttributes == [.string(UInt16(IFLA_IFNAME), "eth0")])
        #expect(rename.what == "rename link veth9 to eth0")

        let move = try NetlinkRequest.setLink("veth9", [.integer(UInt16(IFLA_NET_NS_FD), UInt32(5))], what: "move")
        let (_, moveAttributes) = try Self.linkAttributes(move)
        #expect(moveAttributes.map(\.type) == [UInt16(IFLA_IFNAME), UInt16(IFLA_NET_NS_FD)])

        let delete = try NetlinkRequest.deleteLink("bt1")
        #expect(delete.type == UInt16(RTM_DELLINK))
        #expect(delete.what == "delete link bt1")
    }

    static let badNames = ["", "sixteen-chars-xx", ".", "..", "a/b", "a:b", "a b", "tab\t", "nul\0x"]
    static let goodNames = ["eth0", "lo", "fifteen-chars-x", "br-1234abcd", "a.b", "veth_x", "é"]

    @Test(arguments: badNames)
    func invalidInterfaceNamesAreRefusedBeforeTheKernel(_ name: String) {
        do {
            _ = try NetlinkRequest.createBridge(name: name, mtu: nil, mac: nil)
            Issue.record("accepted \(name.debugDescription)")
        } catch let e as BerthError {
            #expect(e.code == .invalidArgument)
            #expect(e.message.hasPrefix("invalid network interface name"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test(arguments: goodNames)
    func validInterfaceNames(_ name: String) throws {
        try Netlink.checkInterfaceName(name)
    }

    @Test func addressRequests() throws {
        let v4 = try NetlinkRequest.addAddress(index: 7, link: "eth0", address: IPAddress("10.1.2.3")!, prefixLength: 24, noDAD: false)
        #expect(v4.type == UInt16(RTM_NEWADDR))
        #expect(v4.flags == UInt16(NLM_F_CREATE | NLM_F_EXCL))
        #expect(v4.what == "add address 10.1.2.3/24 to eth0")
        let header = try AddressHeader(decoding: v4.payload)
        #expect(header == AddressHeader(family: UInt8(AF_INET), prefixLength: 24, flags: 0, scope: 0, index: 7))
        let attributes = try NetlinkAttribute.decode(Array(v4.payload.dropFirst(8)))
        #expect(attributes == [
            NetlinkAttribute(type: UInt16(IFA_LOCAL), payload: [10, 1, 2, 3]),
            NetlinkAttribute(type: UInt16(IFA_ADDRESS), payload: [10, 1, 2, 3]),
            NetlinkAttribute(type: UInt16(IFA_BROADCAST), payload: [10, 1, 2, 255]),
        ])

        let host = try NetlinkRequest.addAddress(index: 7, link: "eth0", address: IPAddress("10.1.2.3")!, prefixLength: 32, noDAD: false)
        #expect(try NetlinkAttribute.decode(Array(host.payload.dropFirst(8))).count == 2)

        let loopback = try NetlinkRequest.addAddress(index: 1, link: "lo", address: IPAddress("127.0.0.2")!, prefixLength: 8, noDAD: false)
        #expect(try AddressHeader(decoding: loopback.payload).scope == UInt8(RT_SCOPE_HOST.rawValue))

        let v6 = try NetlinkRequest.addAddress(index: 9, link: "eth0", address: IPAddress("fd00::2")!, prefixLength: 64, noDAD: true)
        let v6Header = try AddressHeader(decoding: v6.payload)
        #expect(v6Header.family == UInt8(AF_INET6))
        #expect(v6Header.prefixLength == 64)
        #expect(UInt32(v6Header.flags) == UInt32(IFA_F_NODAD))
        let v6Attributes = try NetlinkAttribute.decode(Array(v6.payload.dropFirst(8)))
        #expect(v6Attributes.map(\.type) == [UInt16(IFA_LOCAL), UInt16(IFA_ADDRESS)])
        #expect(v6Attributes[0].payload == IPAddress("fd00::2")!.bytes)

        #expect(throws: BerthError.self) {
            try NetlinkRequest.addAddress(index: 1, link: "eth0", address: IPAddress("10.0.0.1")!, prefixLength: 33, noDAD: false)
        }
        #expect(throws: BerthError.self) {
            try NetlinkRequest.addAddress(index: 1, link: "eth0", address: IPAddress("fd00::1")!, prefixLength: 129, noDAD: false)
        }

        let delete = try NetlinkRequest.deleteAddress(index: 7, link: "eth0", address: IPAddress("10.1.2.3")!, prefixLength: 24)
        #expect(delete.type == UInt16(RTM_DELADDR))
        #expect(delete.what == "delete address 10.1.2.3/24 from eth0")
    }

    static func routeParts(_ r: NetlinkRequest) throws -> (RouteHeader, [NetlinkAttribute]) {
        (try RouteHeader(decoding: r.payload), try NetlinkAttribute.decode(Array(r.payload.dropFirst(RouteHeader.size))))
    }

    @Test func routeRequests() throws {
        let gw = IPAddress("172.18.0.1")!
        let def = try NetlinkRequest.route(add: true, destination: nil, gateway: gw, outputIndex: nil, linkName: nil, metric: nil)
        #expect(def.what == "add route default via 172.18.0.1")
        #expect(def.type == UInt16(RTM_NEWROUTE))
        #expect(def.flags == UInt16(NLM_F_CREATE | NLM_F_EXCL))
        let (h, a) = try Self.routeParts(def)
        #expect(h == RouteHeader(family: UInt8(AF_INET), destinationLength: 0, table: 254, routeProtocol: UInt8(RTPROT_BOOT),
                                 scope: 0, type: UInt8(RTN_UNICAST)))
        #expect(a == [NetlinkAttribute(type: UInt16(RTA_GATEWAY.rawValue), payload: [172, 18, 0, 1])])

        // Host bits are dropped; no gateway means link scope; metric and interface.
        let onLink = try NetlinkRequest.route(add: true, destination: CIDR("10.9.8.7/16"), gateway: nil, outputIndex: 4,
                                              linkName: "eth0", metric: 100)
        #expect(onLink.what == "add route 10.9.0.0/16 dev eth0")
        let (h2, a2) = try Self.routeParts(onLink)
        #expect(h2.destinationLength == 16)
        #expect(h2.scope == UInt8(RT_SCOPE_LINK.rawValue))
        #expect(a2 == [
            NetlinkAttribute(type: UInt16(RTA_DST.rawValue), payload: [10, 9, 0, 0]),
            .integer(UInt16(RTA_OIF.rawValue), UInt32(4)),
            .integer(UInt16(RTA_PRIORITY.rawValue), UInt32(100)),
        ])

        let v6 = try NetlinkRequest.route(add: true, destination: nil, gateway: IPAddress("fd00::1"), outputIndex: 2,
                                          linkName: "eth0", metric: nil)
        let (h3, a3) = try Self.routeParts(v6)
        #expect(h3.family == UInt8(AF_INET6) && h3.scope == 0)
        #expect(a3.first(UInt16(RTA_GATEWAY.rawValue))?.payload == IPAddress("fd00::1")!.bytes)
        #expect(v6.what == "add route default via fd00::1 dev eth0")

        // A v6 route without gateway stays universe scope (as `ip route`).
        let v6Link = try NetlinkRequest.route(add: true, destination: CIDR("fd01::/64"), gateway: nil, outputIndex: 2,
                                              linkName: "eth0", metric: nil)
        #expect(try Self.routeParts(v6Link).0.scope == 0)

        let delete = try NetlinkRequest.route(add: false, destination: CIDR("10.9.0.0/16"), gateway: nil, outputIndex: nil,
                                              linkName: nil, metric: nil)
        #expect(delete.type == UInt16(RTM_DELROUTE))
        #expect(delete.flags == 0)
        let (h4, _) = try Self.routeParts(delete)
        #expect(h4.scope == UInt8(RT_SCOPE_NOWHERE.rawValue) && h4.routeProtocol == 0 && h4.type == 0)

        #expect(throws: BerthError.self) {
            try NetlinkRequest.route(add: true, destination: CIDR("10.0.0.0/8"), gateway: IPAddress("fd00::1"), outputIndex: nil,
                                     linkName: nil, metric: nil)
        }
        #expect(throws: BerthError.self) {
            try NetlinkRequest.route(add: true, destination: CIDR("10.0.0.0/8"), gateway: nil, outputIndex: nil, linkName: nil, metric: nil)
        }
    }

    // MARK: decoding replies

    @Test func linkInfoFromAReply() throws {
        var stats = NetlinkWriter()
        for v in [UInt64(10), 20, 3000, 4000, 1, 2, 3, 4] { stats.append(v) }
        stats.append([UInt8](repeating: 0, count: 200 - 64))  // the rest of rtnl_link_stats64
        let attributes: [NetlinkAttribute] = [
            .string(UInt16(IFLA_IFNAME), "veth1"),
            .integer(UInt16(IFLA_MTU), UInt32(1500)),
            NetlinkAttribute(type: UInt16(IFLA_ADDRESS), payload: [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
            .integer(UInt16(IFLA_MASTER), UInt32(3)),
            .integer(UInt16(IFLA_LINK), UInt32(8)),
            .integer(UInt16(IFLA_LINK_NETNSID), Int32(0)),
            NetlinkAttribute(type: UInt16(IFLA_LINKINFO), payload: NetlinkAttribute.encode([.string(UInt16(IFLA_INFO_KIND), "veth")])),
            NetlinkAttribute(type: UInt16(IFLA_STATS64), payload: stats.bytes),
        ]
        let header = LinkHeader(deviceType: 1, index: 7, flags: UInt32(IFF_UP) | 0x40)
        let m = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: 0, payload: header.encoded + NetlinkAttribute.encode(attributes))
        let info = try LinkInfo(message: m)
        #expect(info.index == 7)
        #expect(info.name == "veth1")
        #expect(info.kind == "veth")
        #expect(info.mtu == 1500)
        #expect(info.masterIndex == 3)
        #expect(info.linkIndex == 8)
        #expect(info.linkNetnsID == 0)
        #expect(info.isUp)
        #expect(info.macString == "02:42:ac:11:00:02")
        #expect(info.statistics == LinkStatistics(rxPackets: 10, txPackets: 20, rxBytes: 3000, txBytes: 4000,
                                                  rxErrors: 1, txErrors: 2, rxDropped: 3, txDropped: 4))

        // Loopback: no kind, no master, IFLA_LINK pointing at itself, 32-bit stats only.
        var stats32 = NetlinkWriter()
        for v in [UInt32(5), 6, 7, 8, 0, 0, 0, 0] { stats32.append(v) }
        let lo = NetlinkMessage(type: UInt16(RTM_NEWLINK), flags: 0, payload: LinkHeader(index: 1).encoded + NetlinkAttribute.encode([
            .string(UInt16(IFLA_IFNAME), "lo"),
            .integer(UInt16(IFLA_LINK), UInt32(1)),
            NetlinkAttribute(type: UInt16(IFLA_STATS), payload: stats32.bytes),
        ]))
        let loInfo = try LinkInfo(message: lo)
        #expect(loInfo.kind == nil && loInfo.masterIndex == nil && loInfo.linkIndex == nil && !loInfo.isUp)
        #expect(loInfo.statistics?.rxBytes == 7 && loInfo.statistics?.txPackets == 6)

        #expect(throws: BerthError.self) { try LinkInfo(message: NetlinkMessage(type: 16, flags: 0, payload: [1, 2])) }
    }

    @Test func addressInfoFromAReply() throws {
        let m = NetlinkMessage(type: UInt16(RTM_NEWADDR), flags: 0, payload:
            AddressHeader(family: UInt8(AF_INET), prefixLength: 16, flags: 0x80, scope: 0, index: 4).encoded
                + NetlinkAttribute.encode([
                    NetlinkAttribute(type: UInt16(IFA_ADDRESS), payload: [172, 17, 0, 1]),
                    NetlinkAttribute(type: UInt16(IFA_LOCAL), payload: [172, 17, 0, 1]),
                    NetlinkAttribute(type: UInt16(IFA_BROADCAST), payload: [172, 17, 255, 255]),
                    .string(UInt16(IFA_LABEL), "docker0"),
                    .integer(UInt16(IFA_FLAGS), UInt32(0x280)),
                ]))
        let a = try #require(try AddressInfo(message: m))
        #expect(a.linkIndex == 4)
        #expect(a.cidr == CIDR("172.17.0.1/16"))
        #expect(a.peer == nil)
        #expect(a.broadcast == IPAddress("172.17.255.255"))
        #expect(a.label == "docker0")
        #expect(a.flags == 0x280)

        // IPv6 replies carry IFA_ADDRESS only.
        let v6 = NetlinkMessage(type: UInt16(RTM_NEWADDR), flags: 0, payload:
            AddressHeader(family: UInt8(AF_INET6), prefixLength: 64, flags: 0x80, scope: 253, index: 2).encoded
                + NetlinkAttribute.encode([NetlinkAttribute(type: UInt16(IFA_ADDRESS), payload: IPAddress("fe80::1")!.bytes)]))
        let b = try #require(try AddressInfo(message: v6))
        #expect(b.cidr == CIDR("fe80::1/64"))
        #expect(b.flags == 0x80)
        #expect(b.scope == 253)

        // Point-to-point: IFA_ADDRESS is the peer.
        let ptp = NetlinkMessage(type: UInt16(RTM_NEWADDR), flags: 0, payload:
            AddressHeader(family: UInt8(AF_INET), prefixLength: 32, index: 5).encoded
                + NetlinkAttribute.encode([
                    NetlinkAttribute(type: UInt16(IFA_LOCAL), payload: [10, 0, 0, 1]),
                    NetlinkAttribute(type: UInt16(IFA_ADDRESS), payload: [10, 0, 0, 2]),
                ]))
        #expect(try AddressInfo(message: ptp)?.peer == IPAddress("10.0.0.2"))

        let otherFamily = NetlinkMessage(type: UInt16(RTM_NEWADDR), flags: 0, payload:
            AddressHeader(family: 17, prefixLength: 0, index: 5).encoded)
        #expect(try AddressInfo(message: otherFamily) == nil)
    }

    @Test func routeInfoFromAReply() throws {
        let def = NetlinkMessage(type: UInt16(RTM_NEWROUTE), flags: 0, payload:
            RouteHeader(family: UInt8(AF_INET), table: 254, routeProtocol: 3, scope: 0, type: 1).encoded
                + NetlinkAttribute.encode([
                    .integer(UInt16(RTA_TABLE.rawValue), UInt32(254)),
                    NetlinkAttribute(type: UInt16(RTA_GATEWAY.rawValue), payload: [192, 0, 2, 1]),
                    .integer(UInt16(RTA_OIF.rawValue), UInt32(2)),
                ]))
        let r = try #require(try RouteInfo(message: def))
        #expect(r.isDefault)
        #expect(r.destination == CIDR("0.0.0.0/0"))
        #expect(r.gateway == IPAddress("192.0.2.1"))
        #expect(r.outputLinkIndex == 2)
        #expect(r.table == 254)

        let connected = NetlinkMessage(type: UInt16(RTM_NEWROUTE), flags: 0, payload:
            RouteHeader(family: UInt8(AF_INET6), destinationLength: 64, table: 254, routeProtocol: 2, scope: 0, type: 1).encoded
                + NetlinkAttribute.encode([
                    NetlinkAttribute(type: UInt16(RTA_DST.rawValue), payload: IPAddress("fd00::")!.bytes),
                    .integer(UInt16(RTA_PRIORITY.rawValue), UInt32(256)),
                    .integer(UInt16(RTA_TABLE.rawValue), UInt32(1000)),
                ]))
        let c = try #require(try RouteInfo(message: connected))
        #expect(c.destination == CIDR("fd00::/64"))
        #expect(c.metric == 256)
        #expect(c.table == 1000)
        #expect(c.gateway == nil && !c.isDefault)

        // Multipath: the first hop's gateway and interface.
        var hop = NetlinkWriter()
        let hopAttributes = NetlinkAttribute.encode([NetlinkAttribute(type: UInt16(RTA_GATEWAY.rawValue), payload: [10, 0, 0, 254])])
        hop.append(UInt16(8 + hopAttributes.count))
        hop.append(UInt8(0))
        hop.append(UInt8(0))
        hop.append(Int32(6))
        hop.append(hopAttributes)
        let multipath = NetlinkMessage(type: UInt16(RTM_NEWROUTE), flags: 0, payload:
            RouteHeader(family: UInt8(AF_INET), destinationLength: 8, table: 254, type: 1).encoded
                + NetlinkAttribute.encode([
                    NetlinkAttribute(type: UInt16(RTA_DST.rawValue), payload: [10, 0, 0, 0]),
                    NetlinkAttribute(type: UInt16(RTA_MULTIPATH.rawValue), payload: hop.bytes + hop.bytes),
                ]))
        let mp = try #require(try RouteInfo(message: multipath))
        #expect(mp.gateway == IPAddress("10.0.0.254"))
        #expect(mp.outputLinkIndex == 6)
        #expect(mp.destination == CIDR("10.0.0.0/8"))

        let mpls = NetlinkMessage(type: UInt16(RTM_NEWROUTE), flags: 0, payload: RouteHeader(family: 28).encoded)
        #expect(try RouteInfo(message: mpls) == nil)
    }

    @Test func macAddresses() {
        #expect(Netlink.formatMAC([2, 0x42, 0xAC, 0x11, 0, 0x0F]) == "02:42:ac:11:00:0f")
        #expect(Netlink.parseMAC("02:42:AC:11:00:0f") == [2, 0x42, 0xAC, 0x11, 0, 0x0F])
        #expect(Netlink.parseMAC("02-42-ac-11-00-0f") == [2, 0x42, 0xAC, 0x11, 0, 0x0F])
        for bad in ["", "02:42:ac:11:00", "02:42:ac:11:00:0f:01", "2:42:ac:11:00:0f", "02:42:ac:11:00:0g",
                    "+2:42:ac:11:00:0f", "02:42-ac:11:00:0f", "024:2ac:11:00:0f:"] {
            #expect(Netlink.parseMAC(bad) == nil, "\(bad)")
        }
    }
}
