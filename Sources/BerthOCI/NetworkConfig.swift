/// Docker's `EndpointIPAMConfig`: addresses a container asks for on a network (`--ip`).
public struct EndpointIPAMConfig: Codable, Sendable, Equatable {
    public var IPv4Address: String?
    public var IPv6Address: String?
    public var LinkLocalIPs: [String]?
    public init(IPv4Address: String? = nil, IPv6Address: String? = nil) {
        self.IPv4Address = IPv4Address; self.IPv6Address = IPv6Address
    }
}

/// Docker's `EndpointSettings`: a container's endpoint on one network — what the request asks
/// (`IPAMConfig`, `Aliases`, `Links`, `MacAddress`) and, in inspect, what it got.
public struct EndpointSettings: Codable, Sendable, Equatable {
    public var IPAMConfig: EndpointIPAMConfig?
    public var Links: [String]?
    public var MacAddress: String?
    public var Aliases: [String]?
    public var DriverOpts: [String: String]?
    public var GwPriority: Int?
    public var NetworkID: String?
    public var EndpointID: String?
    public var Gateway: String?
    public var IPAddress: String?
    public var IPPrefixLen: Int?
    public var IPv6Gateway: String?
    public var GlobalIPv6Address: String?
    public var GlobalIPv6PrefixLen: Int?
    public var DNSNames: [String]?
    public init() {}
}

/// `NetworkingConfig` of a create request: one endpoint per network to join at create.
public struct NetworkingConfig: Codable, Sendable, Equatable {
    public var EndpointsConfig: [String: EndpointSettings]?
    public init(EndpointsConfig: [String: EndpointSettings]? = nil) { self.EndpointsConfig = EndpointsConfig }
}

/// A host binding of a container port (`-p 127.0.0.1:8080:80`): `HostPort` may be empty
/// (an ephemeral port) or a range `8000-8010`.
public struct PortBinding: Codable, Sendable, Equatable {
    public var HostIp: String?
    public var HostPort: String?
    public init(HostIp: String? = nil, HostPort: String? = nil) { self.HostIp = HostIp; self.HostPort = HostPort }
}
