import BerthCore
import BerthOCI
import BerthRuntime
import Foundation
import Testing

/// Bad bundles fail with an error naming the problem, exit non-zero, and leave nothing behind:
/// no state directory, cgroup, process or mount.
@Suite("bad input")
struct BadInputTests {
    /// Runs `create` on a bundle whose config.json is `config` (or made by `edit`) and checks the
    /// error and the absence of leftovers.
    func expectFailure(_ h: RuntimeHarness, id: String, mentioning words: [String],
                       rawConfig: String? = nil, edit: (inout RuntimeSpec) -> Void = { _ in }) throws {
        let mountsBefore = RuntimeHarness.hostMountCount()
        let b = try h.bundle(id, args: ["true"], edit: edit)
        if let rawConfig { try rawConfig.write(toFile: "\(b)/config.json", atomically: true, encoding: .utf8) }
        for verb in ["create", "run"] {
            let r = try h.initCmd([verb, "--bundle", b, id])
            #expect(r.code != 0, "\(verb) should fail")
            for w in words { #expect(r.stderr.contains(w), "\(verb): stderr \(r.stderr) should mention \(w)") }
            #expect(!FileManager.default.fileExists(atPath: "\(h.stateRoot)/\(id)"), "state dir left behind")
            #expect(h.leftoverCgroups().isEmpty, "cgroups left: \(h.leftoverCgroups())")
            #expect(h.leftoverProcesses().isEmpty, "processes left: \(h.leftoverProcesses())")
            #expect(RuntimeHarness.hostMountCount() == mountsBefore)
        }
    }

    func withHarness(_ body: (RuntimeHarness) throws -> Void) throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        try body(h)
    }

    @Test func wrongType() throws {
        try withHarness { h in
            try expectFailure(h, id: "wt", mentioning: ["process.args", "expected array"],
                              rawConfig: #"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"process":{"user":{"uid":0,"gid":0},"cwd":"/","args":"sh"},"linux":{"namespaces":[{"type":"mount"}]}}"#)
        }
    }

    @Test func missingField() throws {
        try withHarness { h in
            try expectFailure(h, id: "mf", mentioning: ["ociVersion"],
                              rawConfig: #"{"root":{"path":"rootfs"},"process":{"user":{"uid":0,"gid":0},"cwd":"/","args":["true"]}}"#)
            try expectFailure(h, id: "mf2", mentioning: ["process"],
                              rawConfig: #"{"ociVersion":"1.2.0","root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}}"#)
        }
    }

    @Test func malformedJSON() throws {
        try withHarness { h in
            try expectFailure(h, id: "mj", mentioning: ["config.json", "invalid json"], rawConfig: #"{"ociVersion": "1.2.0", "#)
        }
    }

    @Test func missingRootfs() throws {
        try withHarness { h in
            try expectFailure(h, id: "mr", mentioning: ["rootfs", "does not exist"]) { $0.root?.path = "no-such-rootfs" }
        }
    }

    @Test func unknownNamespace() throws {
        try withHarness { h in
            try expectFailure(h, id: "un", mentioning: ["unknown namespace type", "bogus"]) {
                $0.linux?.namespaces?.append(.init(type: "bogus"))
            }
        }
    }

    @Test func unwritableCgroupValue() throws {
        try withHarness { h in
            try expectFailure(h, id: "cg", mentioning: ["cpuset.cpus", "64-70"]) {
                $0.linux?.resources?.cpu = .init(cpus: "64-70")
            }
        }
    }

    @Test func missingProgram() throws {
        try withHarness { h in
            try expectFailure(h, id: "np", mentioning: ["executable file not found", "nosuchcmd"]) {
                $0.process?.args = ["nosuchcmd"]
            }
        }
    }

    @Test func badMount() throws {
        try withHarness { h in
            try expectFailure(h, id: "bm", mentioning: ["/nonexistent-source"]) {
                $0.mounts?.append(.init(destination: "/x", type: "bind", source: "/nonexistent-source", options: ["bind"]))
            }
        }
    }

    @Test func duplicateID() throws {
        try withHarness { h in
            let b = try h.bundle("dup", args: ["sleep", "10"])
            #expect(try h.initCmd(["create", "--bundle", b, "dup"]).code == 0)
            let again = try h.initCmd(["create", "--bundle", b, "dup"])
            #expect(again.code != 0)
            #expect(again.stderr.contains("already exists"), "\(again.stderr)")
            // The first container is untouched.
            #expect(try h.initCmd(["state", "dup"]).stdout.contains("\"created\""))
            #expect(try h.initCmd(["delete", "--force", "dup"]).code == 0)
            #expect(h.leftoverCgroups().isEmpty)
            usleep(100_000)
            #expect(h.leftoverProcesses().isEmpty, "\(h.leftoverProcesses())")
        }
    }

    @Test func invalidIDs() throws {
        try withHarness { h in
            let b = try h.bundle("ok", args: ["true"])
            for bad in ["../escape", "a/b", ".hidden", ""] {
                let r = try h.initCmd(["create", "--bundle", b, bad])
                #expect(r.code != 0)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.stateRoot).isEmpty)
        }
    }
}

/// Many create/start/delete cycles leak nothing.
@Suite("leaks")
struct LeakTests {
    @Test func twoHundredCyclesLeakNothing() throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        let mountsBefore = RuntimeHarness.hostMountCount()
        let b = try h.bundle("cycle", args: ["true"])
        for i in 0..<200 {
            let id = "c\(i)"
            var spec = try BerthJSONDecoder().decode(RuntimeSpec.self, from: [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(b)/config.json"))))
            spec.linux?.cgroupsPath = "\(h.cgroupParent)/\(id)"
            try h.writeConfig(spec, bundle: b)
            let c = try h.initCmd(["create", "--bundle", b, id])
            try #require(c.code == 0, "cycle \(i): \(c.stderr)")
            #expect(try h.initCmd(["start", id]).code == 0)
            _ = try h.waitExit(id)
            let d = try h.initCmd(["delete", id])
            try #require(d.code == 0, "cycle \(i) delete: \(d.stderr)")
        }
        usleep(200_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: h.stateRoot).isEmpty)
        #expect(h.leftoverCgroups().isEmpty, "\(h.leftoverCgroups().prefix(5))")
        #expect(h.leftoverProcesses().isEmpty, "\(h.leftoverProcesses().prefix(5))")
        #expect(RuntimeHarness.hostMountCount() == mountsBefore)
    }
}
