import BerthCore
import BerthSystem

/// Kernel settings bridge networking needs, written through /proc/sys. Each is written only
/// when it differs, so a host that has it already is left untouched.
extension Firewall {
    /// Sets `net.ipv4.conf.BRIDGE.route_localnet = 1`: without it the kernel drops packets with
    /// a 127.0.0.0/8 source leaving through the bridge, so `curl 127.0.0.1:PORT` on the host
    /// (DNAT to a container, then masqueraded) would never arrive. Call after creating the
    /// bridge; the setting goes away with it.
    /// - Throws: `BerthError.invalid` for a bad interface name; `.notFound` when the bridge does
    ///   not exist.
    public static func enableRouteLocalnet(bridge: String) throws {
        try validateInterface(bridge)
        try setSysctl("/proc/sys/net/ipv4/conf/\(bridge)/route_localnet", "1")
    }

    /// Turns IP forwarding on: `net.ipv4.ip_forward = 1` and, with `ipv6` (when some network has
    /// an IPv6 subnet), `net.ipv6.conf.all.forwarding = 1`. Nothing is written when a value is
    /// already 1. Note the IPv6 switch makes the host ignore router advertisements on
    /// interfaces whose `accept_ra` is 1 (Docker has the same effect).
    public static func ensureForwarding(ipv6: Bool = false) throws {
        try setSysctl("/proc/sys/net/ipv4/ip_forward", "1")
        if ipv6 { try setSysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1") }
    }

    /// Writes `value` to a /proc/sys file unless it holds it already.
    static func setSysctl(_ path: String, _ value: String) throws {
        let current = try FileSystem.readString(path).split(whereSeparator: \.isWhitespace).first.map(String.init)
        if current == value { return }
        do {
            try FileSystem.writeExisting(path, value + "\n")
        } catch let e as BerthError {
            throw e.context("set \(path) to \(value)")
        }
    }
}
