import BerthCore
import Testing
@testable import BerthNetwork

/// A message with every record type the codec knows, names sharing suffixes so compression has
/// work to do, and an EDNS OPT record.
func sampleAnswer(id: UInt16 = 0xABCD) -> DNSMessage {
    let www = DNSName.t("www.example.com")
    let web = DNSName.t("web.example.com")
    let cookie: [UInt8] = [0x00, 0x0A, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]  // option 10 (COOKIE), 8 bytes
    return DNSMessage(
        id: id, isResponse: true, isAuthoritative: true, recursionDesired: true, recursionAvailable: true,
        authenticData: true, responseCode: .noError,
        questions: [DNSQuestion(name: www, type: .any)],
        answers: [
            DNSResourceRecord(name: www, ttl: 600, data: .cname(web)),
            DNSResourceRecord(name: web, ttl: 600, data: .a(IPv4Address(192, 0, 2, 1))),
            DNSResourceRecord(name: web, ttl: 60, data: .aaaa(IPv6Address("2001:db8::1")!)),
            DNSResourceRecord(name: .t("1.2.0.192.in-addr.arpa"), ttl: 30, data: .ptr(web)),
            DNSResourceRecord(name: www, ttl: 1, data: .raw(type: .txt, bytes: [5] + Array("hello".utf8) + [5] + Array("world".utf8))),
            DNSResourceRecord(name: .t("example.com"), ttl: 3600, data: .mx(preference: 10, exchange: .t("mail.example.com"))),
        ],
        authorities: [
            DNSResourceRecord(name: .t("example.com"), ttl: 3600, data: .ns(.t("ns1.example.com"))),
            DNSResourceRecord(name: .t("example.com"), ttl: 3600, data: .soa(DNSStartOfAuthority(
                primary: .t("ns1.example.com"), mailbox: .t("hostmaster.example.com"),
                serial: 2024_01_01_01, refresh: 7200, retry: 900, expire: 1_209_600, minimum: 300))),
        ],
        additionals: [
            // OPT: owner root, class = UDP payload size, TTL = extended RCODE, version, DO bit.
            DNSResourceRecord(name: .root, recordClass: DNSClass(rawValue: 4096), ttl: 0x0000_8000,
                              data: .raw(type: .opt, bytes: cookie)),
        ])
}

@Suite("DNS wire codec")
struct DNSWireTests {
    @Test func queryEncodesToTheExpectedBytesAndBack() throws {
        let query = DNSMessage.query(id: 0x1234, name: .t("www.example.com"), type: .a)
        let bytes = try query.encoded()
        #expect(bytes == header(id: 0x1234, flags: 0x0100, qd: 1) + wireName("www.example.com") + [0, 1, 0, 1])
        let decoded = try DNSMessage(decoding: bytes)
        #expect(decoded == query)
        #expect(decoded.recursionDesired)
        #expect(!decoded.isResponse)
        #expect(decoded.questions.first?.name.description == "www.example.com.")
        #expect(decoded.questions.first?.recordClass == .internet)
    }

    @Test func everyRecordTypeRoundTrips() throws {
        let message = sampleAnswer()
        for compress in [true, false] {
            let bytes = try message.encoded(compress: compress)
            let decoded = try DNSMessage(decoding: bytes)
            #expect(decoded == message, "compress: \(compress)")
            // Decoding what was written and writing it again gives the same bytes.
            #expect(try decoded.encoded(compress: compress) == bytes)
        }
        let decoded = try DNSMessage(decoding: message.encoded())
        #expect(decoded.ednsRecord?.recordClass.rawValue == 4096)
        #expect(decoded.ednsRecord?.ttl == 0x8000)
        #expect(decoded.answers.map(\.type) == [.cname, .a, .aaaa, .ptr, .txt, .mx])
        #expect(decoded.authorities.map(\.type) == [.ns, .soa])
        guard case .soa(let soa) = decoded.authorities[1].data else {
            Issue.record("SOA decoded as \(decoded.authorities[1].data)")
            return
        }
        #expect(soa.mailbox == .t("hostmaster.example.com"))
        #expect(soa.serial == 2024_01_01_01 && soa.refresh == 7200 && soa.retry == 900)
        #expect(soa.expire == 1_209_600 && soa.minimum == 300)
    }

    @Test func headerFlagsRoundTripBitForBit() throws {
        for flags in [0x0000, 0xFFFF, 0x8180, 0x8583, 0x2800, 0x0040, 0x0030] {
            var m = DNSMessage(id: 7)
            m.flags = UInt16(flags)
            #expect(m.flags == UInt16(flags))
            let bytes = try m.encoded()
            #expect(Array(bytes[2..<4]) == be16(flags))
            #expect(try DNSMessage(decoding: bytes).flags == UInt16(flags))
        }
        var m = DNSMessage(id: 1)
        m.flags = 0x8783  // QR, opcode 0, AA, TC, RD, RA, RCODE 3
        #expect(m.isResponse && m.isAuthoritative && m.isTruncated && m.recursionDesired && m.recursionAvailable)
        #expect(m.responseCode == .nameError && m.opcode == .query && !m.reservedBit)
        m.flags = 0x2800  // opcode 5 (UPDATE)
        #expect(m.opcode == .update)
    }

    @Test func compressionWritesPointersToEarlierSuffixes() throws {
        let www = DNSName.t("www.example.com"), web = DNSName.t("web.example.com")
        let message = DNSMessage(
            id: 0xABCD, isResponse: true, recursionDesired: true, recursionAvailable: true,
            questions: [DNSQuestion(name: www, type: .a)],
            answers: [
                DNSResourceRecord(name: www, ttl: 600, data: .cname(web)),
                DNSResourceRecord(name: web, ttl: 600, data: .a(IPv4Address(198, 51, 100, 1))),
            ])
        let expected: [UInt8] = header(id: 0xABCD, flags: 0x8180, qd: 1, an: 2)
            + wireName("www.example.com") + [0, 1, 0, 1]           // question at 12..32
            + [0xC0, 12] + [0, 5, 0, 1, 0, 0, 2, 0x58] + [0, 6]     // owner → 12; CNAME, TTL 600
            + [3] + Array("web".utf8) + [0xC0, 16]                  // web + → "example.com" at 16 (starts at 45)
            + [0xC0, 45] + [0, 1, 0, 1, 0, 0, 2, 0x58] + [0, 4, 198, 51, 100, 1]
        let bytes = try message.encoded()
        #expect(bytes == expected)
        #expect(try DNSMessage(decoding: bytes) == message)

        let plain = try message.encoded(compress: false)
        #expect(plain.count == 12 + 21 + (17 + 10 + 17) + (17 + 10 + 4))
        #expect(!plain.contains(0xC0))
        #expect(try DNSMessage(decoding: plain) == message)
    }

    @Test func compressionIsCaseSensitiveSoBytesSurvive() throws {
        let upper = DNSName.t("WWW.Example.COM"), lower = DNSName.t("www.example.com")
        let message = DNSMessage(id: 1, isResponse: true, questions: [DNSQuestion(name: upper, type: .a)],
                                 answers: [DNSResourceRecord(name: lower, ttl: 5, data: .a(.loopback))])
        let decoded = try DNSMessage(decoding: message.encoded())
        #expect(decoded.questions[0].name == upper)
        #expect(decoded.answers[0].name == lower)
        #expect(decoded.questions[0].name.isEquivalent(to: decoded.answers[0].name))
        #expect(decoded.questions[0].name.lowercased() == lower)
    }

    @Test func decodesHandWrittenPointersIntoTheMiddleOfNames() throws {
        // Question "a.example.com"; the answer's owner is "b" + a pointer to "example.com" (14),
        // its CNAME data a bare pointer to "com" (22), the second answer's owner a pointer to
        // the first answer's owner (which itself ends in a pointer).
        var bytes = header(id: 9, flags: 0x8000, qd: 1, an: 2) + wireName("a.example.com") + [0, 1, 0, 1]
        let firstOwner = bytes.count
        bytes += [1, UInt8(ascii: "b"), 0xC0, 14] + [0, 5, 0, 1, 0, 0, 0, 9, 0, 2, 0xC0, 22]
        bytes += [0xC0, UInt8(firstOwner)] + [0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 1, 2, 3]
        let m = try DNSMessage(decoding: bytes)
        #expect(m.questions[0].name == .t("a.example.com"))
        #expect(m.answers[0].name == .t("b.example.com"))
        #expect(m.answers[0].data == .cname(.t("com")))
        #expect(m.answers[1].name == .t("b.example.com"))
        #expect(m.answers[1].data == .a(IPv4Address(10, 1, 2, 3)))
    }

    @Test func longestLegalNameAndLabelDecode() throws {
        let label63 = [UInt8](repeating: UInt8(ascii: "x"), count: 63)
        let label61 = [UInt8](repeating: UInt8(ascii: "y"), count: 61)
        let name = try DNSName(labels: [label63, label63, label63, label61])
        #expect(name.wireLength == 255)
        let query = DNSMessage.query(id: 3, name: name, type: .a)
        #expect(try DNSMessage(decoding: query.encoded()) == query)
    }

    @Test func rootNameAndEmptyMessage() throws {
        let empty = DNSMessage(id: 0)
        #expect(try empty.encoded() == header(id: 0, flags: 0))
        #expect(try DNSMessage(decoding: header(id: 0, flags: 0)) == empty)
        let q = DNSMessage.query(id: 2, name: .root, type: .ns)
        let bytes = try q.encoded()
        #expect(bytes.count == 12 + 5)
        #expect(try DNSMessage(decoding: bytes).questions[0].name.isRoot)
    }

    @Test func trailingBytesAreIgnored() throws {
        let query = DNSMessage.query(id: 5, name: .t("web"), type: .a)
        #expect(try DNSMessage(decoding: query.encoded() + [1, 2, 3, 0xC0]) == query)
    }

    @Test func unknownTypesKeepTheirDataRaw() throws {
        let srv: [UInt8] = [0, 1, 0, 2, 0x1F, 0x90] + wireName("target.example")
        let record = DNSResourceRecord(name: .t("_x._tcp.example"), recordClass: .chaos, ttl: 0xFFFF_FFFF,
                                       data: .raw(type: .srv, bytes: srv))
        let weird = DNSResourceRecord(name: .t("example"), ttl: 0, data: .raw(type: DNSType(rawValue: 65280), bytes: []))
        let m = DNSMessage(id: 4, isResponse: true, answers: [record, weird])
        let decoded = try DNSMessage(decoding: m.encoded())
        #expect(decoded == m)
        #expect(decoded.answers[0].recordClass == .chaos && decoded.answers[0].ttl == .max)
        #expect(decoded.answers[1].type.description == "TYPE65280")
    }

    // MARK: - Malformed input

    @Test func truncatedHeaderThrows() {
        for n in 0..<12 {
            let e = expectBerthError(.corrupt) { try DNSMessage(decoding: Array(header(qd: 0).prefix(n))) }
            #expect(e?.message.hasPrefix("malformed dns message") == true)
        }
        expectBerthError(.corrupt) { try DNSMessage.decodeHead([0x12, 0x34, 0x01]) }
    }

    @Test func labelTypesAbove63AreRejected() {
        // A length byte of 64 (0x40), 0x80 (extended label types) and 0x7F.
        for length: UInt8 in [64, 0x7F, 0x80, 0xBF] {
            let bytes = header(qd: 1) + [length] + [UInt8](repeating: 0x61, count: Int(length & 0x3F) + 8) + [0, 0, 1, 0, 1]
            let e = expectBerthError(.corrupt) { try DNSMessage(decoding: bytes) }
            #expect(e?.message.contains("label type") == true, "\(String(describing: e))")
        }
        // Building such a label is refused too.
        expectBerthError(.invalidArgument) { try DNSName(labels: [[UInt8](repeating: 0x61, count: 64)]) }
        expectBerthError(.invalidArgument) { try DNSName(String(repeating: "a", count: 64) + ".com") }
        expectBerthError(.invalidArgument) { try DNSName(labels: [[]]) }
    }

    @Test func namesOver255BytesAreRejected() {
        let label63 = [63] + [UInt8](repeating: 0x61, count: 63)
        // 4 × 64 + 1 = 257 bytes.
        let long = header(qd: 1) + label63 + label63 + label63 + label63 + [0, 0, 1, 0, 1]
        let e = expectBerthError(.corrupt) { try DNSMessage(decoding: long) }
        #expect(e?.message.contains("longer than 255") == true)
        // 256 bytes: three 63-byte labels and one of 62.
        let label62 = [62] + [UInt8](repeating: 0x62, count: 62)
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1) + label63 + label63 + label63 + label62 + [0, 0, 1, 0, 1]) }

        // Over 255 only once pointers are followed: the answer's owner is two 63-byte labels
        // and a pointer to the question's 190-byte name.
        let question = label63 + label63 + [60] + [UInt8](repeating: 0x63, count: 60) + [0]
        var viaPointer = header(qd: 1, an: 1) + question + [0, 1, 0, 1]
        viaPointer += label63 + label63 + [0xC0, 12] + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        expectBerthError(.corrupt) { try DNSMessage(decoding: viaPointer) }

        expectBerthError(.invalidArgument) {
            try DNSName(labels: Array(repeating: [UInt8](repeating: 0x61, count: 63), count: 4))
        }
    }

    @Test func pointerLoopsAreRejected() {
        // A pointer to itself.
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1) + [0xC0, 12, 0, 1, 0, 1]) }
        // A label, then a pointer back to that label: a two-step loop.
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1) + [1, 0x61, 0xC0, 12, 0, 1, 0, 1]) }
        // Two names pointing at each other (answer owner → question; question → answer owner).
        var mutual = header(qd: 1, an: 1) + [1, 0x61, 0xC0, 20] + [0, 1, 0, 1]
        mutual += [1, 0x62, 0xC0, 12] + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        expectBerthError(.corrupt) { try DNSMessage(decoding: mutual) }
    }

    @Test func forwardPointersAreRejected() {
        // The question's name points past itself, at a valid name further on.
        let bytes = header(qd: 1) + [0xC0, 18] + [0, 1, 0, 1] + wireName("example.com")
        let e = expectBerthError(.corrupt) { try DNSMessage(decoding: bytes) }
        #expect(e?.message.contains("does not point backwards") == true)
        // Past the end of the message.
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1) + [0xFF, 0xFF, 0, 1, 0, 1]) }
        // A pointer cut after its first byte.
        let cut = expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1) + [1, 0x61, 1, 0x62, 0xC0]) }
        #expect(cut?.message.contains("pointer truncated") == true)
    }

    @Test func pointerChainsAreCappedAt128() throws {
        // The first answer is TXT whose data is a root name then a chain of pointers, each to the
        // one before; the second answer's owner points at the last of the chain.
        func message(chain: Int) -> [UInt8] {
            var bytes = header(flags: 0x8000, an: 2)
            let dataStart = bytes.count + 11
            var data: [UInt8] = [0]
            var previous = dataStart
            for _ in 0..<chain {
                data += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)]
                previous = dataStart + data.count - 2
            }
            bytes += [0] + [0, 16, 0, 1, 0, 0, 0, 0] + be16(data.count) + data
            bytes += [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 1, 1, 1]
            return bytes
        }
        // 127 in the chain + the owner's own pointer = 128: allowed.
        let ok = try DNSMessage(decoding: message(chain: 127))
        #expect(ok.answers[1].name.isRoot)
        let e = expectBerthError(.corrupt) { try DNSMessage(decoding: message(chain: 128)) }
        #expect(e?.message.contains("more than 128 pointers") == true)
    }

    @Test func sectionCountsLargerThanTheDataAreRejected() {
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 0xFFFF)) }
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(an: 0xFFFF, ns: 0xFFFF, ar: 0xFFFF)) }
        // A real question, but two announced.
        let one = wireName("web") + [0, 1, 0, 1]
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 2) + one + [0, 0, 1]) }
        // An A record announcing 4 bytes of data, none present (the counts check passes).
        expectBerthError(.corrupt) { try DNSMessage(decoding: header(qd: 1, an: 1) + one + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]) }
        expectBerthError(.corrupt) { try DNSMessage.decodeHead(header(qd: 3) + one) }
    }

    @Test func recordDataPastTheEndOrOfTheWrongSizeIsRejected() {
        let q = header(flags: 0x8000, an: 1)
        let owner = wireName("web")
        // A record announcing 4 bytes of data, 2 present.
        let e = expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0]) }
        #expect(e?.message.contains("truncated") == true)
        // Raw data announcing more than there is.
        expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 16, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1, 2, 3]) }
        // A record with 5 bytes, AAAA with 4.
        expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5]) }
        expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 28, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]) }
        // A CNAME whose name is shorter than its announced length, and one longer.
        expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 5, 0, 1, 0, 0, 0, 1, 0, 7] + wireName("ab") + [0, 0, 0]) }
        expectBerthError(.corrupt) { try DNSMessage(decoding: q + owner + [0, 5, 0, 1, 0, 0, 0, 1, 0, 2] + wireName("abcdef")) }
        // SOA cut short inside its numbers.
        expectBerthError(.corrupt) {
            try DNSMessage(decoding: q + owner + [0, 6, 0, 1, 0, 0, 0, 1, 0, 10] + [0, 0, 0, 0, 0, 1, 0, 0, 0, 2])
        }
    }

    @Test func decodeHeadReadsOnlyTheQuestions() throws {
        var bytes = try sampleAnswer(id: 77).encoded()
        // Break the answer section: decodeHead does not look at it.
        bytes.removeLast(20)
        let head = try DNSMessage.decodeHead(bytes)
        #expect(head.id == 77 && head.isResponse && head.isAuthoritative)
        #expect(head.answers.isEmpty && head.additionals.isEmpty)
        expectBerthError(.corrupt) { try DNSMessage(decoding: bytes) }
        #expect(head.questions == sampleAnswer().questions)
    }

    /// What the forwarder relies on to match an upstream's answer to its question.
    @Test func decodeHeadOfAPlainAnswerGivesItsQuestion() throws {
        let query = DNSMessage.query(id: 0x2222, name: .t("external.example"), type: .a)
        var answer = query.reply()
        answer.answers = [DNSResourceRecord(name: .t("external.example"), ttl: 60, data: .a(IPv4Address(198, 51, 100, 7)))]
        let head = try DNSMessage.decodeHead(answer.encoded())
        #expect(head.id == 0x2222 && head.isResponse && head.responseCode == .noError)
        #expect(head.questions == query.questions)
        // A message with all three counts zero is parsed as a question for the root name.
        let bare = try DNSMessage.decodeHead(query.encoded())
        #expect(bare.questions == query.questions)
    }

    @Test func encodingRefusesOversizedRecordData() {
        let m = DNSMessage(id: 1, answers: [DNSResourceRecord(name: .root, ttl: 0, data: .raw(type: .txt, bytes: [UInt8](repeating: 1, count: 65536)))])
        expectBerthError(.invalidArgument) { try m.encoded() }
    }

    @Test func replySkeletonCopiesIDFlagsAndQuestion() {
        var q = DNSMessage.query(id: 0xBEEF, name: .t("web"), type: .aaaa)
        q.checkingDisabled = true
        q.additionals = [DNSResourceRecord(name: .root, recordClass: DNSClass(rawValue: 1232), ttl: 0, data: .raw(type: .opt, bytes: []))]
        let r = q.reply(code: .nameError)
        #expect(r.id == 0xBEEF && r.isResponse && r.recursionDesired && r.checkingDisabled)
        #expect(r.responseCode == .nameError && r.questions == q.questions)
        #expect(r.answers.isEmpty && r.additionals.isEmpty)
        #expect(q.ednsRecord?.recordClass.rawValue == 1232)
        #expect(DNSResponseCode.serverFailure.description == "SERVFAIL")
        #expect(DNSResponseCode(rawValue: 9).description == "RCODE9")
        #expect(DNSType.aaaa.description == "AAAA" && DNSClass.internet.description == "IN")
    }
}

@Suite("DNS names")
struct DNSNameTests {
    @Test func presentationTextParsesAndPrints() throws {
        #expect(try DNSName("web").labels == [Array("web".utf8)])
        #expect(try DNSName("web.") == DNSName("web"))
        #expect(try DNSName("my-net.example.com.").labels.count == 3)
        #expect(try DNSName(".").isRoot && DNSName("").isRoot)
        #expect(DNSName.root.description == "." && DNSName.root.relativeText == "")
        #expect(try DNSName("Web.Example.").description == "Web.Example.")
        #expect(try DNSName("Web.Example.").relativeText == "Web.Example")

        let escaped = try DNSName(#"a\.b.c\\d.\000\255"#)
        #expect(escaped.labels == [Array("a.b".utf8), Array(#"c\d"#.utf8), [0, 255]])
        #expect(escaped.description == #"a\.b.c\\d.\000\255."#)
        #expect(try DNSName(escaped.description) == escaped)
        #expect(try DNSName("sp ace").description == #"sp\032ace."#)

        for bad in ["a..b", ".a", #"a\"#, #"a\25"#, #"a\256"#, #"a\2x5"#] {
            expectBerthError(.invalidArgument) { try DNSName(bad) }
        }
    }

    @Test func caseInsensitiveComparison() throws {
        let a = try DNSName("WeB.ExAmPlE"), b = try DNSName("web.example")
        #expect(a != b)
        #expect(a.isEquivalent(to: b) && b.isEquivalent(to: a))
        #expect(a.lowercased() == b)
        #expect(!a.isEquivalent(to: try DNSName("web.example.com")))
        #expect(!a.isEquivalent(to: try DNSName("wex.example")))
        // Only ASCII letters fold.
        #expect(!(try DNSName(labels: [[0xC4]])).isEquivalent(to: try DNSName(labels: [[0xE4]])))
    }

    @Test func reverseNames() throws {
        let v4 = DNSName(reverseOf: .t("172.18.0.2"))
        #expect(v4.description == "2.0.18.172.in-addr.arpa.")
        #expect(v4.reverseAddress == .t("172.18.0.2"))
        #expect(try DNSName("2.0.18.172.IN-ADDR.ARPA").reverseAddress == .t("172.18.0.2"))

        let v6 = DNSName(reverseOf: .t("2001:db8::567:89ab"))
        #expect(v6.description == "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.")
        #expect(v6.reverseAddress == .t("2001:db8::567:89ab"))
        #expect(try DNSName(v6.description.uppercased()).reverseAddress == .t("2001:db8::567:89ab"))

        for notAnAddress in ["0.18.172.in-addr.arpa", "02.0.18.172.in-addr.arpa", "256.0.18.172.in-addr.arpa",
                             "x.0.18.172.in-addr.arpa", "2.0.18.172.in-addr.example", "web.my-net",
                             "g.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"] {
            #expect(try DNSName(notAnAddress).reverseAddress == nil, "\(notAnAddress)")
        }
    }
}
