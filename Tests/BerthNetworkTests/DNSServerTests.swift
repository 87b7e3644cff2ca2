import BerthCore
import Glibc
import NIOCore
import Testing
@testable import BerthNetwork

/// The names the servers under test answer.
let testResolver = StaticDNSResolver(
    names: [
        "web": [.t("172.18.0.2")],
        "Web.My-Net.": [.t("172.18.0.2")],
        "db": [.t("172.18.0.3"), .t("172.18.0.4"), .t("fd00:18::3")],
        "v6only": [.t("fd00:18::9")],
        "many": (1...60).map { IPAddress.v4(IPv4Address(10, 99, 0, UInt8($0))) },
    ],
    reverse: [.t("172.18.0.2"): "web.my-net", .t("fd00:18::3"): "db.my-net"])

/// A started server on 127.0.0.1 (port picked by the kernel), stopped by `stop()`.
func startServer(
    resolver: any DNSResolver = testResolver, upstreams: [SocketAddress] = [],
    forwardTimeout: Duration = .seconds(2), maxUpstreamAttempts: Int = 3
) async throws -> (server: DNSServer, port: Int) {
    var options = DNSServer.Options()
    options.forwardTimeout = forwardTimeout
    options.maxUpstreamAttempts = maxUpstreamAttempts
    let server = DNSServer(resolver: resolver, upstreams: upstreams, options: options)
    do {
        let port = try await server.start(address: "127.0.0.1", port: 0)
        return (server, port)
    } catch {
        await server.stop()
        throw error
    }
}

func loopbackAddress(_ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: port) }

/// Runs blocking socket work off the cooperative pool (the server's event loops are separate).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await Task.detached { try body() }.value
}

@Suite("DNS server on 127.0.0.1", .serialized)
struct DNSServerTests {
    @Test func startBindsUDPAndTCPOnOnePortAndStopIsIdempotent() async throws {
        let (server, port) = try await startServer()
        #expect(port > 0)
        #expect(server.localAddress?.port == port)
        #expect(server.localAddress?.ipAddress == "127.0.0.1")
        // Started twice: a conflict, and the first listener keeps serving.
        do {
            try await server.start(address: "127.0.0.1", port: 0)
            Issue.record("started twice")
        } catch let e as BerthError {
            #expect(e.code == .conflict)
        }
        let answer = try await blocking { try udpExchange(.query(id: 1, name: .t("web"), type: .a), port: port) }
        #expect(answer.answers.count == 1)
        await server.stop()
        await server.stop()
        #expect(server.localAddress == nil)
        // The port is free again: a server can take it, over UDP and TCP. (Retried briefly: a
        // program spawned meanwhile by another test may hold inherited copies of the sockets,
        // see `childProcessesDoNotInheritTheServersSockets`.)
        let again = DNSServer(resolver: testResolver, upstreams: [])
        var rebound: Int?
        for _ in 0..<40 where rebound == nil {
            rebound = try? await again.start(address: "127.0.0.1", port: port)
            if rebound == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(rebound == port)
        await again.stop()
    }

    @Test func stopBeforeStartAndStartAfterStop() async throws {
        let server = DNSServer(resolver: testResolver, upstreams: [])
        await server.stop()
        do {
            try await server.start(address: "127.0.0.1", port: 0)
            Issue.record("a stopped server started")
        } catch let e as BerthError {
            #expect(e.code == .conflict)
        }
        #expect(server.localAddress == nil)
    }

    @Test func udpAQueryForAKnownNameGetsItsAddressWithTTL600() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        let answer = try await blocking { try udpExchange(.query(id: 0x4242, name: .t("web"), type: .a), port: port) }
        #expect(answer.id == 0x4242)
        #expect(answer.isResponse && answer.recursionDesired && answer.recursionAvailable)
        #expect(answer.responseCode == .noError)
        #expect(answer.questions == [DNSQuestion(name: .t("web"), type: .a)])
        #expect(answer.answers == [DNSResourceRecord(name: .t("web"), ttl: 600, data: .a(IPv4Address(172, 18, 0, 2)))])
        #expect(answer.authorities.isEmpty && answer.additionals.isEmpty)

        // Case-insensitive, with the name echoed as asked; a trailing dot in the table is ignored.
        let mixed = try await blocking { try udpExchange(.query(id: 7, name: .t("WEB.my-NET"), type: .a), port: port) }
        #expect(mixed.answers == [DNSResourceRecord(name: .t("WEB.my-NET"), ttl: 600, data: .a(IPv4Address(172, 18, 0, 2)))])
        await server.stop()
    }

    @Test func addressFamiliesAreAnsweredSeparately() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        // AAAA for a name with only IPv4: NOERROR, no answer.
        let empty = try await blocking { try udpExchange(.query(id: 11, name: .t("web"), type: .aaaa), port: port) }
        #expect(empty.responseCode == .noError && empty.isResponse && empty.id == 11)
        #expect(empty.answers.isEmpty)
        // A for a name with only IPv6: likewise.
        let none = try await blocking { try udpExchange(.query(id: 12, name: .t("v6only"), type: .a), port: port) }
        #expect(none.responseCode == .noError && none.answers.isEmpty)

        let a = try await blocking { try udpExchange(.query(id: 13, name: .t("db"), type: .a), port: port) }
        #expect(Set(a.answers.map(\.data)) == [.a(IPv4Address(172, 18, 0, 3)), .a(IPv4Address(172, 18, 0, 4))])
        let aaaa = try await blocking { try udpExchange(.query(id: 14, name: .t("db"), type: .aaaa), port: port) }
        #expect(aaaa.answers.map(\.data) == [.aaaa(IPv6Address("fd00:18::3")!)])
        #expect(aaaa.answers.allSatisfy { $0.ttl == 600 })
        let any = try await blocking { try udpExchange(.query(id: 15, name: .t("db"), type: .any), port: port) }
        #expect(any.answers.count == 3)
        // Another type for a name that is ours: NOERROR without records, not forwarded.
        let mx = try await blocking { try udpExchange(.query(id: 16, name: .t("db"), type: .mx), port: port) }
        #expect(mx.responseCode == .noError && mx.answers.isEmpty)
        await server.stop()
    }

    @Test func ptrQueriesAreAnswered() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        let v4 = DNSName(reverseOf: .t("172.18.0.2"))
        let answer = try await blocking { try udpExchange(.query(id: 21, name: v4, type: .ptr), port: port) }
        #expect(answer.responseCode == .noError)
        #expect(answer.answers == [DNSResourceRecord(name: v4, ttl: 600, data: .ptr(.t("web.my-net")))])
        let v6 = DNSName(reverseOf: .t("fd00:18::3"))
        let answer6 = try await blocking { try tcpExchange(.query(id: 22, name: v6, type: .ptr), port: port) }
        #expect(answer6.answers.map(\.data) == [.ptr(.t("db.my-net"))])
        await server.stop()
    }

    @Test func tcpQueriesWithLengthPrefix() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        let a = try await blocking { try tcpExchange(.query(id: 31, name: .t("web"), type: .a), port: port) }
        #expect(a.id == 31 && a.responseCode == .noError)
        #expect(a.answers == [DNSResourceRecord(name: .t("web"), ttl: 600, data: .a(IPv4Address(172, 18, 0, 2)))])
        let empty = try await blocking { try tcpExchange(.query(id: 32, name: .t("web"), type: .aaaa), port: port) }
        #expect(empty.responseCode == .noError && empty.answers.isEmpty)

        // Two queries pipelined on one connection, the first split across writes, with a
        // zero-length frame between them (skipped): two answers.
        let answers = try await blocking { () -> [DNSMessage] in
            let s = try TestSocket(udp: false)
            defer { s.close() }
            try s.connectLoopback(port: UInt16(port))
            let q1 = try DNSMessage.query(id: 33, name: .t("web"), type: .a).encoded()
            let q2 = try DNSMessage.query(id: 34, name: .t("db"), type: .aaaa).encoded()
            let stream = be16(q1.count) + q1 + [0, 0] + be16(q2.count) + q2
            try s.sendAll(Array(stream.prefix(5)))
            try s.sendAll(Array(stream.dropFirst(5)))
            var out: [DNSMessage] = []
            for _ in 0..<2 {
                let prefix = try s.receiveExactly(2)
                out.append(try DNSMessage(decoding: s.receiveExactly(Int(prefix[0]) << 8 | Int(prefix[1]))))
            }
            return out
        }
        #expect(Set(answers.map(\.id)) == [33, 34])
        #expect(answers.first { $0.id == 34 }?.answers.map(\.data) == [.aaaa(IPv6Address("fd00:18::3")!)])
        await server.stop()
    }

    @Test func malformedAndUnsupportedQueries() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        // A header announcing a question that is not there: FORMERR with the same ID.
        let formerr = try await blocking { try udpExchange(raw: header(id: 0x0BAD, flags: 0x0100, qd: 1), port: port) }
        let decoded = try DNSMessage(decoding: formerr)
        #expect(decoded.id == 0x0BAD && decoded.isResponse && decoded.responseCode == .formatError)
        // Two questions: FORMERR.
        var two = DNSMessage.query(id: 41, name: .t("web"), type: .a)
        two.questions.append(DNSQuestion(name: .t("db"), type: .a))
        let twoQuestions = two
        let twoAnswer = try await blocking { try udpExchange(twoQuestions, port: port) }
        #expect(twoAnswer.responseCode == .formatError && twoAnswer.answers.isEmpty)
        // A NOTIFY: not implemented.
        var notify = DNSMessage.query(id: 42, name: .t("web"), type: .soa)
        notify.opcode = .notify
        let notifyQuery = notify
        let notimp = try await blocking { try udpExchange(notifyQuery, port: port) }
        #expect(notimp.responseCode == .notImplemented && notimp.opcode == .notify)
        // The server still answers afterwards.
        let ok = try await blocking { try udpExchange(.query(id: 43, name: .t("web"), type: .a), port: port) }
        #expect(ok.answers.count == 1)
        await server.stop()
    }

    @Test func bigUDPAnswersAreTruncatedAndTCPCarriesThemWhole() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        let (raw, udp) = try await blocking { () -> ([UInt8], DNSMessage) in
            let raw = try udpExchange(raw: DNSMessage.query(id: 51, name: .t("many"), type: .a).encoded(), port: port)
            return (raw, try DNSMessage(decoding: raw))
        }
        #expect(raw.count <= 512)
        #expect(udp.isTruncated)
        // 12 + 10 (question) + 30 × 16 (compressed A records) = 502 bytes.
        #expect(udp.answers.count == 30)
        let tcp = try await blocking { try tcpExchange(.query(id: 52, name: .t("many"), type: .a), port: port) }
        #expect(!tcp.isTruncated)
        #expect(tcp.answers.count == 60)
        await server.stop()
    }

    /// RFC 6891 §6.2.5 and the server's own `udpLimit(for:)`: a query's EDNS payload size raises
    /// the UDP limit above 512 bytes.
    @Test func ednsPayloadSizeRaisesTheUDPLimitForLocalAnswers() async throws {
        let (server, port) = try await startServer()
        defer { Task { await server.stop() } }
        var query = DNSMessage.query(id: 53, name: .t("many"), type: .a)
        query.additionals = [DNSResourceRecord(name: .root, recordClass: DNSClass(rawValue: 4096), ttl: 0, data: .raw(type: .opt, bytes: []))]
        #expect(DNSServer.udpLimit(for: query, defaultLimit: 512) == 4096)
        let ednsQuery = query
        let answer = try await blocking { try udpExchange(ednsQuery, port: port) }
        #expect(!answer.isTruncated)
        #expect(answer.answers.count == 60)
        await server.stop()
    }

    // MARK: - Forwarding

    @Test func unknownNamesAreForwardedToAnUpstreamServer() async throws {
        let upstreamResolver = StaticDNSResolver(names: ["external.example": [.t("198.51.100.7")]],
                                                 reverse: [.t("198.51.100.7"): "external.example"])
        let (upstream, upstreamPort) = try await startServer(resolver: upstreamResolver)
        defer { Task { await upstream.stop() } }
        let (server, port) = try await startServer(upstreams: [try loopbackAddress(upstreamPort)])
        defer { Task { await server.stop() } }
        #expect(server.upstreams == [try loopbackAddress(upstreamPort)])

        // Over UDP: relayed with the client's ID.
        let udp = try await blocking { try udpExchange(.query(id: 0xC11E, name: .t("external.example"), type: .a), port: port) }
        #expect(udp.id == 0xC11E && udp.isResponse)
        // Over TCP.
        let tcp = try await blocking { try tcpExchange(.query(id: 0xC12E, name: .t("external.example"), type: .a), port: port) }
        #expect(tcp.id == 0xC12E && tcp.isResponse)
        // A PTR the local resolver does not know.
        let ptr = try await blocking {
            try udpExchange(.query(id: 0xC13E, name: DNSName(reverseOf: .t("198.51.100.7")), type: .ptr), port: port)
        }
        #expect(ptr.id == 0xC13E && ptr.isResponse)
        #expect(udp.responseCode == .noError)
        #expect(udp.answers == [DNSResourceRecord(name: .t("external.example"), ttl: 600, data: .a(IPv4Address(198, 51, 100, 7)))])
        #expect(tcp.answers.map(\.data) == [.a(IPv4Address(198, 51, 100, 7))])
        #expect(ptr.answers.map(\.data) == [.ptr(.t("external.example"))])
        // Local names are still answered locally.
        let local = try await blocking { try udpExchange(.query(id: 0xC14E, name: .t("web"), type: .a), port: port) }
        #expect(local.answers.map(\.data) == [.a(IPv4Address(172, 18, 0, 2))])
        // A name neither knows: the upstream (which has no upstream) says SERVFAIL, so the
        // forwarder answers SERVFAIL itself.
        let unknown = try await blocking { try udpExchange(.query(id: 0xC15E, name: .t("nowhere.example"), type: .a), port: port) }
        #expect(unknown.id == 0xC15E && unknown.responseCode == .serverFailure)

        await server.stop()
        await upstream.stop()
    }

    @Test func forwardedAnswersAreRelayedByteForByteAndStrayDatagramsIgnored() async throws {
        let fake = try TestSocket(udp: true)
        defer { fake.close() }
        let fakePort = try fake.bindLoopback()
        let (server, port) = try await startServer(upstreams: [try loopbackAddress(Int(fakePort))])
        defer { Task { await server.stop() } }

        let (forwardedQuery, relayed, sent) = try await blocking { () -> (DNSMessage, [UInt8], [UInt8]) in
            let client = try TestSocket(udp: true)
            defer { client.close() }
            let query = DNSMessage.query(id: 0x7777, name: .t("Elsewhere.Example"), type: .txt)
            try client.sendTo(port: UInt16(port), query.encoded())
            // The fake upstream receives the forwarded query from a fresh socket.
            let (bytes, serverPort) = try fake.receive()
            let forwarded = try DNSMessage(decoding: bytes)
            // Stray datagrams first: a wrong ID, and a query (not a response) with the right ID.
            var wrong = forwarded.reply()
            wrong.id = forwarded.id &+ 1
            try fake.sendTo(port: serverPort, wrong.encoded())
            try fake.sendTo(port: serverPort, forwarded.encoded())
            // Then the real answer, with an authority record the server must relay untouched.
            var answer = forwarded.reply()
            answer.recursionAvailable = true
            answer.answers = [DNSResourceRecord(name: forwarded.questions[0].name, ttl: 42,
                                                data: .raw(type: .txt, bytes: [2, 0x68, 0x69]))]
            answer.authorities = [DNSResourceRecord(name: .t("example"), ttl: 5, data: .ns(.t("ns.example")))]
            let answerBytes = try answer.encoded()
            try fake.sendTo(port: serverPort, answerBytes)
            return (forwarded, try client.receive().bytes, answerBytes)
        }
        #expect(forwardedQuery.questions == [DNSQuestion(name: .t("Elsewhere.Example"), type: .txt)])
        #expect(forwardedQuery.recursionDesired && !forwardedQuery.isResponse)
        // Relayed as it came, only the ID put back to the client's.
        #expect(Array(relayed[0..<2]) == [0x77, 0x77])
        #expect(Array(relayed[2...]) == Array(sent[2...]))
        await server.stop()
    }

    @Test func refusedAndSilentUpstreamsAreSkipped() async throws {
        let refusing = try TestSocket(udp: true)
        defer { refusing.close() }
        let silent = try TestSocket(udp: true)
        defer { silent.close() }
        let refusingPort = try refusing.bindLoopback(), silentPort = try silent.bindLoopback()
        let upstreamResolver = StaticDNSResolver(names: ["external.example": [.t("198.51.100.9")]])
        let (good, goodPort) = try await startServer(resolver: upstreamResolver)
        defer { Task { await good.stop() } }
        let (server, port) = try await startServer(
            upstreams: [try loopbackAddress(Int(silentPort)), try loopbackAddress(Int(refusingPort)), try loopbackAddress(goodPort)],
            forwardTimeout: .milliseconds(300))
        defer { Task { await server.stop() } }

        let answer = try await blocking { () -> DNSMessage in
            let client = try TestSocket(udp: true)
            defer { client.close() }
            try client.sendTo(port: UInt16(port), DNSMessage.query(id: 0x5151, name: .t("external.example"), type: .a).encoded())
            // The silent one gets the query first and never answers (the attempt times out).
            _ = try silent.receive()
            // The refusing one answers REFUSED.
            let (bytes, from) = try refusing.receive()
            try refusing.sendTo(port: from, DNSMessage(decoding: bytes).reply(code: .refused).encoded())
            return try DNSMessage(decoding: client.receive().bytes)
        }
        #expect(answer.id == 0x5151 && answer.isResponse)
        #expect(answer.responseCode == .noError)
        #expect(answer.answers.map(\.data) == [.a(IPv4Address(198, 51, 100, 9))])
        await server.stop()
        await good.stop()
    }

    @Test func noReachableUpstreamMeansSERVFAIL() async throws {
        // No upstream at all.
        let (alone, alonePort) = try await startServer(upstreams: [])
        defer { Task { await alone.stop() } }
        let a = try await blocking { try udpExchange(.query(id: 0x6161, name: .t("external.example"), type: .a), port: alonePort) }
        #expect(a.id == 0x6161 && a.isResponse && a.responseCode == .serverFailure)
        #expect(a.questions == [DNSQuestion(name: .t("external.example"), type: .a)] && a.answers.isEmpty)
        let t = try await blocking { try tcpExchange(.query(id: 0x6162, name: .t("external.example"), type: .a), port: alonePort) }
        #expect(t.id == 0x6162 && t.responseCode == .serverFailure)
        await alone.stop()

        // An upstream that never answers (UDP) and a closed port (TCP connect refused).
        let silent = try TestSocket(udp: true)
        defer { silent.close() }
        let silentPort = try silent.bindLoopback()
        let (server, port) = try await startServer(upstreams: [try loopbackAddress(Int(silentPort))],
                                                   forwardTimeout: .milliseconds(300))
        defer { Task { await server.stop() } }
        let started = ContinuousClock.now
        let s = try await blocking { try udpExchange(.query(id: 0x6163, name: .t("external.example"), type: .aaaa), port: port) }
        #expect(s.id == 0x6163 && s.responseCode == .serverFailure)
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        // Over TCP the same upstream port has no listener: connection refused, SERVFAIL.
        let st = try await blocking { try tcpExchange(.query(id: 0x6164, name: .t("external.example"), type: .a), port: port) }
        #expect(st.id == 0x6164 && st.responseCode == .serverFailure)
        await server.stop()
    }

    @Test func aServerNeverForwardsToItself() async throws {
        let server = DNSServer(resolver: testResolver, upstreams: [])
        let port = try await server.start(address: "127.0.0.1", port: 0)
        defer { Task { await server.stop() } }
        server.setUpstreams([try loopbackAddress(port)])
        let answer = try await blocking { try udpExchange(.query(id: 0x7171, name: .t("loop.example"), type: .a), port: port) }
        #expect(answer.id == 0x7171 && answer.responseCode == .serverFailure)
        await server.stop()
    }
}

/// The inodes of the sockets this process has open (from /proc/self/fd).
func openSocketInodes(_ procFD: String = "/proc/self/fd") -> Set<String> {
    var out = Set<String>()
    guard let dir = opendir(procFD) else { return out }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard !name.hasPrefix(".") else { continue }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink("\(procFD)/\(name)", &buffer, buffer.count - 1)
        guard n > 0 else { continue }
        let target = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("socket:") { out.insert(target) }
    }
    return out
}

@Suite("DNS server sockets and child processes")
struct DNSServerInheritanceTests {
    /// The firewall runs nft and iptables from the daemon that also runs the DNS servers. The
    /// programs must not inherit the servers' sockets, or a stopped server's port stays taken
    /// while one runs (and the programs can read or answer its queries).
    @Test func childProcessesDoNotInheritTheServersSockets() async throws {
        let before = openSocketInodes()
        let (server, _) = try await startServer()
        defer { Task { await server.stop() } }
        let servers = openSocketInodes().subtracting(before)
        #expect(servers.count >= 2)  // UDP and TCP listeners
        let listing = try FirewallCommands(namespace: nil).run("ls", ["-l", "/proc/self/fd/"])
        #expect(listing.succeeded)
        let inherited = servers.filter { listing.stdout.contains($0) }
        #expect(inherited.isEmpty, "\(listing.stdout)")
        await server.stop()
    }
}

@Suite("DNS server decisions")
struct DNSServerDecisionTests {
    func decide(_ message: DNSMessage) throws -> DNSServer.Decision {
        DNSServer.decide(try message.encoded(), client: .t("172.18.0.9"), resolver: testResolver, ttl: 600)
    }

    @Test func responsesAndShortMessagesAreDropped() throws {
        #expect(DNSServer.decide([1, 2, 3], client: nil, resolver: testResolver, ttl: 600) == .drop)
        var response = DNSMessage.query(id: 1, name: .t("web"), type: .a)
        response.isResponse = true
        #expect(try decide(response) == .drop)
        // An undecodable response is dropped too (never answer an answer).
        #expect(DNSServer.decide(header(flags: 0x8000, qd: 1), client: nil, resolver: testResolver, ttl: 600) == .drop)
    }

    @Test func unclaimedNamesAndOtherClassesAreForwarded() throws {
        let unknown = DNSMessage.query(id: 2, name: .t("example.com"), type: .a)
        #expect(try decide(unknown) == .forward(unknown))
        var chaos = DNSMessage.query(id: 3, name: .t("web"), type: .txt)
        chaos.questions[0].recordClass = .chaos
        #expect(try decide(chaos) == .forward(chaos))
        let ptr = DNSMessage.query(id: 4, name: DNSName(reverseOf: .t("172.18.0.200")), type: .ptr)
        #expect(try decide(ptr) == .forward(ptr))
        // A partial reverse name is not an address: forwarded.
        let partial = DNSMessage.query(id: 5, name: .t("18.172.in-addr.arpa"), type: .ptr)
        #expect(try decide(partial) == .forward(partial))
    }

    @Test func theResolverSeesTheClientAndNormalizedName() throws {
        let seen = SeenNames()
        let resolver = ClosureDNSResolver(addresses: { name, client in
            seen.add("\(name) from \(client.map { "\($0)" } ?? "nil")")
            return name == "web.my-net" ? [.t("172.18.0.2")] : nil
        })
        let decision = DNSServer.decide(try DNSMessage.query(id: 6, name: .t("WEB.My-Net."), type: .a).encoded(),
                                        client: .t("172.18.0.9"), resolver: resolver, ttl: 30)
        guard case .reply(let answer) = decision else {
            Issue.record("expected a reply, got \(decision)")
            return
        }
        #expect(answer.answers.map(\.ttl) == [30])
        #expect(seen.names == ["web.my-net from 172.18.0.9"])
    }
}

final class SeenNames: @unchecked Sendable {
    private var list: [String] = []
    func add(_ s: String) { list.append(s) }
    var names: [String] { list }
}
