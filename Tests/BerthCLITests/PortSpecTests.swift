@testable import BerthCLI
import Testing

struct PortSpecTests {
    @Test(arguments: [
        ("80", [PortSpec.Mapping(port: "80/tcp", hostIP: "", hostPort: "")]),
        ("8080:80", [PortSpec.Mapping(port: "80/tcp", hostIP: "", hostPort: "8080")]),
        ("127.0.0.1:8080:80/udp", [PortSpec.Mapping(port: "80/udp", hostIP: "127.0.0.1", hostPort: "8080")]),
        ("[::1]:8080:80", [PortSpec.Mapping(port: "80/tcp", hostIP: "::1", hostPort: "8080")]),
        ("127.0.0.1::80", [PortSpec.Mapping(port: "80/tcp", hostIP: "127.0.0.1", hostPort: "")]),
        ("8000-8001:80-81", [PortSpec.Mapping(port: "80/tcp", hostIP: "", hostPort: "8000"), PortSpec.Mapping(port: "81/tcp", hostIP: "", hostPort: "8001")]),
        ("8000-8010:80", [PortSpec.Mapping(port: "80/tcp", hostIP: "", hostPort: "8000-8010")]),
        ("53/SCTP", [PortSpec.Mapping(port: "53/sctp", hostIP: "", hostPort: "")]),
    ])
    func publish(spec: String, mappings: [PortSpec.Mapping]) throws {
        #expect(try PortSpec.publish(spec) == mappings)
    }

    @Test(arguments: [
        ("8000-8001:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8000-8001"),
        ("x:80", "invalid hostPort: x"),
        ("80/icmp", "invalid proto: icmp"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
        ("8080:", "no port specified: 8080:<empty>"),
        ("70000", "invalid containerPort: 70000"),
    ])
    func publishErrors(spec: String, message: String) {
        #expect(throws: Units.ParseError(message)) { try PortSpec.publish(spec) }
    }

    @Test func expose() throws {
        #expect(try PortSpec.expose("80") == ["80/tcp"])
        #expect(try PortSpec.expose("7000-7002/udp") == ["7000/udp", "7001/udp", "7002/udp"])
    }

    @Test(arguments: [
        ("1.2.3.4", true), ("::1", true), ("::", true), ("fe80::1:2", true), ("::ffff:1.2.3.4", true),
        ("1:2:3:4:5:6:7:8", true), ("1:2", false), ("1.2.3", false), ("256.1.1.1", false), ("1:2:3:4:5:6:7:8:9", false),
        ("host", false), ("1::2::3", false),
    ])
    func ipLiterals(text: String, valid: Bool) {
        #expect(PortSpec.isIP(text) == valid)
    }
}
