import BerthCore
import Testing
@testable import BerthVM

/// `--isolation vm` pieces that need no boot: the run spec, its initramfs appendix, the
/// virtio-serial ports on QEMU's command line, the init's hand-over to the agent.
@Suite("guest agent units")
struct GuestAgentUnitTests {
    @Test func specRoundTripsThroughJSON() throws {
        let spec = GuestRunSpec(args: ["sh", "-c", "echo 'a b'; exit 7"], env: ["PATH=/bin", "FOO=bar baz"], cwd: "/tmp",
                                uid: 65534, gid: 65534, additionalGids: [5], hostname: "guesty")
        #expect(try GuestRunSpec.decode(try spec.encoded()) == spec)
    }

    @Test func appendixIsANewcArchiveWithTheSpec() throws {
        let spec = GuestRunSpec(args: ["true"], env: [])
        let bytes = try spec.initramfsAppendix()
        #expect(bytes.count % 4 == 0)
        #expect(String(decoding: bytes.prefix(6), as: UTF8.self) == "070701")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("berth/spec.json"))
        #expect(text.contains(#"["true"]"#))
        #expect(text.contains("TRAILER!!!"))
    }

    @Test func outputPortsBecomeVirtioSerialFileChardevs() {
        var config = VMConfig(name: "c1", kernel: "/k", initrd: "/i", kernelArguments: [GuestRunSpec.agentWord])
        config.outputPorts = [VMOutputPort(name: "berth.stdout", path: "/s/out,x"), VMOutputPort(name: "berth.stderr", path: "/s/err")]
        let argv = QEMUCommandLine(binary: "qemu", accelerator: .tcg, firmware: nil)
            .arguments(for: config, paths: .init(qmpSocket: "/s/q", consoleSocket: "/s/c", consoleLog: "/s/l"))
        let joined = argv.joined(separator: " ")
        #expect(joined.contains("-device virtio-serial-pci,id=vser0"))
        #expect(joined.contains("-chardev file,id=port0,path=/s/out,,x -device virtserialport,bus=vser0.0,chardev=port0,name=berth.stdout"))
        #expect(joined.contains("-chardev file,id=port1,path=/s/err -device virtserialport,bus=vser0.0,chardev=port1,name=berth.stderr"))
        #expect(GuestInit.kernelCommandLine(for: config).hasSuffix(" berth.agent=1"))
        config.inputPorts = [VMInputPort(name: "berth.stdin", socket: "/s/in.sock")]
        let withInput = QEMUCommandLine(binary: "qemu", accelerator: .tcg, firmware: nil)
            .arguments(for: config, paths: .init(qmpSocket: "/s/q", consoleSocket: "/s/c", consoleLog: "/s/l")).joined(separator: " ")
        #expect(withInput.contains("-chardev socket,id=input0,path=/s/in.sock,server=on,wait=off -device virtserialport,bus=vser0.0,chardev=input0,name=berth.stdin"))
        #expect(withInput.ranges(of: "virtio-serial-pci").count == 1)
        // Old configs (no ports) still decode, and the ports survive a round trip.
        var e = BerthJSONEncoder()
        e.options = []
        #expect((try? BerthJSONDecoder().decode(VMConfig.self, from: try e.encode(config))) == config)
    }

    @Test func initHandsOverToTheAgent() {
        #expect(GuestInit.script.contains("berth.agent=1) agent=1"))
        #expect(GuestInit.script.contains("exec /sbin/berth-vm-agent"))
    }

    @Test func agentLooksUpProgramsInThePathOfTheSpec() {
        #expect(GuestAgent.lookPath("/bin/x", env: []) == "/bin/x")
        #expect(GuestAgent.lookPath("sh", env: ["PATH=/nonexistent:/bin"]) == "/bin/sh")
        #expect(GuestAgent.lookPath("no-such-program-anywhere", env: ["PATH=/bin"]) == nil)
    }
}
