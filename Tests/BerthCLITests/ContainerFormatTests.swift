import BerthAPI
@testable import BerthCLI
import BerthCore
import Testing

/// `ps` output, compared with what docker 28.2 prints for the same daemon answer.
struct ContainerFormatTests {
    static let now: Int64 = 1_700_000_150 * 1_000_000_000

    static func summary(
        id: String = "8bec06117eb494d3ab384be8aa6b42ccda900f075546be4bf96dbd850238c8b4", names: [String] = ["/web"],
        image: String = "busybox:test", command: String = "sh -c 'echo out; echo err >&2; sleep 1000'",
        labels: [String: String] = [:], state: String = "running", status: String = "Up 2 minutes",
        ports: String = "[]", mounts: [MountPoint] = [], sizeRw: Int64? = nil, sizeRootFs: Int64? = nil
    ) throws -> ContainerSummary {
        var s = ContainerSummary(
            Id: id, Names: names, Image: image, ImageID: "sha256:7d80cc26767f200fd5aa2f89042678f0990684e46d075fb0053ce146189b2228",
            Command: command, Created: 1_700_000_000, Labels: labels, State: state, Status: status, NetworkMode: "none",
            Mounts: mounts)
        s.Ports = try BerthJSONDecoder().decode([ContainerSummary.Port].self, from: Array(ports.utf8))
        s.NetworkSettings = .object(["Networks": .object(["none": .object([:])])])
        s.SizeRw = sizeRw
        s.SizeRootFs = sizeRootFs
        return s
    }

    @Test func defaultTable() throws {
        let containers = [
            try Self.summary(id: "a2c9f16dd494b326f93ae3071c00f562cca8f1eba1eafd1748033047a6c560bb", names: ["/c2"],
                             command: "echo 'hello world this is long'", state: "created", status: "Created"),
            try Self.summary(),
        ]
        let text = ContainerListOptions.render(containers, format: nil, quiet: false, size: false, trunc: true, now: Self.now)
        #expect(text == """
            CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS         PORTS     NAMES
            a2c9f16dd494   busybox:test   "echo 'hello world t…"   2 minutes ago   Created                  c2
            8bec06117eb4   busybox:test   "sh -c 'echo out; ec…"   2 minutes ago   Up 2 minutes             web

            """)
    }

    @Test func noTruncAndSize() throws {
        let c = try Self.summary(sizeRw: 0, sizeRootFs: 1_986_078)
        let text = ContainerListOptions.render([c], format: nil, quiet: false, size: true, trunc: false, now: Self.now)
        #expect(text == """
            CONTAINER ID                                                       IMAGE          COMMAND                                        CREATED         STATUS         PORTS     NAMES     SIZE
            8bec06117eb494d3ab384be8aa6b42ccda900f075546be4bf96dbd850238c8b4   busybox:test   "sh -c 'echo out; echo err >&2; sleep 1000'"   2 minutes ago   Up 2 minutes             web       0B (virtual 1.99MB)

            """)
    }

    @Test func quietPrintsShortIDs() throws {
        let text = ContainerListOptions.render([try Self.summary()], format: nil, quiet: true, size: false, trunc: true, now: Self.now)
        #expect(text == "8bec06117eb4\n")
    }

    @Test func jsonFormat() throws {
        let c = try Self.summary(
            labels: ["a": "b"],
            mounts: [MountPoint(Type: "bind", Source: "/tmp", Destination: "/h", Mode: "ro", RW: false, Propagation: "rprivate")])
        let text = ContainerListOptions.render([c], format: "json", quiet: false, size: false, trunc: true, now: Self.now)
        #expect(text == """
            {"Command":"\\"sh -c 'echo out; ec…\\"","CreatedAt":"2023-11-14 22:13:20 +0000 UTC","ID":"8bec06117eb4","Image":"busybox:test","Labels":"a=b","LocalVolumes":"0","Mounts":"/tmp","Names":"web","Networks":"none","Platform":null,"Ports":"","RunningFor":"2 minutes ago","Size":"0B","State":"running","Status":"Up 2 minutes"}

            """)
    }

    @Test func customTemplateWithLabel() throws {
        let c = try Self.summary(labels: ["com.example.tier": "db", "a": "b"])
        let format = "{{.ID}}|{{.Names}}|{{.Labels}}|{{.Label \"com.example.tier\"}}|{{.Label \"missing\"}}|{{.State}}|{{.Networks}}"
        let text = ContainerListOptions.render([c], format: format, quiet: false, size: false, trunc: true, now: Self.now)
        #expect(text == "8bec06117eb4|web|a=b,com.example.tier=db|db||running|none\n")
    }

    @Test func tableTemplate() throws {
        let text = ContainerListOptions.render([try Self.summary()], format: "table {{.Names}}\t{{.State}}", quiet: false,
                                               size: false, trunc: true, now: Self.now)
        #expect(text == "NAMES     STATE\nweb       running\n")
    }

    @Test(arguments: [
        ("[]", ""),
        ("[{\"PrivatePort\":80,\"Type\":\"tcp\"}]", "80/tcp"),
        ("[{\"PrivatePort\":80,\"Type\":\"tcp\"},{\"PrivatePort\":81,\"Type\":\"tcp\"},{\"PrivatePort\":82,\"Type\":\"tcp\"},{\"PrivatePort\":53,\"Type\":\"udp\"}]",
         "53/udp, 80-82/tcp"),
        ("[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"},{\"IP\":\"::\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"}]",
         "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"),
        ("[{\"IP\":\"0.0.0.0\",\"PrivatePort\":9000,\"PublicPort\":9000,\"Type\":\"udp\"},{\"IP\":\"0.0.0.0\",\"PrivatePort\":9001,\"PublicPort\":9001,\"Type\":\"udp\"}]",
         "0.0.0.0:9000-9001->9000-9001/udp"),
    ])
    func ports(json: String, text: String) throws {
        let c = try Self.summary(ports: json)
        #expect(ContainerFormat.displayablePorts(c.Ports) == text)
    }

    @Test func namesSkipLinks() {
        #expect(ContainerFormat.names(["/web", "/other/alias"], trunc: true) == "web")
        #expect(ContainerFormat.names(["/other/alias", "/web"], trunc: true) == "web")
        #expect(ContainerFormat.names(["/web", "/other/alias"], trunc: false) == "web,other/alias")
    }

    @Test func imageIsShortenedWhenTruncating() throws {
        let byID = try Self.summary(image: "sha256:7d80cc26767f200fd5aa2f89042678f0990684e46d075fb0053ce146189b2228")
        #expect(ContainerFormat.image(byID, trunc: true) == "7d80cc26767f")
        let digest = try Self.summary(image: "busybox:1@sha256:abc")
        #expect(ContainerFormat.image(digest, trunc: true) == "busybox:1")
        #expect(ContainerFormat.image(digest, trunc: false) == "busybox:1@sha256:abc")
    }

    @Test(arguments: [
        ("short", 20, "short"), ("12345678901234567890", 20, "12345678901234567890"),
        ("123456789012345678901", 20, "1234567890123456789…"), ("日本語の長いコマンドです", 10, "日本語の…"), ("ab", 1, "a"),
    ])
    func ellipsis(text: String, width: Int, expected: String) {
        #expect(ContainerFormat.ellipsis(text, width) == expected)
    }

    @Test(arguments: [
        ("a b", "\"a b\""), ("say \"hi\"", "\"say \\\"hi\\\"\""), ("tab\there", "\"tab\\there\""), ("back\\slash", "\"back\\\\slash\""),
        ("\u{01}", "\"\\x01\""), ("é…", "\"é…\""),
    ])
    func goQuote(text: String, quoted: String) {
        #expect(ContainerFormat.goQuote(text) == quoted)
    }
}
