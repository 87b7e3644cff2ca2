import BerthCore

extension DNSMessage {
    /// The header's size in bytes.
    public static let headerLength = 12
    /// The most pointers followed while reading one name. A name has at most 127 labels, so a
    /// real encoder never needs more; the cap bounds the work a hostile message can cause.
    static let maxPointersPerName = 128

    /// Decodes a message. Throws a ``BerthError`` (`.corrupt`) for anything that is not a
    /// well-formed message: short input, a section count the message cannot hold, a name
    /// pointer that does not point strictly before the previous one, a label over 63 bytes, a
    /// name over 255 bytes, record data whose length disagrees with its type. Bytes after the
    /// last section are ignored.
    public init(decoding bytes: [UInt8]) throws {
        var reader = DNSWireReader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let qd = Int(try reader.u16()), an = Int(try reader.u16())
        let ns = Int(try reader.u16()), ar = Int(try reader.u16())
        // A question takes at least 5 bytes (root name, type, class), a record at least 11.
        guard qd * 5 + (an + ns + ar) * 11 <= bytes.count - Self.headerLength else {
            throw DNSWireReader.corrupt("section counts (\(qd), \(an), \(ns), \(ar)) exceed the message's \(bytes.count) bytes")
        }
        self.init(id: id)
        self.flags = flags
        questions.reserveCapacity(qd)
        for _ in 0..<qd {
            let name = try reader.readName()
            let type = DNSType(rawValue: try reader.u16())
            let recordClass = DNSClass(rawValue: try reader.u16())
            questions.append(DNSQuestion(name: name, type: type, recordClass: recordClass))
        }
        answers = try reader.records(an)
        authorities = try reader.records(ns)
        additionals = try reader.records(ar)
    }

    /// Reads only the ID, the flags and the questions of a message (enough to match an answer
    /// to its query without trusting the rest). Same protections as ``init(decoding:)``.
    static func decodeHead(_ bytes: [UInt8]) throws -> DNSMessage {
        var reader = DNSWireReader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let qd = Int(try reader.u16())
        for _ in 0..<3 { _ = try reader.u16() }  // answer, authority, additional counts
        guard qd * 5 <= bytes.count - Self.headerLength else {
            throw DNSWireReader.corrupt("question count \(qd) exceeds the message's \(bytes.count) bytes")
        }
        var message = DNSMessage(id: id)
        message.flags = flags
        for _ in 0..<qd {
            let name = try reader.readName()
            let type = DNSType(rawValue: try reader.u16())
            let recordClass = DNSClass(rawValue: try reader.u16())
            message.questions.append(DNSQuestion(name: name, type: type, recordClass: recordClass))
        }
        return message
    }

    /// The message on the wire. With `compress`, owner names and the names in CNAME, PTR, NS,
    /// MX and SOA data point back at earlier copies of their suffixes (exact, case-sensitive
    /// matches only, so decoding gives back the same bytes). Throws when a section has more
    /// than 65535 entries or record data is longer than 65535 bytes.
    public func encoded(compress: Bool = true) throws -> [UInt8] {
        var writer = DNSWireWriter(compress: compress)
        writer.u16(id)
        writer.u16(flags)
        for (count, what) in [(questions.count, "questions"), (answers.count, "answers"),
                              (authorities.count, "authority records"), (additionals.count, "additional records")] {
            guard count <= Int(UInt16.max) else {
                throw BerthError.invalid("dns message has \(count) \(what), more than 65535")
            }
            writer.u16(UInt16(count))
        }
        for q in questions {
            writer.name(q.name)
            writer.u16(q.type.rawValue)
            writer.u16(q.recordClass.rawValue)
        }
        for section in [answers, authorities, additionals] {
            for record in section { try writer.record(record) }
        }
        return writer.bytes
    }
}

/// Reads a message with bounds checks everywhere; every failure is a `.corrupt` BerthError.
struct DNSWireReader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func corrupt(_ what: String) -> BerthError { BerthError(.corrupt, "malformed dns message: \(what)") }

    mutating func u8() throws -> UInt8 {
        guard offset < bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws -> UInt16 {
        guard offset + 2 <= bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, offset + n <= bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// Reads a possibly compressed name at the offset and moves past it (past the first
    /// pointer, if any). Every pointer must point before the previous pointer's target (the
    /// first before itself), so targets strictly decrease and the walk ends.
    mutating func readName() throws -> DNSName {
        var labels: [[UInt8]] = []
        var position = offset
        var limit = Int.max
        var pointers = 0
        var wireLength = 1
        while true {
            guard position < bytes.count else { throw Self.corrupt("name truncated at byte \(position)") }
            let length = Int(bytes[position])
            switch length >> 6 {
            case 0:
                if length == 0 {
                    if pointers == 0 { offset = position + 1 }
                    return DNSName(validated: labels)
                }
                wireLength += 1 + length
                guard wireLength <= DNSName.maxWireLength else {
                    throw Self.corrupt("name at byte \(offset) longer than \(DNSName.maxWireLength) bytes")
                }
                guard position + 1 + length <= bytes.count else {
                    throw Self.corrupt("label truncated at byte \(position)")
                }
                labels.append(Array(bytes[position + 1..<position + 1 + length]))
                position += 1 + length
            case 3:
                guard position + 1 < bytes.count else { throw Self.corrupt("name pointer truncated at byte \(position)") }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < min(limit, position) else {
                    throw Self.corrupt("name pointer at byte \(position) does not point backwards")
                }
                pointers += 1
                guard pointers <= DNSMessage.maxPointersPerName else {
                    throw Self.corrupt("name at byte \(offset) follows more than \(DNSMessage.maxPointersPerName) pointers")
                }
                if pointers == 1 { offset = position + 2 }
                limit = target
                position = target
            default:
                // 0x40 and 0x80: extended label types (RFC 6891 §5 deprecated them).
                throw Self.corrupt("unsupported label type 0x\(String(length & 0xC0, radix: 16)) at byte \(position)")
            }
        }
    }

    mutating func records(_ count: Int) throws -> [DNSResourceRecord] {
        var out: [DNSResourceRecord] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try record()) }
        return out
    }

    mutating func record() throws -> DNSResourceRecord {
        let name = try readName()
        let type = DNSType(rawValue: try u16())
        let recordClass = DNSClass(rawValue: try u16())
        let ttl = try u32()
        let length = Int(try u16())
        let start = offset
        let end = start + length
        guard end <= bytes.count else { throw Self.corrupt("\(type) record data truncated at byte \(start)") }
        let data: DNSRecordData
        switch type {
        case .a:
            guard let a = IPv4Address(bytes: try take(length)) else {
                throw Self.corrupt("A record with \(length) bytes of data at byte \(start)")
            }
            data = .a(a)
        case .aaaa:
            guard let a = IPv6Address(bytes: try take(length)) else {
                throw Self.corrupt("AAAA record with \(length) bytes of data at byte \(start)")
            }
            data = .aaaa(a)
        case .cname: data = .cname(try readName())
        case .ptr: data = .ptr(try readName())
        case .ns: data = .ns(try readName())
        case .mx:
            let preference = try u16()
            data = .mx(preference: preference, exchange: try readName())
        case .soa:
            let primary = try readName(), mailbox = try readName()
            data = .soa(DNSStartOfAuthority(
                primary: primary, mailbox: mailbox, serial: try u32(), refresh: try u32(),
                retry: try u32(), expire: try u32(), minimum: try u32()))
        default:
            data = .raw(type: type, bytes: try take(length))
        }
        guard offset == end else {
            throw Self.corrupt("\(type) record data at byte \(start) is \(length) bytes but its content is \(offset - start)")
        }
        return DNSResourceRecord(name: name, recordClass: recordClass, ttl: ttl, data: data)
    }
}

/// Writes a message; remembers where each name suffix was written for compression.
struct DNSWireWriter {
    var bytes: [UInt8] = []
    /// Suffix (its labels) → offset, for offsets a pointer can reach (< 0x4000).
    var suffixes: [[[UInt8]]: Int]?

    init(compress: Bool) {
        bytes.reserveCapacity(512)
        suffixes = compress ? [:] : nil
    }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(v >> 8))
        bytes.append(UInt8(v & 0xFF))
    }

    mutating func u32(_ v: UInt32) {
        u16(UInt16(v >> 16))
        u16(UInt16(v & 0xFFFF))
    }

    mutating func name(_ name: DNSName, compressible: Bool = true) {
        let labels = name.labels
        for i in labels.indices {
            let suffix = Array(labels[i...])
            if compressible, let target = suffixes?[suffix] {
                u16(0xC000 | UInt16(target))
                return
            }
            if suffixes != nil, bytes.count < 0x4000 {
                suffixes?[suffix] = bytes.count
            }
            bytes.append(UInt8(labels[i].count))
            bytes.append(contentsOf: labels[i])
        }
        bytes.append(0)
    }

    mutating func record(_ record: DNSResourceRecord) throws {
        name(record.name)
        u16(record.type.rawValue)
        u16(record.recordClass.rawValue)
        u32(record.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch record.data {
        case .a(let a): bytes.append(contentsOf: a.bytes)
        case .aaaa(let a): bytes.append(contentsOf: a.bytes)
        case .cname(let n), .ptr(let n), .ns(let n): name(n)
        case .mx(let preference, let exchange):
            u16(preference)
            name(exchange)
        case .soa(let soa):
            name(soa.primary)
            name(soa.mailbox)
            for v in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { u32(v) }
        case .raw(_, let data):
            bytes.append(contentsOf: data)
        }
        let length = bytes.count - lengthAt - 2
        guard length <= Int(UInt16.max) else {
            throw BerthError.invalid("dns \(record.type) record data is \(length) bytes, more than 65535")
        }
        bytes[lengthAt] = UInt8(length >> 8)
        bytes[lengthAt + 1] = UInt8(length & 0xFF)
    }
}
