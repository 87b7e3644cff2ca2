import BerthCore

/// A DNS message (RFC 1035 §4): the header, the questions, and the answer, authority and
/// additional records.
///
/// The codec is pure and defensive: ``init(decoding:)`` accepts any bytes and either returns a
/// message or throws a ``BerthError`` (`.corrupt`); it never traps and its work is bounded by
/// the input's length (compression pointers must point strictly backwards and at most 128 are
/// followed per name, names are at most 255 bytes and labels 63, and section counts must fit
/// in the message). ``encoded(compress:)`` writes the message back; decoding what it writes
/// gives an equal message.
///
/// A, AAAA, CNAME, PTR, NS, MX and SOA data are decoded (the names in the last five may be
/// compressed, RFC 1035 §3.3); every other type keeps its data as raw bytes.
public struct DNSMessage: Hashable, Sendable {
    /// Chosen by the asker; the answer carries the same.
    public var id: UInt16
    /// QR: this is a response.
    public var isResponse: Bool
    /// The kind of query (`QUERY` is 0).
    public var opcode: DNSOpcode
    /// AA: the answer comes from an authority for the name.
    public var isAuthoritative: Bool
    /// TC: the message was cut to fit; ask again over TCP.
    public var isTruncated: Bool
    /// RD: the asker wants recursion.
    public var recursionDesired: Bool
    /// RA: the server recurses.
    public var recursionAvailable: Bool
    /// The reserved Z bit (must be zero, kept as received).
    public var reservedBit: Bool
    /// AD: authentic data (DNSSEC, RFC 4035).
    public var authenticData: Bool
    /// CD: checking disabled (DNSSEC, RFC 4035).
    public var checkingDisabled: Bool
    /// RCODE, the low four bits (an EDNS OPT record can extend it).
    public var responseCode: DNSResponseCode
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]

    /// A message with every flag clear and the given sections.
    public init(
        id: UInt16,
        isResponse: Bool = false,
        opcode: DNSOpcode = .query,
        isAuthoritative: Bool = false,
        isTruncated: Bool = false,
        recursionDesired: Bool = false,
        recursionAvailable: Bool = false,
        reservedBit: Bool = false,
        authenticData: Bool = false,
        checkingDisabled: Bool = false,
        responseCode: DNSResponseCode = .noError,
        questions: [DNSQuestion] = [],
        answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [],
        additionals: [DNSResourceRecord] = []
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.reservedBit = reservedBit
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.responseCode = responseCode
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// A query for one name and type, with RD set as stub resolvers send it.
    public static func query(id: UInt16, name: DNSName, type: DNSType, recursionDesired: Bool = true) -> DNSMessage {
        DNSMessage(id: id, recursionDesired: recursionDesired, questions: [DNSQuestion(name: name, type: type)])
    }

    /// The header's second 16 bits: QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE.
    public var flags: UInt16 {
        get {
            var f: UInt16 = 0
            if isResponse { f |= 0x8000 }
            f |= UInt16(opcode.rawValue & 0xF) << 11
            if isAuthoritative { f |= 0x0400 }
            if isTruncated { f |= 0x0200 }
            if recursionDesired { f |= 0x0100 }
            if recursionAvailable { f |= 0x0080 }
            if reservedBit { f |= 0x0040 }
            if authenticData { f |= 0x0020 }
            if checkingDisabled { f |= 0x0010 }
            f |= UInt16(responseCode.rawValue & 0xF)
            return f
        }
        set {
            isResponse = newValue & 0x8000 != 0
            opcode = DNSOpcode(rawValue: UInt8(newValue >> 11 & 0xF))
            isAuthoritative = newValue & 0x0400 != 0
            isTruncated = newValue & 0x0200 != 0
            recursionDesired = newValue & 0x0100 != 0
            recursionAvailable = newValue & 0x0080 != 0
            reservedBit = newValue & 0x0040 != 0
            authenticData = newValue & 0x0020 != 0
            checkingDisabled = newValue & 0x0010 != 0
            responseCode = DNSResponseCode(rawValue: UInt8(newValue & 0xF))
        }
    }

    /// The response skeleton for this query (as Go's `dns.Msg.SetReply`): same ID, opcode, RD,
    /// CD and questions, QR set, the given code, no records.
    public func reply(code: DNSResponseCode = .noError) -> DNSMessage {
        DNSMessage(
            id: id, isResponse: true, opcode: opcode, recursionDesired: recursionDesired,
            checkingDisabled: checkingDisabled, responseCode: code, questions: questions)
    }

    /// The EDNS OPT record (RFC 6891) in the additional section, if any.
    public var ednsRecord: DNSResourceRecord? { additionals.first { $0.type == .opt } }
}

/// One question: a name, a type and a class.
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSType, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}

/// A resource record: owner name, class, TTL and typed data (the record's type comes from the
/// data, so the two cannot disagree).
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var recordClass: DNSClass
    /// Seconds the record may be cached.
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    /// The record's type.
    public var type: DNSType { data.type }
}

/// The data of a record, decoded for the types Berth uses and raw for the rest.
public enum DNSRecordData: Hashable, Sendable {
    /// An IPv4 address.
    case a(IPv4Address)
    /// An IPv6 address.
    case aaaa(IPv6Address)
    /// The canonical name of an alias.
    case cname(DNSName)
    /// The name an address points to (reverse lookups).
    case ptr(DNSName)
    /// An authoritative name server.
    case ns(DNSName)
    /// A mail exchange.
    case mx(preference: UInt16, exchange: DNSName)
    /// The start of a zone of authority.
    case soa(DNSStartOfAuthority)
    /// Any other type, its data as it came (names in it are never decompressed).
    case raw(type: DNSType, bytes: [UInt8])

    /// The record type this data belongs to.
    public var type: DNSType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .cname: .cname
        case .ptr: .ptr
        case .ns: .ns
        case .mx: .mx
        case .soa: .soa
        case .raw(let type, _): type
        }
    }
}

/// SOA data (RFC 1035 §3.3.13).
public struct DNSStartOfAuthority: Hashable, Sendable {
    public var primary: DNSName
    public var mailbox: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init(primary: DNSName, mailbox: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32,
                expire: UInt32, minimum: UInt32) {
        self.primary = primary
        self.mailbox = mailbox
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

/// A record or query type (`A` is 1).
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(rawValue: 1)
    public static let ns = DNSType(rawValue: 2)
    public static let cname = DNSType(rawValue: 5)
    public static let soa = DNSType(rawValue: 6)
    public static let ptr = DNSType(rawValue: 12)
    public static let mx = DNSType(rawValue: 15)
    public static let txt = DNSType(rawValue: 16)
    public static let aaaa = DNSType(rawValue: 28)
    public static let srv = DNSType(rawValue: 33)
    /// The EDNS pseudo-record (RFC 6891).
    public static let opt = DNSType(rawValue: 41)
    /// Zone transfer (query only).
    public static let axfr = DNSType(rawValue: 252)
    /// Any type (query only).
    public static let any = DNSType(rawValue: 255)

    static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
        41: "OPT", 252: "AXFR", 255: "ANY",
    ]

    /// `A`, `AAAA`, … or `TYPE<n>` (RFC 3597).
    public var description: String { Self.names[rawValue] ?? "TYPE\(rawValue)" }
}

/// A record class (`IN` is 1).
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IN, the Internet.
    public static let internet = DNSClass(rawValue: 1)
    /// CH, Chaos.
    public static let chaos = DNSClass(rawValue: 3)
    /// Any class (query only).
    public static let any = DNSClass(rawValue: 255)

    /// `IN`, `CH`, `ANY` or `CLASS<n>`.
    public var description: String {
        switch rawValue {
        case 1: "IN"
        case 3: "CH"
        case 255: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}

/// A header OPCODE (4 bits).
public struct DNSOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0xF }

    /// A standard query.
    public static let query = DNSOpcode(rawValue: 0)
    public static let status = DNSOpcode(rawValue: 2)
    public static let notify = DNSOpcode(rawValue: 4)
    public static let update = DNSOpcode(rawValue: 5)
}

/// A header RCODE (4 bits).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0xF }

    public static let noError = DNSResponseCode(rawValue: 0)
    /// The query could not be parsed.
    public static let formatError = DNSResponseCode(rawValue: 1)
    /// The server could not answer (no upstream, upstream failed).
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    /// The name does not exist.
    public static let nameError = DNSResponseCode(rawValue: 3)
    /// The kind of query is not supported.
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)

    /// `NOERROR`, `SERVFAIL`, `NXDOMAIN`, … or `RCODE<n>`.
    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}
