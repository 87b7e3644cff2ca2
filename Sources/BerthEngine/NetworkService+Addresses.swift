import BerthCore
import BerthSystem

/// IPv4 addresses as host-order `UInt32`, for IPAM arithmetic.
enum IPv4 {
    static func parse(_ s: String) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let b = UInt8(p) else { return nil }
            if p.count > 1 && p.hasPrefix("0") { return nil }
            v = v << 8 | UInt32(b)
        }
        return v
    }

    static func format(_ v: UInt32) -> String { "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)" }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }

    /// `10.1.0.0/16` → (base, prefix); the address is masked to the network (Docker accepts
    /// `10.1.2.3/16` as 10.1.0.0/16).
    static func parseCIDR(_ s: String) -> (base: UInt32, prefix: Int)? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = parse(String(parts[0])), let p = Int(parts[1]), (0...32).contains(p),
              parts[1].allSatisfy(\.isNumber) else { return nil }
        return (a & mask(p), p)
    }

    static func cidr(_ base: UInt32, _ prefix: Int) -> String { "\(format(base))/\(prefix)" }

    static func contains(_ net: (base: UInt32, prefix: Int), _ a: UInt32) -> Bool { a & mask(net.prefix) == net.base }

    static func overlaps(_ a: (base: UInt32, prefix: Int), _ b: (base: UInt32, prefix: Int)) -> Bool {
        let p = min(a.prefix, b.prefix)
        return a.base & mask(p) == b.base & mask(p)
    }
}

/// The host's IPv4 routes, from /proc/net/route (destination and mask in the kernel's byte
/// order), to keep new subnets clear of networks the host reaches already.
enum HostRoutes {
    static func ipv4(file: String = "/proc/net/route") throws -> [(base: UInt32, prefix: Int, interface: String)] {
        let text = try FileSystem.readString(file)
        var out: [(UInt32, Int, String)] = []
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 8, let dst = UInt32(f[1], radix: 16), let m = UInt32(f[7], radix: 16) else { continue }
            let base = dst.byteSwapped, mask = m.byteSwapped
            out.append((base, mask.nonzeroBitCount, String(f[0])))
        }
        return out
    }
}

extension NetworkService {
    /// An address on a network for a starting container: the one asked for (`--ip`) or the
    /// lowest free one in the network's range. Held until `release`.
    func allocate(_ networkID: String, requested: String?) throws -> (address: String, prefix: Int, gateway: String) {
        try state.withLock { s in
            guard let r = s.records[networkID], let sub = r.subnets.first, let net = IPv4.parseCIDR(sub.subnet),
                  let gw = IPv4.parse(sub.gateway) else {
                throw BerthError.invalid("network \(networkID) has no IPv4 subnet")
            }
            let broadcast = net.base | ~IPv4.mask(net.prefix)
            var used = s.allocations[networkID] ?? []
            if let req = requested, !req.isEmpty {
                guard let a = IPv4.parse(req) else { throw BerthError.invalid("invalid IPv4 address: \(req)") }
                if r.builtin || r.options["com.docker.network.bridge.default_bridge"] == "true" {
                    throw BerthError.invalid("user specified IP address is supported on user defined networks only")
                }
                guard IPv4.contains(net, a), a != net.base, a != broadcast, a != gw else {
                    throw BerthError.invalid("Invalid address \(req): It does not belong to any of this network's subnets")
                }
                guard used.insert(a).inserted else { throw BerthError.conflict("Address already in use: \(req)") }
                s.allocations[networkID] = used
                return (req, net.prefix, sub.gateway)
            }
            let range = sub.ipRange.flatMap(IPv4.parseCIDR) ?? net
            let first = max(range.base, net.base + 1), last = min(range.base | ~IPv4.mask(range.prefix), broadcast - 1)
            var a = first
            while a <= last {
                if a != gw && !used.contains(a) {
                    used.insert(a)
                    s.allocations[networkID] = used
                    return (IPv4.format(a), net.prefix, sub.gateway)
                }
                a += 1
            }
            throw BerthError.unsupported("no available IPv4 addresses on network \(r.name)")
        }
    }

    /// Gives an address back (the container stopped or left the network).
    func release(_ networkID: String, _ address: String) {
        guard let a = IPv4.parse(address) else { return }
        _ = state.withLock { $0.allocations[networkID]?.remove(a) }
    }

    /// Marks an address in use (a running container found at startup).
    func reserve(_ networkID: String, _ address: String) {
        guard let a = IPv4.parse(address) else { return }
        _ = state.withLock { $0.allocations[networkID, default: []].insert(a) }
    }
}

extension NetworkService {
    /// An IPv6 address on a network with an IPv6 subnet: the one asked for (`--ip6`) or the
    /// lowest free one in the range (the gateway excluded). nil when the network has no IPv6.
    func allocate6(_ networkID: String, requested: String?) throws -> (address: String, prefix: Int, gateway: String)? {
        try state.withLock { s in
            guard let r = s.records[networkID], let sub = r.subnet6, let net = CIDR(sub.subnet), let gw = IPAddress(sub.gateway) else {
                if let req = requested, !req.isEmpty { throw BerthError.invalid("network \(networkID) has no IPv6 subnet for \(req)") }
                return nil
            }
            var used = s.allocations6[networkID] ?? []
            let gwOffset = net.offset(of: gw)
            if let req = requested, !req.isEmpty {
                guard let a = IPAddress(req), a.family == .v6, net.contains(a), let off = net.offset(of: a), off != 0, off != gwOffset else {
                    throw BerthError.invalid("Invalid address \(req): It does not belong to any of this network's subnets")
                }
                guard used.insert(off).inserted else { throw BerthError.conflict("Address already in use: \(req)") }
                s.allocations6[networkID] = used
                return (a.description, net.prefixLength, sub.gateway)
            }
            let range = sub.ipRange.flatMap { CIDR($0) } ?? net
            let start = net.offset(of: range.masked.address) ?? 0
            var off = max(start, 1)
            let end = start + min(range.size - 1, 1 << 20)  // never scan more than a million
            while off <= end {
                if off != gwOffset && !used.contains(off), let a = net.masked.address(at: off) {
                    used.insert(off)
                    s.allocations6[networkID] = used
                    return (a.description, net.prefixLength, sub.gateway)
                }
                off += 1
            }
            throw BerthError.unsupported("no available IPv6 addresses on network \(r.name)")
        }
    }

    /// Gives an IPv6 address back.
    func release6(_ networkID: String, _ address: String) {
        state.withLock { s in
            guard let sub = s.records[networkID]?.subnet6, let net = CIDR(sub.subnet), let a = IPAddress(address),
                  let off = net.offset(of: a) else { return }
            s.allocations6[networkID]?.remove(off)
        }
    }

    /// Marks an IPv6 address in use (a running container found at startup).
    func reserve6(_ networkID: String, _ address: String) {
        state.withLock { s in
            guard let sub = s.records[networkID]?.subnet6, let net = CIDR(sub.subnet), let a = IPAddress(address),
                  let off = net.offset(of: a) else { return }
            s.allocations6[networkID, default: []].insert(off)
        }
    }
}

/// A MAC address from an IPv4 address, as Docker derives them: 02:42 + the four bytes.
func macAddress(for ipv4: String) -> String {
    guard let a = IPv4.parse(ipv4) else { return "" }
    let bytes: [UInt32] = [0x02, 0x42, a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255]
    return bytes.map { b in let h = String(b, radix: 16); return h.count == 1 ? "0" + h : h }.joined(separator: ":")
}
