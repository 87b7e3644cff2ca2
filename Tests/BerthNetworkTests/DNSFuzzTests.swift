import BerthCore
import Testing
@testable import BerthNetwork

/// Random and mutated messages through the decoder: it must throw a `.corrupt` BerthError or
/// return a message that encodes again (compressed and not) and decodes back to itself.
@Suite("DNS decoder fuzzing")
struct DNSFuzzTests {
    /// Valid messages to mutate, compressed and not.
    static func corpus() throws -> [[UInt8]] {
        var messages: [DNSMessage] = [
            sampleAnswer(),
            .query(id: 0x1234, name: .t("web"), type: .a),
            .query(id: 1, name: .t("2.0.18.172.in-addr.arpa"), type: .ptr),
            .query(id: 2, name: .root, type: .ns),
        ]
        var edns = DNSMessage.query(id: 3, name: .t("db.my-net"), type: .aaaa)
        edns.additionals = [DNSResourceRecord(name: .root, recordClass: DNSClass(rawValue: 1232), ttl: 0, data: .raw(type: .opt, bytes: []))]
        messages.append(edns)
        var reply = edns.reply()
        reply.answers = (1...5).map { i in
            DNSResourceRecord(name: .t("db.my-net"), ttl: 600, data: .aaaa(IPv6Address(UInt128(i) << 64 | 0xFD00)))
        }
        messages.append(reply)
        return try messages.flatMap { [try $0.encoded(compress: true), try $0.encoded(compress: false)] }
    }

    static let interesting: [UInt8] = [0, 1, 0x3F, 0x40, 0x7F, 0x80, 0xBF, 0xC0, 0xC0 | 0x3F, 0xFF, 12, 5]

    /// One random change to `bytes`.
    static func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64, corpus: [[UInt8]]) {
        switch rng.below(8) {
        case 0:  // flip a few bits
            guard !bytes.isEmpty else { return }
            for _ in 0...rng.below(4) { bytes[rng.below(bytes.count)] ^= 1 << UInt8(rng.below(8)) }
        case 1:  // truncate
            bytes.removeLast(bytes.isEmpty ? 0 : rng.below(bytes.count))
        case 2:  // insert a pointer (usually aimed near the header or backwards)
            let at = rng.below(bytes.count + 1)
            let target = rng.below(2) == 0 ? rng.below(max(at, 1)) : rng.below(0x4000)
            bytes.insert(contentsOf: [0xC0 | UInt8(target >> 8), UInt8(target & 0xFF)], at: at)
        case 3:  // overwrite with a pointer
            guard bytes.count >= 2 else { return }
            let at = rng.below(bytes.count - 1)
            let target = rng.below(bytes.count)
            bytes[at] = 0xC0 | UInt8(target >> 8)
            bytes[at + 1] = UInt8(target & 0xFF)
        case 4:  // an interesting byte
            guard !bytes.isEmpty else { return }
            bytes[rng.below(bytes.count)] = interesting[rng.below(interesting.count)]
        case 5:  // change a section count
            guard bytes.count >= 12 else { return }
            let field = 4 + 2 * rng.below(4)
            let value = rng.below(3) == 0 ? rng.below(0x10000) : rng.below(12)
            bytes[field] = UInt8(value >> 8)
            bytes[field + 1] = UInt8(value & 0xFF)
        case 6:  // splice in a piece of another message
            let other = corpus[rng.below(corpus.count)]
            let from = rng.below(other.count)
            let piece = other[from..<min(other.count, from + 1 + rng.below(40))]
            bytes.insert(contentsOf: piece, at: rng.below(bytes.count + 1))
        default:  // duplicate or delete a region
            guard bytes.count > 2 else { return }
            let from = rng.below(bytes.count - 1)
            let to = min(bytes.count, from + 1 + rng.below(16))
            if rng.below(2) == 0 {
                bytes.insert(contentsOf: Array(bytes[from..<to]), at: rng.below(bytes.count + 1))
            } else {
                bytes.removeSubrange(from..<to)
            }
        }
    }

    /// A random buffer: a header with small counts, then bytes biased towards label lengths,
    /// pointers and zeros.
    static func randomMessage(_ rng: inout SplitMix64) -> [UInt8] {
        var bytes = header(id: rng.below(0x10000), flags: rng.below(0x10000), qd: rng.below(3),
                           an: rng.below(4), ns: rng.below(2), ar: rng.below(2))
        let length = rng.below(300)
        for _ in 0..<length {
            switch rng.below(6) {
            case 0: bytes.append(interesting[rng.below(interesting.count)])
            case 1: bytes.append(UInt8(rng.below(16)))
            default: bytes.append(rng.byte())
            }
        }
        if rng.below(4) == 0 { bytes.removeLast(min(bytes.count, rng.below(12))) }
        return bytes
    }

    struct Outcome {
        var decoded = 0
        var rejected = 0
        var failures: [String] = []
        /// Messages whose `decodeHead` disagrees with the full decode (a known bug).
        var headMismatches = 0
    }

    /// Decodes `bytes` and checks the contract; records what went wrong.
    static func check(_ bytes: [UInt8], seed: UInt64, iteration: Int, into outcome: inout Outcome) {
        func fail(_ what: String) {
            if outcome.failures.count < 10 { outcome.failures.append("seed \(seed) #\(iteration) \(bytes): \(what)") }
        }
        let resolver = StaticDNSResolver(names: ["web": [.t("172.18.0.2"), .t("fd00::2")]],
                                         reverse: [.t("172.18.0.2"): "web.my-net"])
        // The server's decision never traps either, and whatever it answers encodes.
        switch DNSServer.decide(bytes, client: nil, resolver: resolver, ttl: 600) {
        case .reply(let answer):
            if (try? answer.encoded()) == nil { fail("server reply does not encode") }
        case .forward, .drop: break
        }
        let message: DNSMessage
        do {
            message = try DNSMessage(decoding: bytes)
        } catch let e as BerthError {
            outcome.rejected += 1
            if e.code != .corrupt { fail("error code \(e.code): \(e)") }
            _ = try? DNSMessage.decodeHead(bytes)
            return
        } catch {
            outcome.rejected += 1
            fail("not a BerthError: \(error)")
            return
        }
        outcome.decoded += 1
        // What decodes whole has a head that decodes, and they agree.
        if let head = try? DNSMessage.decodeHead(bytes) {
            if head.id != message.id || head.flags != message.flags {
                fail("decodeHead disagrees with the full decode on the header")
            }
            if head.questions != message.questions { outcome.headMismatches += 1 }
        } else {
            outcome.headMismatches += 1
        }
        do {
            for compress in [true, false] {
                let again = try message.encoded(compress: compress)
                let redecoded = try DNSMessage(decoding: again)
                if redecoded != message { fail("re-encoded (compress: \(compress)) message decodes differently") }
                if try redecoded.encoded(compress: compress) != again { fail("encoding is not stable") }
            }
        } catch {
            fail("re-encoding failed: \(error)")
        }
    }

    @Test(arguments: [UInt64(0x5EED_0001), 0x5EED_0002])
    func mutatedAndRandomMessages(seed: UInt64) throws {
        let corpus = try Self.corpus()
        var rng = SplitMix64(seed: seed)
        var outcome = Outcome()
        let iterations = 15_000
        for i in 0..<iterations {
            var bytes: [UInt8]
            if rng.below(5) == 0 {
                bytes = Self.randomMessage(&rng)
            } else {
                bytes = corpus[rng.below(corpus.count)]
                for _ in 0...rng.below(3) { Self.mutate(&bytes, &rng, corpus: corpus) }
            }
            Self.check(bytes, seed: seed, iteration: i, into: &outcome)
        }
        #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
        #expect(outcome.headMismatches == 0)
        #expect(outcome.decoded + outcome.rejected == iterations)
        // Both paths were exercised for real.
        #expect(outcome.decoded > iterations / 20, "decoded \(outcome.decoded)")
        #expect(outcome.rejected > iterations / 5, "rejected \(outcome.rejected)")
    }

    @Test func everyPrefixOfEveryCorpusMessage() throws {
        var outcome = Outcome()
        var count = 0
        for message in try Self.corpus() {
            for n in 0..<message.count {
                Self.check(Array(message.prefix(n)), seed: 0, iteration: n, into: &outcome)
                count += 1
            }
            #expect(try DNSMessage(decoding: message).encoded(compress: false).count >= message.count)
        }
        #expect(outcome.failures.isEmpty, "\(outcome.failures.joined(separator: "\n"))")
        // A strict prefix is only valid when it happens to end on a section boundary with
        // smaller counts, which never happens here: counts are exact.
        #expect(outcome.decoded == 0)
        #expect(outcome.rejected == count)
    }
}
