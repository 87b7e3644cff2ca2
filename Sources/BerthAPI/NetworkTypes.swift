import BerthCore
import BerthOCI

/// Docker's `IPAM` of a network.
public struct NetworkIPAM: Codable, Sendable, Equatable {
    public struct Config: Codable, Sendable, Equatable {
        public var Subnet: String?
        public var IPRange: String?
        public var Gateway: String?
        public var AuxiliaryAddresses: [String: String]?
        public init(Subnet: String? = nil, IPRange: String? = nil, Gateway: String? = nil) {
            self.Subnet = Subnet; self.IPRange = IPRange; self.Gateway = Gateway
        }
    }
    /// `default`.
    public var Driver: String?
    public var Config: [Config]?
    public var Options: [String: String]?
    public init(Driver: String? = "default", Config: [Config]? = [], Options: [String: String]? = [:]) {
        self.Driver = Driver; self.Config = Config; self.Options = Options
    }
}

/// A container on a network, in network inspect.
public struct NetworkContainer: Codable, Sendable, Equatable {
    public var Name: String
    public var EndpointID: String
    public var MacAddress: String
    public var IPv4Address: String
    public var IPv6Address: String
    public init(Name: String, EndpointID: String, MacAddress: String, IPv4Address: String, IPv6Address: String) {
        self.Name = Name; self.EndpointID = EndpointID; self.MacAddress = MacAddress
        self.IPv4Address = IPv4Address; self.IPv6Address = IPv6Address
    }
}

/// `GET /networks` item and `GET /networks/{id}` (Docker's `NetworkResource`).
public struct NetworkResource: Codable, Sendable, Equatable {
    public struct ConfigReference: Codable, Sendable, Equatable {
        public var Network: String
        public init(Network: String = "") { self.Network = Network }
    }
    public var Name: String
    public var Id: String
    public var Created: String
    /// `local`.
    public var Scope: String
    /// `bridge`, `host`, `null`.
    public var Driver: String
    public var EnableIPv4: Bool
    public var EnableIPv6: Bool
    public var IPAM: NetworkIPAM
    public var Internal: Bool
    public var Attachable: Bool
    public var Ingress: Bool
    public var ConfigFrom: ConfigReference
    public var ConfigOnly: Bool
    /// Only in inspect (and as `{}` in list, as Docker ≥ 1.28 sends it).
    public var Containers: [String: NetworkContainer]?
    public var Options: [String: String]
    public var Labels: [String: String]

    public init(Name: String, Id: String, Created: String, Driver: String, EnableIPv6: Bool, IPAM: NetworkIPAM,
                Internal: Bool, Attachable: Bool, Containers: [String: NetworkContainer]?, Options: [String: String],
                Labels: [String: String]) {
        self.Name = Name; self.Id = Id; self.Created = Created; Scope = "local"; self.Driver = Driver
        EnableIPv4 = true; self.EnableIPv6 = EnableIPv6; self.IPAM = IPAM; self.Internal = Internal
        self.Attachable = Attachable; Ingress = false; ConfigFrom = ConfigReference(); ConfigOnly = false
        self.Containers = Containers; self.Options = Options; self.Labels = Labels
    }
}

/// `POST /networks/create` body.
public struct NetworkCreateRequest: Codable, Sendable {
    public var Name: String
    public var CheckDuplicate: Bool?
    public var Driver: String?
    public var Scope: String?
    public var Internal: Bool?
    public var Attachable: Bool?
    public var Ingress: Bool?
    public var ConfigOnly: Bool?
    public var IPAM: NetworkIPAM?
    public var EnableIPv4: Bool?
    public var EnableIPv6: Bool?
    public var Options: [String: String]?
    public var Labels: [String: String]?
    public init(Name: String, Driver: String? = nil, Internal: Bool? = nil, Attachable: Bool? = nil, IPAM: NetworkIPAM? = nil,
                EnableIPv6: Bool? = nil, Options: [String: String]? = nil, Labels: [String: String]? = nil) {
        self.Name = Name; self.Driver = Driver; self.Internal = Internal; self.Attachable = Attachable; self.IPAM = IPAM
        self.EnableIPv6 = EnableIPv6; self.Options = Options; self.Labels = Labels
    }
}

/// `POST /networks/create` response.
public struct NetworkCreateResponse: Codable, Sendable {
    public var Id: String
    public var Warning: String
    public init(Id: String, Warning: String = "") { self.Id = Id; self.Warning = Warning }
}

/// `POST /networks/{id}/connect` body.
public struct NetworkConnectRequest: Codable, Sendable {
    public var Container: String
    public var EndpointConfig: EndpointSettings?
    public init(Container: String, EndpointConfig: EndpointSettings? = nil) {
        self.Container = Container; self.EndpointConfig = EndpointConfig
    }
}

/// `POST /networks/{id}/disconnect` body.
public struct NetworkDisconnectRequest: Codable, Sendable {
    public var Container: String
    public var Force: Bool?
    public init(Container: String, Force: Bool? = nil) { self.Container = Container; self.Force = Force }
}

/// `POST /networks/prune`.
public struct NetworkPruneResponse: Codable, Sendable {
    public var NetworksDeleted: [String]?
    public init(NetworksDeleted: [String]?) { self.NetworksDeleted = NetworksDeleted }
}
