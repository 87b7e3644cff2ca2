import Foundation
import Testing

/// Bridge networks for real: veth pairs, the embedded DNS, isolation, published ports and the
/// nftables table, through the docker CLI and docker-py, probed from inside containers with
/// busybox (nc, ping, nslookup) and from the host with curl.
@Suite(.serialized)
struct NetworkTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// An HTTP GET over busybox nc from a container, printing the response.
    static func get(_ host: String, _ path: String = "/hostname") -> String {
        "printf 'GET \(path) HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \(host) 80"
    }

    /// The host's primary IPv4 address (the interface of the default route).
    static func hostAddress() throws -> String {
        let r = try runCommand(["ip", "-4", "-o", "route", "get", "192.0.2.1"])
        let words = r.stdout.split(separator: " ").map(String.init)
        guard let i = words.firstIndex(of: "src"), i + 1 < words.count else { throw DaemonError("no host address: \(r.stdout)") }
        return words[i + 1]
    }

    /// Interfaces enslaved to a bridge (`ip -o link show master BR`).
    static func ports(of bridge: String) throws -> [String] {
        try runCommand(["ip", "-o", "link", "show", "master", bridge]).stdout.split(separator: "\n").map(String.init)
    }

    static func linkExists(_ name: String) throws -> Bool {
        try runCommand(["ip", "link", "show", "dev", name]).status == 0
    }

    @Test func namesReachabilityAndIsolation() throws {
        try withImage { d in
            #expect(try d.docker("network", "create", "front").status == 0)
            #expect(try d.docker("network", "create", "back").status == 0)
            let bridge = trimmed(try d.docker("network", "inspect", "-f", "{{index .Options \"com.docker.network.bridge.name\"}}", "front").stdout)
            let frontBridge = bridge.isEmpty ? "br-" + String(trimmed(try d.docker("network", "inspect", "-f", "{{.Id}}", "front").stdout).prefix(12)) : bridge
            #expect(try Self.linkExists(frontBridge))
            #expect(try d.docker("run", "-d", "--name", "web", "--network", "front", "--network-alias", "www",
                                 "busybox:test", "httpd", "-f", "-p", "80", "-h", "/etc").status == 0)
            let webIP = trimmed(try d.docker("inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}}", "web").stdout)
            #expect(webIP.split(separator: ".").count == 4, "\(webIP)")

            // Same network: by name, alias and over TCP; ping too.
            let same = try d.docker("run", "--rm", "--network", "front", "busybox:test", "sh", "-c",
                                    "nslookup web && nslookup www && " + Self.get("web") + " && ping -c 1 -W 2 www")
            #expect(same.status == 0, "\(same.stdout) \(same.stderr)")
            #expect(same.stdout.contains("Address: \(webIP)"))
            #expect(same.stdout.contains("200 OK"))
            #expect(same.stdout.contains("1 packets received"))
            // resolv.conf points at the network's DNS server (its gateway); /etc/hosts has the container.
            let files = try d.docker("exec", "web", "sh", "-c", "cat /etc/resolv.conf /etc/hosts; ip -o addr show eth0")
            let gateway = trimmed(try d.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "front").stdout)
            #expect(files.stdout.contains("nameserver \(gateway)"), "\(files.stdout)")
            #expect(files.stdout.contains("\(webIP)\t"))

            // Another network: no name, no route through, by address either.
            let other = try d.docker("run", "--rm", "--network", "back", "busybox:test", "sh", "-c",
                                     "nslookup web; ping -c 1 -W 2 \(webIP); " + Self.get(webIP) + "; echo done")
            #expect(!other.stdout.contains("Address: \(webIP)"), "\(other.stdout)")
            #expect(other.stdout.contains("0 packets received"), "\(other.stdout)")
            #expect(!other.stdout.contains("200 OK"))

            // Connect live: the back container reaches web by name; disconnect: it cannot.
            #expect(try d.docker("run", "-d", "--name", "probe", "--network", "back", "busybox:test", "sleep", "60").status == 0)
            let connect = try d.docker("network", "connect", "front", "probe")
            #expect(connect.status == 0, "\(connect.stderr)")
            let joined = try d.docker("exec", "probe", "sh", "-c", "ip -o addr show eth1 && " + Self.get("web"))
            #expect(joined.stdout.contains("200 OK"), "\(joined.stdout) \(joined.stderr)")
            #expect(try d.docker("network", "disconnect", "front", "probe").status == 0)
            let left = try d.docker("exec", "probe", "sh", "-c", "ip -o link show eth1; ping -c 1 -W 2 \(webIP); echo done")
            #expect(left.stdout.contains("0 packets received"), "\(left.stdout)")
            #expect(!left.stdout.contains("eth1:"))

            // Removing a network in use fails and changes nothing.
            let busy = try d.docker("network", "rm", "front")
            #expect(busy.status != 0 && busy.stderr.contains("active endpoints"), "\(busy.stderr)")
            #expect(try Self.linkExists(frontBridge))

            // After the containers and networks go, nothing is left: no port on the bridge,
            // no bridge, no rule naming it, and the address is free again.
            #expect(try Self.ports(of: frontBridge).count == 1)
            #expect(try d.docker("rm", "-f", "web", "probe").status == 0)
            #expect(try Self.ports(of: frontBridge).isEmpty)
            #expect(try d.docker("run", "-d", "--name", "again", "--network", "front", "busybox:test", "sleep", "30").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.NetworkSettings.Networks.front.IPAddress}}", "again").stdout) == webIP)
            #expect(try d.docker("rm", "-f", "again").status == 0)
            #expect(try d.docker("network", "rm", "front", "back").status == 0)
            #expect(try !Self.linkExists(frontBridge))
            let table = try runCommand(["nft", "list", "table", "inet", d.firewallTable]).stdout
            #expect(!table.contains(frontBridge), "\(table)")
            let veths = try runCommand(["ip", "-o", "link", "show", "type", "veth"]).stdout
            #expect(!veths.contains("master \(d.bridge)") && !veths.contains("master \(frontBridge)"), "\(veths)")
        }
    }

    @Test func publishedPortsAndInternalNetworks() throws {
        try withImage { d in
            let run = try d.docker("run", "-d", "--name", "pub", "-p", "80", "-p", "127.0.0.1::80", "--expose", "81",
                                   "busybox:test", "httpd", "-f", "-p", "80", "-h", "/etc")
            #expect(run.status == 0, "\(run.stderr)")
            let ports = try d.docker("port", "pub", "80/tcp")
            let lines = ports.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(ports.stdout)")
            let any = try #require(lines.first { $0.hasPrefix("0.0.0.0:") }).split(separator: ":").last.map(String.init) ?? ""
            let local = try #require(lines.first { $0.hasPrefix("127.0.0.1:") }).split(separator: ":").last.map(String.init) ?? ""
            let name = String(trimmed(try d.docker("inspect", "-f", "{{.Id}}", "pub").stdout).prefix(12))
            for url in ["http://127.0.0.1:\(any)/hostname", "http://\(try Self.hostAddress()):\(any)/hostname",
                        "http://127.0.0.1:\(local)/hostname"] {
                let curl = try runCommand(["curl", "-s", "-m", "5", url])
                #expect(trimmed(curl.stdout) == name, "\(url): \(curl.stdout) \(curl.stderr)")
            }
            // The 127.0.0.1 mapping is not on the host's other addresses.
            #expect(try runCommand(["curl", "-s", "-m", "3", "http://\(try Self.hostAddress()):\(local)/"]).status != 0)
            // From another container through the host's address.
            let hostIP = try Self.hostAddress()
            let peer = try d.docker("run", "--rm", "busybox:test", "sh", "-c",
                                    "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \(hostIP) \(any)")
            #expect(peer.stdout.contains(name), "\(peer.stdout) \(peer.stderr)")
            #expect(try d.docker("ps", "--format", "{{.Ports}}").stdout.contains("->80/tcp"))

            // A port already bound: a clear error, the container not running, nothing held.
            let clash = try d.docker("run", "-d", "--name", "clash", "-p", "\(any):80", "busybox:test", "true")
            #expect(clash.status != 0 && clash.stderr.contains("port is already allocated"), "\(clash.stderr)")
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Running}}", "clash").stdout) == "false")

            // berthd killed and restarted: the mapping still serves, the address stays taken.
            d.crash()
            try d.start()
            let after = try runCommand(["curl", "-s", "-m", "5", "http://127.0.0.1:\(any)/hostname"])
            #expect(trimmed(after.stdout) == name, "\(after.stdout) \(after.stderr)")
            let pubIP = trimmed(try d.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "pub").stdout)
            let next = trimmed(try d.docker("run", "--rm", "busybox:test", "sh", "-c", "ip -o -4 addr show eth0").stdout)
            #expect(!next.contains(pubIP + "/"), "\(next) vs \(pubIP)")
            #expect(try d.docker("rm", "-f", "pub", "clash").status == 0)
            #expect(try runCommand(["curl", "-s", "-m", "3", "http://127.0.0.1:\(any)/"]).status != 0)
            let table = try runCommand(["nft", "list", "table", "inet", d.firewallTable]).stdout
            #expect(!table.contains("dnat ip to"), "\(table)")

            // --internal: no default route, nothing outside the subnet; a plain network reaches
            // the host.
            #expect(try d.docker("network", "create", "--internal", "--subnet", "10.213.77.0/24", "sealed").status == 0)
            let sealed = try d.docker("run", "--rm", "--network", "sealed", "busybox:test", "sh", "-c",
                                      "ip route; ping -c 1 -W 2 \(hostIP); echo done")
            #expect(!sealed.stdout.contains("default"), "\(sealed.stdout)")
            #expect(!sealed.stdout.contains("1 packets received"), "\(sealed.stdout)")
            let open = try d.docker("run", "--rm", "busybox:test", "sh", "-c", "ip route; ping -c 1 -W 2 \(hostIP)")
            #expect(open.stdout.contains("default via"), "\(open.stdout)")
            #expect(open.stdout.contains("1 packets received"), "\(open.stdout)")
        }
    }

    @Test func badInputAndDockerPy() throws {
        try withImage { d in
            #expect(try d.docker("network", "create", "--subnet", "10.213.60.0/24", "one").status == 0)
            let overlap = try d.docker("network", "create", "--subnet", "10.213.60.128/25", "two")
            #expect(overlap.status != 0 && overlap.stderr.contains("overlaps"), "\(overlap.stderr)")
            let bad = try d.docker("network", "create", "--subnet", "10.213.300.0/24", "three")
            #expect(bad.status != 0 && bad.stderr.lowercased().contains("invalid"), "\(bad.stderr)")
            let dup = try d.docker("network", "create", "one")
            #expect(dup.status != 0 && dup.stderr.contains("already exists"), "\(dup.stderr)")
            #expect(trimmed(try d.docker("network", "ls", "--format", "{{.Name}}").stdout).split(separator: "\n").sorted()
                    == ["bridge", "host", "none", "one"])
            let ip = try d.docker("run", "--rm", "--network", "one", "--ip", "10.213.60.77", "busybox:test", "ip", "-o", "-4", "addr", "show", "eth0")
            #expect(ip.stdout.contains("10.213.60.77/24"), "\(ip.stdout) \(ip.stderr)")

            let py = try d.python("""
            import docker
            c = docker.from_env()
            n = c.networks.create("pynet", driver="bridge", labels={"k": "v"})
            assert n.attrs["Labels"] == {"k": "v"}, n.attrs
            assert any(x.name == "pynet" for x in c.networks.list())
            box = c.containers.run("busybox:test", ["sleep", "30"], detach=True, name="pybox", ports={"80/tcp": None})
            n.connect(box, aliases=["pyalias"])
            box.reload()
            nets = box.attrs["NetworkSettings"]["Networks"]
            assert set(nets) == {"bridge", "pynet"}, nets
            assert nets["pynet"]["IPAddress"], nets
            assert "pyalias" in nets["pynet"]["Aliases"], nets
            assert box.ports["80/tcp"][0]["HostPort"], box.ports
            out = c.containers.run("busybox:test", ["nslookup", "pyalias"], network="pynet", remove=True).decode()
            assert nets["pynet"]["IPAddress"] in out, out
            n.disconnect(box)
            n.reload()
            assert not n.attrs.get("Containers"), n.attrs
            box.remove(force=True)
            n.remove()
            assert "one" in c.networks.prune()["NetworksDeleted"]
            print("ok")
            """)
            #expect(py.status == 0 && py.stdout.contains("ok"), "\(py.stdout) \(py.stderr)")
        }
    }

    @Test func berthNetworkCLI() throws {
        try withImage { d in
            let created = try d.berth("network", "create", "--subnet", "10.213.91.0/24", "--gateway", "10.213.91.254", "--label", "team=a", "clinet")
            #expect(created.status == 0 && trimmed(created.stdout).count == 64, "\(created.stdout) \(created.stderr)")
            let ls = try d.berth("network", "ls")
            #expect(ls.stdout.hasPrefix("NETWORK ID     NAME      DRIVER    SCOPE\n"), "\(ls.stdout)")
            #expect(ls.stdout.contains("   clinet    bridge    local"), "\(ls.stdout)")
            #expect(trimmed(try d.berth("network", "inspect", "-f", "{{.Name}} {{.Driver}}", "clinet").stdout) == "clinet bridge")
            #expect(try d.berth("run", "-d", "--name", "c1", "busybox:test", "sleep", "30").status == 0)
            #expect(try d.berth("network", "connect", "--alias", "svc", "--ip", "10.213.91.9", "clinet", "c1").status == 0)
            let addr = try d.docker("exec", "c1", "ip", "-o", "-4", "addr", "show", "eth1")
            #expect(addr.stdout.contains("10.213.91.9/24"), "\(addr.stdout)")
            let viaAlias = try d.docker("run", "--rm", "--network", "clinet", "busybox:test", "ping", "-c", "1", "-W", "2", "svc")
            #expect(viaAlias.stdout.contains("10.213.91.9"), "\(viaAlias.stdout)")
            let busy = try d.berth("network", "rm", "clinet")
            #expect(busy.status == 1 && busy.stderr.contains("active endpoints"), "\(busy.stderr)")
            #expect(try d.berth("network", "disconnect", "clinet", "c1").status == 0)
            let rm = try d.berth("network", "rm", "clinet", "nosuch")
            #expect(rm.status == 1 && trimmed(rm.stdout) == "clinet" && rm.stderr.contains("network nosuch not found"), "\(rm.stdout) \(rm.stderr)")
            #expect(try d.berth("network", "create", "spare").status == 0)
            let prune = try d.berth("network", "prune", "-f")
            #expect(prune.stdout == "Deleted Networks:\nspare\n", "\(prune.stdout)")
        }
    }

    @Test func ipv6Networks() throws {
        try withImage { d in
            let created = try d.docker("network", "create", "--ipv6", "--subnet", "fd00:b7:61::/64", "six")
            #expect(created.status == 0, "\(created.stderr)")
            #expect(trimmed(try d.docker("network", "inspect", "-f", "{{.EnableIPv6}} {{len .IPAM.Config}}", "six").stdout) == "true 2")
            #expect(try d.docker("run", "-d", "--name", "s1", "--network", "six", "busybox:test", "sleep", "60").status == 0)
            let v6 = trimmed(try d.docker("inspect", "-f", "{{.NetworkSettings.Networks.six.GlobalIPv6Address}} {{.NetworkSettings.Networks.six.IPv6Gateway}}", "s1").stdout)
            #expect(v6 == "fd00:b7:61::2 fd00:b7:61::1", "\(v6)")
            // By name over IPv6 (AAAA from the embedded DNS), and a fixed --ip6.
            let probe = try d.docker("run", "--rm", "--network", "six", "--ip6", "fd00:b7:61::99", "busybox:test", "sh", "-c",
                                     "ip -6 -o addr show eth0; ip -6 route; ping -6 -c 1 -W 2 s1; nslookup -type=AAAA s1")
            #expect(probe.stdout.contains("fd00:b7:61::99/64"), "\(probe.stdout) \(probe.stderr)")
            #expect(probe.stdout.contains("default via fd00:b7:61::1"), "\(probe.stdout)")
            #expect(probe.stdout.contains("1 packets received"), "\(probe.stdout)")
            #expect(probe.stdout.contains("Address: fd00:b7:61::2"), "\(probe.stdout)")
            // Overlap and a subnet without --ipv6 are refused; --ipv6 alone picks a ULA /64.
            let overlap = try d.docker("network", "create", "--ipv6", "--subnet", "fd00:b7:61::/80", "six2")
            #expect(overlap.status != 0 && overlap.stderr.contains("overlaps"), "\(overlap.stderr)")
            let noFlag = try d.docker("network", "create", "--subnet", "fd00:b7:62::/64", "six3")
            #expect(noFlag.status != 0 && noFlag.stderr.contains("--ipv6"), "\(noFlag.stderr)")
            #expect(try d.docker("network", "create", "--ipv6", "auto6").status == 0)
            let auto = try d.docker("network", "inspect", "-f", "{{json .IPAM.Config}}", "auto6").stdout
            #expect(auto.contains("\"Subnet\":\"fd") && auto.contains("::/64"), "\(auto)")
            // The address is given back: the next container gets ::2 again.
            #expect(try d.docker("rm", "-f", "s1").status == 0)
            let again = try d.docker("run", "--rm", "--network", "six", "busybox:test", "ip", "-6", "-o", "addr", "show", "eth0")
            #expect(again.stdout.contains("fd00:b7:61::2/64"), "\(again.stdout)")
        }
    }
}
