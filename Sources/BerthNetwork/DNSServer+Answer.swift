import BerthCore
import NIOCore

extension DNSServer {
    /// How a query reached the server (and so how it is forwarded).
    enum Transport: Sendable {
        case udp, tcp
    }

    /// What to do with one incoming message.
    enum Decision: Equatable {
        /// Send this answer.
        case reply(DNSMessage)
        /// Not ours: forward (the decoded query comes along to build SERVFAIL if needed).
        case forward(DNSMessage)
        /// Say nothing (not a query, or too broken to answer).
        case drop
    }

    /// Decides how to answer `bytes` from `client`: pure apart from the resolver call.
    ///
    /// - fewer than 12 bytes, or a response (QR set): dropped;
    /// - undecodable: FORMERR (when the header could be read);
    /// - an opcode other than QUERY: NOTIMP; not exactly one question: FORMERR;
    /// - class IN, A/AAAA/ANY for a name the resolver claims: its addresses of that family
    ///   (shuffled, as Docker does, so clients spread over replicas);
    /// - PTR for an address the resolver names: that name;
    /// - any other type for a claimed name: NOERROR without answers;
    /// - everything else: forwarded.
    static func decide(_ bytes: [UInt8], client: IPAddress?, resolver: any DNSResolver, ttl: UInt32) -> Decision {
        guard bytes.count >= DNSMessage.headerLength else { return .drop }
        let query: DNSMessage
        do {
            query = try DNSMessage(decoding: bytes)
        } catch {
            // The header is there (12 bytes): answer FORMERR to queries, ignore responses.
            var header = DNSMessage(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
            header.flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
            guard !header.isResponse else { return .drop }
            return .reply(header.reply(code: .formatError))
        }
        guard !query.isResponse else { return .drop }
        guard query.opcode == .query else { return .reply(query.reply(code: .notImplemented)) }
        guard query.questions.count == 1, let question = query.questions.first else {
            return .reply(query.reply(code: .formatError))
        }
        guard question.recordClass == .internet else { return .forward(query) }

        var answer = query.reply()
        answer.recursionAvailable = true
        switch question.type {
        case .a, .aaaa, .any:
            let name = question.name.lowercased().relativeText
            guard let addresses = resolver.addresses(for: name, client: client) else { return .forward(query) }
            for address in addresses.shuffled() {
                switch address {
                case .v4(let a) where question.type != .aaaa:
                    answer.answers.append(DNSResourceRecord(name: question.name, ttl: ttl, data: .a(a)))
                case .v6(let a) where question.type != .a:
                    answer.answers.append(DNSResourceRecord(name: question.name, ttl: ttl, data: .aaaa(a)))
                default:
                    continue
                }
            }
            return .reply(answer)
        case .ptr:
            guard let address = question.name.reverseAddress,
                  let host = resolver.name(for: address, client: client),
                  let target = try? DNSName(host)
            else { return .forward(query) }
            answer.answers.append(DNSResourceRecord(name: question.name, ttl: ttl, data: .ptr(target)))
            return .reply(answer)
        default:
            let name = question.name.lowercased().relativeText
            guard resolver.addresses(for: name, client: client) != nil else { return .forward(query) }
            return .reply(answer)
        }
    }

    /// The largest UDP answer the asker accepts: its EDNS payload size (RFC 6891; capped at
    /// 4096, never below 512), else `defaultLimit`.
    static func udpLimit(for query: DNSMessage, defaultLimit: Int) -> Int {
        guard let opt = query.ednsRecord else { return defaultLimit }
        return min(max(Int(opt.recordClass.rawValue), 512), 4096)
    }

    /// Encodes an answer for the transport: over UDP, drops trailing records until it fits
    /// `limit` and sets TC if any were dropped.
    static func encode(_ answer: DNSMessage, transport: Transport, limit: Int) -> [UInt8]? {
        var message = answer
        while true {
            guard let bytes = try? message.encoded() else { return nil }
            if transport == .tcp || bytes.count <= limit { return bytes }
            message.isTruncated = true
            if !message.additionals.isEmpty {
                message.additionals.removeLast()
            } else if !message.authorities.isEmpty {
                message.authorities.removeLast()
            } else if !message.answers.isEmpty {
                message.answers.removeLast()
            } else {
                return bytes
            }
        }
    }

    /// Handles one message from `client`; `respond` is called at most once, on `eventLoop`.
    func handle(_ bytes: [UInt8], from client: SocketAddress, transport: Transport, eventLoop: any EventLoop,
                respond: @escaping @Sendable ([UInt8]) -> Void) {
        let clientIP = client.ipAddress.flatMap { IPAddress($0) }
        switch Self.decide(bytes, client: clientIP, resolver: resolver, ttl: options.ttl) {
        case .drop:
            return
        case .reply(let answer):
            // The client's EDNS buffer size is in its query (the reply carries no OPT record).
            let asked = try? DNSMessage(decoding: bytes)
            let limit = asked.map { Self.udpLimit(for: $0, defaultLimit: options.udpPayloadLimit) } ?? options.udpPayloadLimit
            if let encoded = Self.encode(answer, transport: transport, limit: limit) { respond(encoded) }
        case .forward(let query):
            let limit = Self.udpLimit(for: query, defaultLimit: options.udpPayloadLimit)
            let failure: @Sendable () -> Void = {
                var answer = query.reply(code: .serverFailure)
                answer.additionals = []
                if let encoded = Self.encode(answer, transport: transport, limit: limit) { respond(encoded) }
            }
            guard acquireForwardSlot() else {
                logger.debug("dns forward refused: too many in flight", metadata: ["client": "\(client)"])
                failure()
                return
            }
            forward(bytes, question: query.questions[0], transport: transport, eventLoop: eventLoop)
                .whenComplete { [self] result in
                    releaseForwardSlot()
                    switch result {
                    case .success(let answer): respond(answer)
                    case .failure: failure()
                    }
                }
        }
    }

    func acquireForwardSlot() -> Bool {
        var current = inFlightForwards.load(ordering: .relaxed)
        while current < options.maxInFlightForwards {
            let (exchanged, original) = inFlightForwards.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func releaseForwardSlot() {
        inFlightForwards.subtract(1, ordering: .acquiringAndReleasing)
    }
}
