import BerthCore
import BerthOCI
@testable import BerthRuntime
import Foundation
import Testing

/// Docker's profile format and the moby `setupSeccomp` filtering.
@Suite("seccomp docker profile")
struct SeccompProfileTests {
    /// shared/specs/docker-default-seccomp.json, found from this file: the repo is three levels
    /// up, and shared/ sits beside it (or inside it, in some checkouts).
    static func specPath() throws -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        var dir = url
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("shared/specs/docker-default-seccomp.json").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        throw BerthError.notFound("shared/specs/docker-default-seccomp.json not found above \(url.path)")
    }

    @Test("the embedded profile is the spec file, byte for byte")
    func embeddedProfileMatchesSpec() throws {
        let file = try Data(contentsOf: URL(fileURLWithPath: try Self.specPath()))
        #expect(Array(file) == Array(DockerSeccompProfile.defaultJSON.utf8))
    }

    @Test("the default profile parses")
    func parses() throws {
        let p = try DockerSeccompProfile.default
        #expect(p.defaultAction == "SCMP_ACT_ERRNO")
        #expect(p.defaultErrnoRet == 1)
        #expect(p.archMap?.first?.architecture == "SCMP_ARCH_X86_64")
        #expect(p.archMap?.first?.subArchitectures == ["SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #expect((p.syscalls?.count ?? 0) > 30)
        #expect(p.syscalls?.first?.names?.contains("accept4") == true)
    }

    @Test("the fast reader and the Decodable path agree; bad input names its path")
    func readerMatchesDecodable() throws {
        let bytes = Array(DockerSeccompProfile.defaultJSON.utf8)
        let viaCodable = try BerthJSONDecoder().decode(DockerSeccompProfile.self, from: bytes)
        #expect(try DockerSeccompProfile.parse(bytes) == viaCodable)
        let bad = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["x"], "action": 7}]}"#
        #expect {
            try DockerSeccompProfile.parse(Array(bad.utf8))
        } throws: { e in
            (e as? BerthError)?.message == "seccomp profile: syscalls[1].action: expected a string"
        }
        let big = #"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4294967296}"#
        #expect(throws: BerthError.self) { try DockerSeccompProfile.parse(Array(big.utf8)) }
        let nulls = #"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": null, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": {}}], "extra": 1}"#
        let p = try DockerSeccompProfile.parse(Array(nulls.utf8))
        #expect(p.archMap == nil && p.syscalls?.first?.args == nil && p.syscalls?.first?.includes == DockerSeccompProfile.Filter())
        #expect(throws: BerthError.self) { try DockerSeccompProfile.parse(Array("{".utf8)) }
    }

    func rules(_ c: RuntimeSpec.Seccomp, for name: String) -> [RuntimeSpec.Syscall] {
        (c.syscalls ?? []).filter { $0.names.contains(name) }
    }

    @Test("default capabilities: no CAP_SYS_ADMIN calls, clone only without namespace flags, clone3 ENOSYS")
    func defaultCapabilities() throws {
        let c = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities, kernelRelease: "6.1.0-18-amd64")
        #expect(c.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #expect(c.defaultAction == "SCMP_ACT_ERRNO")
        #expect(c.defaultErrnoRet == 1)
        for blocked in ["mount", "unshare", "setns", "bpf", "open_by_handle_at", "reboot", "init_module", "kexec_load", "keyctl", "add_key"] {
            #expect(rules(c, for: blocked).isEmpty, "\(blocked) should have no rule")
        }
        let clone = rules(c, for: "clone")
        #expect(clone.count == 1)
        #expect(clone.first?.args == [RuntimeSpec.SyscallArg(index: 0, value: 2_114_060_288, op: "SCMP_CMP_MASKED_EQ")])
        #expect(rules(c, for: "clone3").map(\.errnoRet) == [38])
        #expect(rules(c, for: "chroot").count == 1)  // CAP_SYS_CHROOT is a default capability
        #expect(rules(c, for: "arch_prctl").count == 1)  // includes arches amd64
        #expect(rules(c, for: "modify_ldt").count == 1)
        #expect(rules(c, for: "s390_runtime_instr").isEmpty)
        #expect(rules(c, for: "ptrace").count == 1)  // minKernel 4.8
        #expect(rules(c, for: "personality").count == 5)
        #expect(rules(c, for: "socket").count == 3)
    }

    @Test("CAP_SYS_ADMIN adds its calls and drops the restricted clone rules; caps match without CAP_ prefix")
    func sysAdmin() throws {
        let c = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities + ["sys_admin"], kernelRelease: "6.1")
        #expect(rules(c, for: "mount").count == 1)
        #expect(rules(c, for: "unshare").count == 1)
        #expect(rules(c, for: "clone").map { $0.args == nil } == [true])
        #expect(rules(c, for: "clone3").map(\.action) == ["SCMP_ACT_ALLOW"])
        #expect(rules(c, for: "clone3").first?.errnoRet == nil)
    }

    @Test("architecture filters use Go names, the arch map gives the sub-arches")
    func arches() throws {
        let arm = try DockerSeccompProfile.default.ociConfig(capabilities: [], arch: "SCMP_ARCH_AARCH64", kernelRelease: "6.1")
        #expect(arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        #expect(rules(arm, for: "arch_prctl").isEmpty)
        #expect(rules(arm, for: "breakpoint").count == 1)
        let s390 = try DockerSeccompProfile.default.ociConfig(capabilities: [], arch: "s390x", kernelRelease: "6.1")
        #expect(rules(s390, for: "clone").map { $0.args?.first?.index } == [1])
        let riscv = try DockerSeccompProfile.default.ociConfig(capabilities: [], arch: "SCMP_ARCH_RISCV64", kernelRelease: "6.1")
        #expect(riscv.architectures == ["SCMP_ARCH_RISCV64"])
        #expect(throws: BerthError.self) { try DockerSeccompProfile.default.ociConfig(capabilities: [], arch: "SCMP_ARCH_VAX") }
    }

    @Test("minKernel against the kernel release: major.minor only")
    func minKernel() throws {
        let old = try DockerSeccompProfile.default.ociConfig(capabilities: [], kernelRelease: "4.7.10-gentoo")
        #expect(rules(old, for: "ptrace").isEmpty)
        let exact = try DockerSeccompProfile.default.ociConfig(capabilities: [], kernelRelease: "4.8-1-amd64")
        #expect(rules(exact, for: "ptrace").count == 1)
        let live = try DockerSeccompProfile.default.ociConfig(capabilities: [])
        #expect(rules(live, for: "ptrace").count == 1)  // this host runs something newer than 4.8
        #expect(try KernelVersion("6.18.44-fc-v782") == KernelVersion(major: 6, minor: 18))
        #expect(try KernelVersion("3.12") < KernelVersion("4.1"))
        #expect(try KernelVersion("10.0") > KernelVersion("9.99"))
        #expect(throws: BerthError.self) { try KernelVersion("six") }
        #expect(throws: BerthError.self) { try KernelVersion("6") }
    }

    @Test("excludes: any match drops the rule; includes: all must match; name folds into names")
    func filters() throws {
        let p = DockerSeccompProfile(defaultAction: "SCMP_ACT_ERRNO", archMap: [.init(architecture: "SCMP_ARCH_X86_64", subArchitectures: nil)], syscalls: [
            .init(names: ["a1"], action: "SCMP_ACT_ALLOW", includes: .init(caps: ["CAP_A", "CAP_B"])),
            .init(names: ["a2"], action: "SCMP_ACT_ALLOW", excludes: .init(caps: ["CAP_C", "CAP_A"])),
            .init(names: ["a3"], action: "SCMP_ACT_ALLOW", excludes: .init(arches: ["arm64"])),
            .init(names: ["a4"], action: "SCMP_ACT_ALLOW", includes: .init(arches: ["arm64", "amd64"], minKernel: "99.0")),
            .init(names: ["a5"], action: "SCMP_ACT_ALLOW", excludes: .init(minKernel: "5.0")),
            .init(names: ["a6"], action: "SCMP_ACT_ALLOW", includes: .init(minKernel: "")),
        ])
        let none = try p.ociConfig(capabilities: ["CAP_A"], kernelRelease: "6.1")
        #expect(none.syscalls?.map(\.names) == [["a3"], ["a6"]])
        #expect(none.architectures == ["SCMP_ARCH_X86_64"])
        let both = try p.ociConfig(capabilities: ["CAP_A", "CAP_B"], kernelRelease: "4.19")
        #expect(both.syscalls?.map(\.names) == [["a1"], ["a3"], ["a5"], ["a6"]])
        var named = p
        named.syscalls = [DockerSeccompProfile.Rule(names: [], action: "SCMP_ACT_ALLOW")]
        named.syscalls?[0].name = "getpid"
        #expect(try named.ociConfig(capabilities: [], kernelRelease: "6.1").syscalls?.first?.names == ["getpid"])
        named.syscalls?[0].names = ["getppid"]
        #expect(throws: BerthError.self) { try named.ociConfig(capabilities: [], kernelRelease: "6.1") }
        var both2 = p
        both2.architectures = ["SCMP_ARCH_X86_64"]
        #expect(throws: BerthError.self) { try both2.ociConfig(capabilities: [], kernelRelease: "6.1") }
    }

    @Test("every name in Docker's profile that an x86 ABI has is in our table")
    func namesKnown() throws {
        let c = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities + ["CAP_SYS_ADMIN"], kernelRelease: "6.18")
        let p = try SeccompCompiler.compile(c)
        // What is left over belongs to other architectures (arm, riscv, s390, powerpc, mips).
        let foreign: Set<String> = ["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush",
                                    "recv", "send", "set_tls", "riscv_hwprobe", "riscv_flush_icache",
                                    "sync_file_range2", "swapcontext", "s390_pci_mmio_read",
                                    "s390_pci_mmio_write", "s390_runtime_instr"]
        #expect(Set(p.unknownSyscalls).isSubset(of: foreign), "\(p.unknownSyscalls)")
    }

    @Test("the Docker default compiles to a compact program")
    func programSize() throws {
        let c = try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities, kernelRelease: "6.18")
        let p = try SeccompCompiler.compile(c)
        #expect(p.instructions.count < 1024, "\(p.instructions.count) instructions")
        // Roundtrip through JSON, as the engine writes it into config.json and berth-init reads it.
        let bytes = try BerthJSONEncoder().encode(c)
        let back = try BerthJSONDecoder().decode(RuntimeSpec.Seccomp.self, from: bytes)
        #expect(back == c)
        #expect(try SeccompCompiler.compile(back) == p)
    }
}
