import ArgumentParser
import BerthAPI
@testable import BerthCLI
import Testing

/// `berth vm create`: flags → the request body.
struct VMCommandTests {
    @Test func createFlagsMakeTheRequest() throws {
        let c = try VMCreateCommand.parse(["--image", "busybox:test", "--name", "v1", "--cpus", "2", "-m", "512m",
                                           "--disk-size", "10g", "--disk", "1g", "--network", "n1", "--hostname", "h"])
        let r = try c.request()
        #expect(r.Image == "busybox:test")
        #expect(r.Cpus == 2)
        #expect(r.MemoryMiB == 512)
        #expect(r.DiskSize == 10 << 30)
        #expect(r.ExtraDisks == [1 << 30])
        #expect(r.Networks == ["n1"])
        #expect(r.Hostname == "h")
        #expect(r.Cmd == nil)
    }

    /// The guest command follows `--`, which is not part of it (it was once passed to the guest).
    @Test(arguments: [
        (["--image", "i", "--", "echo", "--", "x"], ["echo", "--", "x"]),
        (["--image", "i", "sh", "-c", "exit 3"], ["sh", "-c", "exit 3"]),
        (["--image", "i", "--", "sh", "-c", "exit 3"], ["sh", "-c", "exit 3"]),
    ])
    func guestCommandAfterTheSeparator(args: [String], command: [String]) throws {
        #expect(try VMCreateCommand.parse(args).request().Cmd == command)
    }
}
