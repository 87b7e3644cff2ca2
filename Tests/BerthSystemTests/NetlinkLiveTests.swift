import BerthTestSupport
import BerthCore
import Foundation
import Glibc
import Testing
@testable import BerthSystem

/// Runs a command (tests may shell out; production code may not) and returns its exit status
/// and output.
@discardableResult
func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExitReliably()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// `ip -j ARGS` parsed as a JSON array of objects.
func ipJSON(_ arguments: [String]) throws -> [[String: Any]] {
    let r = try run(["ip", "-j"] + arguments)
    guard r.status == 0 else { throw BerthError(.system, "ip \(arguments.joined(separator: " ")): \(r.stderr)") }
    let text = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    if text.isEmpty { return [] }
    return try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []
}

/// A name `bt` + random hex + `suffix`, at most 15 bytes.
func randomLinkName(_ suffix: String = "") -> String {
    let hex = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    return "bt" + String(repeating: "0", count: 8 - hex.count) + hex + suffix
}

/// The calling thread's network namespace, as `net:[inode]`.
func currentNetworkNamespace() throws -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let n = readlink("/proc/thread-self/ns/net", &buffer, buffer.count - 1)
    guard n > 0 else { throw BerthError.sys("readlink /proc/thread-self/ns/net") }
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Real bridges, veth pairs and network namespaces. Every name is random (`bt…`), and everything
/// made is removed in a `defer`, so the tests run beside other users of the host's network.
@Suite("netlink on this host", .serialized, .enabled(if: getuid() == 0, "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"))
struct NetlinkLiveTests {
    @Test func bridgeVethNamespaceAddressesAndRoutes() throws {
        let base = randomLinkName()
        let bridge = base + "b", host = base + "h", peer = base + "p", ns = base + "n"
        let netlink = try Netlink.open()
        defer {
            try? netlink.deleteLink(host, ignoreMissing: true)
            try? netlink.deleteLink(bridge, ignoreMissing: true)
            _ = try? run(["ip", "netns", "del", ns])
        }

        // A bridge, with the MTU and MAC asked for.
        let mac: [UInt8] = [0x02, 0xB7, 0x00, 0x11, 0x22, 0x33]
        try netlink.createBridge(name: bridge, mtu: 1400, mac: mac)
        let shown = try #require(try ipJSON(["-d", "link", "show", "dev", bridge]).first)
        #expect(shown["mtu"] as? Int == 1400)
        #expect(shown["address"] as? String == "02:b7:00:11:22:33")
        #expect((shown["linkinfo"] as? [String: Any])?["info_kind"] as? String == "bridge")

        // Creating it twice names the operation and the object.
        do {
            try netlink.createBridge(name: bridge)
            Issue.record("created \(bridge) twice")
        } catch let e as BerthError {
            #expect(e.message == "create bridge \(bridge): File exists")
            #expect(e.code == .conflict)
        }

        // A veth pair, one end in the bridge.
        try netlink.createVeth(name: host, peer: peer, mtu: 1400)
        try netlink.setMaster(link: host, master: bridge)
        try netlink.setUp(link: host)
        try netlink.setUp(link: bridge)
        try netlink.setMAC(link: host, mac: [0x02, 0xB7, 0, 0, 0, 1])
        try netlink.addAddress(link: bridge, address: IPAddress("10.213.7.1")!, prefixLength: 24)

        let bridgeIndex = try #require(try netlink.linkIndex(bridge))
        let hostIndex = try #require(try netlink.linkIndex(host))
        #expect(try netlink.linkIndex(base + "x") == nil)
        let links = try netlink.links()
        let hostLink = try #require(links.first { $0.name == host })
        #expect(hostLink.index == hostIndex)
        #expect(hostLink.kind == "veth")
        #expect(hostLink.masterIndex == bridgeIndex)
        #expect(hostLink.isUp)
        #expect(hostLink.mtu == 1400)
        #expect(hostLink.macString == "02:b7:00:00:00:01")
        #expect(links.first { $0.name == bridge }?.kind == "bridge")
        #expect(links.first { $0.name == "lo" }?.kind == nil)

        // What `ip` says of the same links.
        for link in links where [bridge, host, peer, "lo"].contains(link.name) {
            let ip = try #require(try ipJSON(["-d", "link", "show", "dev", link.name]).first)
            #expect(ip["ifindex"] as? Int == Int(link.index))
            #expect(ip["mtu"] as? Int == Int(link.mtu))
            #expect(ip["address"] as? String == link.macString)
            #expect(((ip["flags"] as? [String]) ?? []).contains("UP") == link.isUp)
            #expect((ip["linkinfo"] as? [String: Any])?["info_kind"] as? String == link.kind)
            #expect(ip["master"] as? String == link.masterIndex.flatMap { m in links.first { $0.index == m }?.name })
        }

        // The peer goes into a fresh namespace.
        let added = try run(["ip", "netns", "add", ns])
        try #require(added.status == 0, "ip netns add: \(added.stderr)")
        let nsFD = try FD.open("/run/netns/\(ns)", O_RDONLY)
        defer { FD.close(nsFD) }
        try netlink.setNamespace(link: peer, fd: nsFD)
        #expect(try netlink.linkIndex(peer) == nil)
        #expect(try ipJSON(["-n", ns, "link", "show", "dev", peer]).count == 1)

        // Configure it from inside, through a socket opened there; the caller stays put.
        let before = try currentNetworkNamespace()
        let inside = try Netlink.open(inNamespaceOf: nsFD)
        #expect(try currentNetworkNamespace() == before)
        #expect(try inside.linkIndex(bridge) == nil)
        #expect(try inside.links().map(\.name).sorted() == ["lo", peer].sorted())

        try inside.rename(link: peer, to: "eth0")
        try inside.setMTU(link: "eth0", mtu: 1380)
        try inside.addAddress(link: "eth0", address: IPAddress("10.213.7.2")!, prefixLength: 24)
        try inside.addAddress(link: "eth0", address: IPAddress("fd00:b7::2")!, prefixLength: 64, noDAD: true)
        try inside.setUp(link: "lo")
        try inside.setUp(link: "eth0")
        try inside.addRoute(destination: nil, gateway: IPAddress("10.213.7.1"), link: "eth0")
        try inside.addRoute(destination: CIDR("10.214.0.0/16"), gateway: nil, link: "eth0", metric: 50)
        try inside.addRoute(destination: nil, gateway: IPAddress("fd00:b7::1"), link: "eth0")

        // Verified with `ip -n`.
        let eth0 = try #require(try ipJSON(["-n", ns, "addr", "show", "dev", "eth0"]).first)
        #expect(eth0["mtu"] as? Int == 1380)
        #expect(((eth0["flags"] as? [String]) ?? []).contains("UP"))
        let addrInfo = (eth0["addr_info"] as? [[String: Any]]) ?? []
        let addrs = Set(addrInfo.compactMap { a in (a["local"] as? String).map { "\($0)/\(a["prefixlen"] as? Int ?? -1)" } })
        #expect(addrs.isSuperset(of: ["10.213.7.2/24", "fd00:b7::2/64"]))
        #expect(addrInfo.first { $0["local"] as? String == "10.213.7.2" }?["broadcast"] as? String == "10.213.7.255")
        let routes4 = try ipJSON(["-n", ns, "-4", "route", "show", "table", "main"])
        #expect(routes4.contains { $0["dst"] as? String == "default" && $0["gateway"] as? String == "10.213.7.1" && $0["dev"] as? String == "eth0" })
        #expect(routes4.contains { $0["dst"] as? String == "10.214.0.0/16" && $0["metric"] as? Int == 50 && $0["scope"] as? String == "link" })
        let routes6 = try ipJSON(["-n", ns, "-6", "route", "show", "table", "main"])
        #expect(routes6.contains { $0["dst"] as? String == "default" && $0["gateway"] as? String == "fd00:b7::1" })

        // And with our own dumps.
        let eth0Index = try #require(try inside.linkIndex("eth0"))
        let ours = try inside.addresses(link: "eth0")
        #expect(ours.contains { $0.cidr == CIDR("10.213.7.2/24") && $0.broadcast == IPAddress("10.213.7.255") && $0.label == "eth0" })
        #expect(ours.contains { $0.cidr == CIDR("fd00:b7::2/64") })
        #expect(ours.allSatisfy { $0.linkIndex == eth0Index })
        #expect(try inside.addresses(link: "eth0", family: .v4).map(\.cidr) == [CIDR("10.213.7.2/24")])
        #expect(try inside.addresses(link: "lo", family: .v4).map(\.cidr) == [CIDR("127.0.0.1/8")])
        let insideRoutes = try inside.routes()
        #expect(insideRoutes.contains { $0.isDefault && $0.family == .v4 && $0.gateway == IPAddress("10.213.7.1") && $0.outputLinkIndex == eth0Index })
        #expect(insideRoutes.contains { $0.destination == CIDR("10.214.0.0/16") && $0.metric == 50 && $0.gateway == nil })
        #expect(insideRoutes.contains { $0.destination == CIDR("10.213.7.0/24") && $0.routeProtocol == 2 })  // the kernel's
        #expect(insideRoutes.contains { $0.isDefault && $0.family == .v6 && $0.gateway == IPAddress("fd00:b7::1") })
        #expect(insideRoutes.allSatisfy { $0.table == 254 })
        #expect(try inside.routes(family: .v6).allSatisfy { $0.family == .v6 })
        #expect(try inside.routes(table: 255).contains { $0.destination == CIDR("10.213.7.2/32") && $0.type == 2 })  // local

        // Traffic over the pair: the bridge answers a ping from the namespace.
        let hostBefore = try #require(try netlink.link(named: host)?.statistics)
        // Foundation's Process inherits the dispatch worker's blocked signals, so busybox ping never
        // sees its SIGALRM: one echo per run (no timer needed), bounded by SIGKILL.
        for _ in 0..<2 {
            let ping = try run(["timeout", "-s", "KILL", "10", "ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "10.213.7.1"])
            #expect(ping.status == 0, "ping: \(ping.stdout) \(ping.stderr)")
        }
        let hostAfter = try #require(try netlink.link(named: host)?.statistics)
        #expect(hostAfter.rxPackets >= hostBefore.rxPackets + 2)
        #expect(hostAfter.txPackets >= hostBefore.txPackets + 2)
        #expect(hostAfter.rxBytes > hostBefore.rxBytes)
        let eth0Stats = try #require(try inside.link(named: "eth0")?.statistics)
        #expect(eth0Stats.txPackets >= 2)
        let ipStats = try #require(try ipJSON(["-s", "link", "show", "dev", host]).first?["stats64"] as? [String: Any])
        let ipRx = try #require(ipStats["rx"] as? [String: Any])
        #expect(UInt64(ipRx["packets"] as? Int ?? 0) >= hostAfter.rxPackets)

        // Removal inside the namespace.
        try inside.deleteRoute(destination: CIDR("10.214.0.0/16"))
        try inside.deleteAddress(link: "eth0", address: IPAddress("fd00:b7::2")!, prefixLength: 64)
        #expect(try !inside.routes().contains { $0.destination == CIDR("10.214.0.0/16") })
        #expect(try inside.addresses(link: "eth0").map(\.cidr).contains(CIDR("fd00:b7::2/64")) == false)
        #expect(try !ipJSON(["-n", ns, "route", "show"]).contains { $0["dst"] as? String == "10.214.0.0/16" })
        do {
            try inside.deleteRoute(destination: CIDR("10.214.0.0/16"))
            Issue.record("deleted a missing route")
        } catch let e as BerthError {
            #expect(e.message == "delete route 10.214.0.0/16: No such process")
            #expect(e.code == .notFound)
        }

        // Deleting one end removes the pair; the namespace side goes with it.
        try netlink.deleteLink(host)
        #expect(try netlink.linkIndex(host) == nil)
        #expect(try inside.linkIndex("eth0") == nil)
        try netlink.deleteLink(host, ignoreMissing: true)
        do {
            try netlink.deleteLink(host)
            Issue.record("deleted a missing link")
        } catch let e as BerthError {
            #expect(e.code == .notFound)
            #expect(e.message == "delete link \(host): No such device")
        }
    }

    @Test func vethPeerCreatedDirectlyInANamespace() throws {
        let base = randomLinkName()
        let host = base + "h", ns = base + "n"
        let netlink = try Netlink.open()
        defer {
            try? netlink.deleteLink(host, ignoreMissing: true)
            _ = try? run(["ip", "netns", "del", ns])
        }
        let added = try run(["ip", "netns", "add", ns])
        try #require(added.status == 0, "ip netns add: \(added.stderr)")
        let nsFD = try FD.open("/run/netns/\(ns)", O_RDONLY)
        defer { FD.close(nsFD) }

        // "eth0" exists nowhere on the host side: the peer is born inside.
        try netlink.createVeth(name: host, peer: "eth0", peerNamespace: nsFD)
        let shown = try ipJSON(["-n", ns, "-d", "link", "show", "dev", "eth0"])
        #expect((shown.first?["linkinfo"] as? [String: Any])?["info_kind"] as? String == "veth")
        let hostLink = try #require(try netlink.link(named: host))
        #expect(hostLink.linkNetnsID != nil)

        let inside = try Netlink.open(inNamespaceAt: "/run/netns/\(ns)")
        let eth0 = try #require(try inside.link(named: "eth0"))
        #expect(eth0.linkIndex == hostLink.index || hostLink.linkIndex == eth0.index)
        try inside.addAddress(link: "eth0", try #require(CIDR("192.168.213.2/30")))
        #expect(try ipJSON(["-n", ns, "-4", "addr", "show", "dev", "eth0"]).first.flatMap {
            ($0["addr_info"] as? [[String: Any]])?.first?["local"] as? String
        } == "192.168.213.2")
    }

    @Test func errorsNameTheOperation() throws {
        let netlink = try Netlink.open()
        let missing = randomLinkName("m")
        for (body, message) in [
            ({ try netlink.setUp(link: missing) }, "set link \(missing) up: No such device"),
            ({ try netlink.setMTU(link: missing, mtu: 1500) }, "set mtu of \(missing) to 1500: No such device"),
            ({ try netlink.addAddress(link: missing, address: IPAddress("10.0.0.1")!, prefixLength: 8) },
             "add address 10.0.0.1/8 to \(missing): no such network interface \(missing)"),
            ({ try netlink.setMaster(link: "lo", master: missing) },
             "set master of lo to \(missing): no such network interface \(missing)"),
            ({ _ = try netlink.addresses(link: missing) }, "list addresses of \(missing): no such network interface \(missing)"),
        ] as [(() throws -> Void, String)] {
            do {
                try body()
                Issue.record("no error for: \(message)")
            } catch let e as BerthError {
                #expect(e.message == message)
                #expect(e.code == .notFound)
            }
        }
        #expect(throws: BerthError.self) { try Netlink.open(inNamespaceAt: "/nonexistent/ns/net") }
        // A descriptor that is not a namespace: setns fails on the helper thread, reported here.
        let notNamespace = try FD.open("/proc/self/stat", O_RDONLY)
        defer { FD.close(notNamespace) }
        do {
            _ = try Netlink.open(inNamespaceOf: notNamespace)
            Issue.record("opened a socket in a regular file")
        } catch let e as BerthError {
            #expect(e.message.hasPrefix("join network namespace fd \(notNamespace): "))
        }
    }

    @Test func hostRoutesMatchIP() throws {
        let netlink = try Netlink.open()
        func theirs() throws -> Set<String> {
            var keys: Set<String> = []
            for (flag, v6) in [("-4", false), ("-6", true)] {
                for r in try ipJSON([flag, "route", "show", "table", "main"]) {
                    guard let dst = r["dst"] as? String else { continue }
                    if dst == "default" { keys.insert(v6 ? "::/0" : "0.0.0.0/0") } else { keys.insert(dst.contains("/") ? dst : dst + (v6 ? "/128" : "/32")) }
                }
            }
            return keys
        }
        // Other users of the host may add or remove routes meanwhile: a few tries.
        var ours: Set<String> = [], ip: Set<String> = []
        for _ in 0..<5 {
            ours = Set(try netlink.routes().map { $0.destination.masked.description })
            ip = try theirs()
            if ours == ip { break }
            usleep(200_000)
        }
        #expect(ours == ip)
        #expect(try netlink.routes(family: .v4).allSatisfy { $0.family == .v4 && $0.table == 254 })
    }
}
