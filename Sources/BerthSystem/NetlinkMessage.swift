#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

// The rtnetlink wire format, pure: messages, attributes and the fixed headers of link, address
// and route messages, encoded and decoded without a socket (so tests can check every byte).
// Integers are in host byte order, as netlink wants; addresses are in network order, as they are
// stored. Layouts follow <linux/netlink.h> and <linux/rtnetlink.h>; tests compare the sizes
// with the C structs.

/// Rounds a length up to netlink's 4-byte alignment (`NLMSG_ALIGN`, `RTA_ALIGN`).
@inline(__always)
func netlinkAlign(_ n: Int) -> Int { (n + 3) & ~3 }

/// Appends integers in host byte order.
struct NetlinkWriter {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        // `littleEndian` then low byte first writes the host's byte order on either endianness.
        let le = value.littleEndian
        for i in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: le >> (8 * i))) }
    }

    mutating func append(_ raw: [UInt8]) { bytes += raw }

    /// Zero bytes up to the next 4-byte boundary.
    mutating func pad() {
        bytes += [UInt8](repeating: 0, count: netlinkAlign(bytes.count) - bytes.count)
    }
}

/// Reads a host-order integer at `offset` of `bytes` (the caller checks the bounds).
func netlinkInteger<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at offset: Int, as: T.Type = T.self) -> T {
    var le: T = 0
    let start = bytes.startIndex + offset
    for i in 0..<MemoryLayout<T>.size { le |= T(truncatingIfNeeded: bytes[start + i]) << (8 * i) }
    return T(littleEndian: le)
}

/// A netlink protocol error: malformed data from the kernel (never expected; reported as corrupt).
func netlinkCorrupt(_ what: String) -> BerthError {
    BerthError(.corrupt, "netlink: \(what)")
}

/// One netlink attribute (`struct rtattr` / `struct nlattr`): a type and a payload.
///
/// On the wire: a 4-byte header (u16 length including the header, u16 type) and the payload,
/// padded to 4 bytes. The two top bits of the type are flags: `NLA_F_NESTED` says the payload is
/// itself attributes; it is kept in `isNested` and masked out of `type`. (`NLA_F_NET_BYTEORDER`
/// is dropped; rtnetlink does not use it.)
public struct NetlinkAttribute: Sendable, Hashable, CustomStringConvertible {
    /// The attribute type (`IFLA_IFNAME`, `RTA_DST`, …) without flag bits.
    public var type: UInt16
    /// The payload, unpadded.
    public var payload: [UInt8]
    /// Whether `NLA_F_NESTED` is (to be) set.
    public var isNested: Bool

    /// An attribute with a raw payload.
    public init(type: UInt16, payload: [UInt8], isNested: Bool = false) {
        self.type = type
        self.payload = payload
        self.isNested = isNested
    }

    /// A NUL-terminated string attribute (`IFLA_IFNAME`, `IFLA_INFO_KIND`).
    public static func string(_ type: UInt16, _ value: String) -> NetlinkAttribute {
        NetlinkAttribute(type: type, payload: Array(value.utf8) + [0])
    }

    /// A host-order integer attribute of the integer's width.
    public static func integer<T: FixedWidthInteger>(_ type: UInt16, _ value: T) -> NetlinkAttribute {
        var w = NetlinkWriter()
        w.append(value)
        return NetlinkAttribute(type: type, payload: w.bytes)
    }

    /// A nested attribute whose payload is `children` (flagged `NLA_F_NESTED`).
    public static func nested(_ type: UInt16, _ children: [NetlinkAttribute]) -> NetlinkAttribute {
        NetlinkAttribute(type: type, payload: encode(children), isNested: true)
    }

    /// The payload as a string, up to the first NUL.
    public var stringValue: String {
        String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The payload as a host-order integer; `nil` when its size is not the integer's.
    public func integerValue<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        guard payload.count == MemoryLayout<T>.size else { return nil }
        return netlinkInteger(payload[...], at: 0)
    }

    /// The payload as a `u32` (`IFLA_MTU`, `RTA_OIF`, …).
    public var uint32Value: UInt32? { integerValue(UInt32.self) }

    /// The payload parsed as attributes (for nested ones, flagged or not: the kernel does not
    /// always set `NLA_F_NESTED` on what it sends).
    public func nested() throws -> [NetlinkAttribute] { try Self.decode(payload[...]) }

    /// Encoded size, padding included.
    var encodedSize: Int { netlinkAlign(4 + payload.count) }

    /// The attribute's bytes: header, payload, padding.
    public var encoded: [UInt8] {
        var w = NetlinkWriter()
        write(to: &w)
        return w.bytes
    }

    func write(to w: inout NetlinkWriter) {
        w.append(UInt16(4 + payload.count))
        w.append(type | (isNested ? UInt16(NLA_F_NESTED) : 0))
        w.append(payload)
        w.pad()
    }

    /// Encodes attributes one after the other, each padded to 4 bytes.
    public static func encode(_ attributes: [NetlinkAttribute]) -> [UInt8] {
        var w = NetlinkWriter()
        for a in attributes { a.write(to: &w) }
        return w.bytes
    }

    /// Decodes a run of attributes. Fewer than 4 trailing bytes are ignored (as the kernel's
    /// `nla_ok` does); a length field shorter than the header or past the end throws.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws -> [NetlinkAttribute] {
        var out: [NetlinkAttribute] = []
        var offset = 0
        while bytes.count - offset >= 4 {
            let length = Int(netlinkInteger(bytes, at: offset, as: UInt16.self))
            let rawType = netlinkInteger(bytes, at: offset + 2, as: UInt16.self)
            guard length >= 4, length <= bytes.count - offset else {
                throw netlinkCorrupt("attribute of type \(rawType & 0x3FFF) has length \(length), \(bytes.count - offset) bytes left")
            }
            let start = bytes.startIndex + offset
            out.append(NetlinkAttribute(
                type: rawType & ~UInt16(NLA_F_NESTED | NLA_F_NET_BYTEORDER),
                payload: Array(bytes[(start + 4)..<(start + length)]),
                isNested: rawType & UInt16(NLA_F_NESTED) != 0))
            offset += netlinkAlign(length)
        }
        return out
    }

    /// Decodes a run of attributes.
    public static func decode(_ bytes: [UInt8]) throws -> [NetlinkAttribute] { try decode(bytes[...]) }

    public var description: String {
        "attr(\(type)\(isNested ? ", nested" : ""), \(payload.count) bytes)"
    }
}

extension Array where Element == NetlinkAttribute {
    /// The first attribute of a type (attributes do not repeat in rtnetlink replies, except
    /// inside lists such as `RTA_MULTIPATH`).
    public func first(_ type: UInt16) -> NetlinkAttribute? { first { $0.type == type } }
}

/// One netlink message: the 16-byte `nlmsghdr` and its payload (a fixed header such as
/// `ifinfomsg`, then attributes).
public struct NetlinkMessage: Sendable, Hashable {
    /// `nlmsg_type`: `RTM_NEWLINK`, `NLMSG_ERROR`, `NLMSG_DONE`, …
    public var type: UInt16
    /// `nlmsg_flags`: `NLM_F_REQUEST`, `NLM_F_ACK`, `NLM_F_DUMP`, `NLM_F_CREATE`, …
    public var flags: UInt16
    /// `nlmsg_seq`: matches replies to requests.
    public var sequence: UInt32
    /// `nlmsg_pid`: the sender's port (0 for the kernel).
    public var port: UInt32
    /// Everything after the header, unpadded.
    public var payload: [UInt8]

    /// The size of `struct nlmsghdr`.
    public static let headerSize = 16

    /// A message.
    public init(type: UInt16, flags: UInt16, sequence: UInt32 = 0, port: UInt32 = 0, payload: [UInt8] = []) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.port = port
        self.payload = payload
    }

    /// The message's bytes, padded to 4 (`nlmsg_len` counts the header and payload, not the
    /// padding).
    public var encoded: [UInt8] {
        var w = NetlinkWriter()
        w.append(UInt32(Self.headerSize + payload.count))
        w.append(type)
        w.append(flags)
        w.append(sequence)
        w.append(port)
        w.append(payload)
        w.pad()
        return w.bytes
    }

    /// Splits a datagram into its messages. Trailing bytes shorter than a header are ignored;
    /// a length field shorter than the header or past the end throws.
    public static func decode(_ bytes: [UInt8]) throws -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var offset = 0
        let all = bytes[...]
        while bytes.count - offset >= headerSize {
            let length = Int(netlinkInteger(all, at: offset, as: UInt32.self))
            guard length >= headerSize, length <= bytes.count - offset else {
                throw netlinkCorrupt("message length \(length) with \(bytes.count - offset) bytes left")
            }
            out.append(NetlinkMessage(
                type: netlinkInteger(all, at: offset + 4),
                flags: netlinkInteger(all, at: offset + 6),
                sequence: netlinkInteger(all, at: offset + 8),
                port: netlinkInteger(all, at: offset + 12),
                payload: Array(all[(offset + headerSize)..<(offset + length)])))
            offset += netlinkAlign(length)
        }
        return out
    }

    /// The attributes after a fixed header of `headerSize` bytes (`LinkHeader.size`, …).
    public func attributes(after headerSize: Int) throws -> [NetlinkAttribute] {
        guard payload.count >= headerSize else {
            throw netlinkCorrupt("message of type \(type) has \(payload.count) bytes, shorter than its \(headerSize)-byte header")
        }
        return try NetlinkAttribute.decode(payload[netlinkAlign(headerSize)...])
    }

    /// For `NLMSG_ERROR` and `NLMSG_DONE`: the kernel's result, 0 (an acknowledgement) or a
    /// positive errno. `nil` for other types.
    public var errorCode: Int32? {
        guard type == UInt16(NLMSG_ERROR) || type == UInt16(NLMSG_DONE) else { return nil }
        guard payload.count >= 4 else { return type == UInt16(NLMSG_DONE) ? 0 : EPROTO }
        let e: Int32 = netlinkInteger(payload[...], at: 0)
        return e == .min ? EPROTO : -e
    }

    /// For `NLMSG_ERROR` with extended acknowledgement: the kernel's explanation
    /// (`NLMSGERR_ATTR_MSG`), if it sent one.
    public var extendedAckMessage: String? {
        guard type == UInt16(NLMSG_ERROR), flags & UInt16(NLM_F_ACK_TLVS) != 0, payload.count >= 20 else { return nil }
        // nlmsgerr: the error, then the request's header, then (unless capped) its payload.
        var offset = 4 + Self.headerSize
        if flags & UInt16(NLM_F_CAPPED) == 0 {
            let requestLength = Int(netlinkInteger(payload[...], at: 4, as: UInt32.self))
            offset = 4 + netlinkAlign(max(requestLength, Self.headerSize))
        }
        guard offset <= payload.count,
              let tlvs = try? NetlinkAttribute.decode(payload[offset...]),
              let message = tlvs.first(UInt16(NLMSGERR_ATTR_MSG.rawValue)) else { return nil }
        let text = message.stringValue
        return text.isEmpty ? nil : text
    }
}

/// `struct ifinfomsg` (16 bytes): the fixed header of link messages.
public struct LinkHeader: Sendable, Hashable {
    /// `ifi_family`: `AF_UNSPEC` for link messages.
    public var family: UInt8 = 0
    /// `ifi_type`: the ARP hardware type (`ARPHRD_ETHER`, …), set by the kernel.
    public var deviceType: UInt16 = 0
    /// `ifi_index`: the interface index; 0 to name the interface with `IFLA_IFNAME` instead.
    public var index: Int32 = 0
    /// `ifi_flags`: `IFF_UP`, …
    public var flags: UInt32 = 0
    /// `ifi_change`: which bits of `flags` to change.
    public var change: UInt32 = 0

    /// The size of `struct ifinfomsg`.
    public static let size = 16

    /// A header.
    public init(family: UInt8 = 0, deviceType: UInt16 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        self.family = family
        self.deviceType = deviceType
        self.index = index
        self.flags = flags
        self.change = change
    }

    /// The header's bytes.
    public var encoded: [UInt8] {
        var w = NetlinkWriter()
        w.append(family)
        w.append(UInt8(0))
        w.append(deviceType)
        w.append(index)
        w.append(flags)
        w.append(change)
        return w.bytes
    }

    /// Reads the header at the start of a message payload.
    public init(decoding payload: [UInt8]) throws {
        guard payload.count >= Self.size else { throw netlinkCorrupt("link message of \(payload.count) bytes") }
        let p = payload[...]
        family = p[0]
        deviceType = netlinkInteger(p, at: 2)
        index = netlinkInteger(p, at: 4)
        flags = netlinkInteger(p, at: 8)
        change = netlinkInteger(p, at: 12)
    }
}

/// `struct ifaddrmsg` (8 bytes): the fixed header of address messages.
public struct AddressHeader: Sendable, Hashable {
    /// `ifa_family`: `AF_INET` or `AF_INET6`.
    public var family: UInt8
    /// `ifa_prefixlen`.
    public var prefixLength: UInt8
    /// `ifa_flags` (the low 8 bits; `IFA_FLAGS` carries all 32).
    public var flags: UInt8
    /// `ifa_scope`: `RT_SCOPE_UNIVERSE`, `RT_SCOPE_LINK`, `RT_SCOPE_HOST`.
    public var scope: UInt8
    /// `ifa_index`: the interface index.
    public var index: UInt32

    /// The size of `struct ifaddrmsg`.
    public static let size = 8

    /// A header.
    public init(family: UInt8, prefixLength: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32) {
        self.family = family
        self.prefixLength = prefixLength
        self.flags = flags
        self.scope = scope
        self.index = index
    }

    /// The header's bytes.
    public var encoded: [UInt8] {
        var w = NetlinkWriter()
        w.append(family)
        w.append(prefixLength)
        w.append(flags)
        w.append(scope)
        w.append(index)
        return w.bytes
    }

    /// Reads the header at the start of a message payload.
    public init(decoding payload: [UInt8]) throws {
        guard payload.count >= Self.size else { throw netlinkCorrupt("address message of \(payload.count) bytes") }
        family = payload[0]
        prefixLength = payload[1]
        flags = payload[2]
        scope = payload[3]
        index = netlinkInteger(payload[...], at: 4)
    }
}

/// `struct rtmsg` (12 bytes): the fixed header of route messages.
public struct RouteHeader: Sendable, Hashable {
    /// `rtm_family`: `AF_INET` or `AF_INET6` (`AF_UNSPEC` to dump every family).
    public var family: UInt8 = 0
    /// `rtm_dst_len`: the destination's prefix length (0 for a default route).
    public var destinationLength: UInt8 = 0
    /// `rtm_src_len`.
    public var sourceLength: UInt8 = 0
    /// `rtm_tos`.
    public var tos: UInt8 = 0
    /// `rtm_table`: `RT_TABLE_MAIN` (254), …; tables past 255 go in `RTA_TABLE`.
    public var table: UInt8 = 0
    /// `rtm_protocol`: who installed the route (`RTPROT_BOOT`, `RTPROT_KERNEL`, …).
    public var routeProtocol: UInt8 = 0
    /// `rtm_scope`: `RT_SCOPE_UNIVERSE`, `RT_SCOPE_LINK`, …
    public var scope: UInt8 = 0
    /// `rtm_type`: `RTN_UNICAST`, `RTN_LOCAL`, `RTN_BLACKHOLE`, …
    public var type: UInt8 = 0
    /// `rtm_flags`.
    public var flags: UInt32 = 0

    /// The size of `struct rtmsg`.
    public static let size = 12

    /// A header.
    public init(family: UInt8 = 0, destinationLength: UInt8 = 0, sourceLength: UInt8 = 0, tos: UInt8 = 0,
                table: UInt8 = 0, routeProtocol: UInt8 = 0, scope: UInt8 = 0, type: UInt8 = 0, flags: UInt32 = 0) {
        self.family = family
        self.destinationLength = destinationLength
        self.sourceLength = sourceLength
        self.tos = tos
        self.table = table
        self.routeProtocol = routeProtocol
        self.scope = scope
        self.type = type
        self.flags = flags
    }

    /// The header's bytes.
    public var encoded: [UInt8] {
        var w = NetlinkWriter()
        for b in [family, destinationLength, sourceLength, tos, table, routeProtocol, scope, type] { w.append(b) }
        w.append(flags)
        return w.bytes
    }

    /// Reads the header at the start of a message payload.
    public init(decoding payload: [UInt8]) throws {
        guard payload.count >= Self.size else { throw netlinkCorrupt("route message of \(payload.count) bytes") }
        family = payload[0]
        destinationLength = payload[1]
        sourceLength = payload[2]
        tos = payload[3]
        table = payload[4]
        routeProtocol = payload[5]
        scope = payload[6]
        type = payload[7]
        flags = netlinkInteger(payload[...], at: 8)
    }
}
