import BerthCore
import BerthSystem
import Glibc
import Testing
@testable import BerthVM

/// A temp directory with what a test VM needs: Debian's cloud kernel, Berth's initramfs and a
/// busybox root tree; a `QEMUBackend` rooted inside it. Missing tools make the test fail
/// with what to install (CI installs them through scripts/setup), never pass silently.
struct VMFixture {
    let dir: String
    let kernel: GuestKernel
    let initrd: String
    let backend: QEMUBackend

    static func requireTools() throws {
        let needed = [("/usr/bin/qemu-system-x86_64", "qemu-system-x86"), ("/usr/bin/qemu-img", "qemu-utils"),
                      ("/usr/sbin/mke2fs", "e2fsprogs"), ("/bin/busybox", "busybox-static")]
        for (path, package) in needed where access(path, X_OK) != 0 {
            throw BerthError.notFound("\(path) is missing: run scripts/setup (apt package \(package))")
        }
    }

    /// Runs `body` with a fresh fixture; kills every VM it started and removes the directory,
    /// whether `body` fails or not.
    static func with(_ body: (VMFixture) async throws -> Void) async throws {
        try requireTools()
        let kernel = try GuestKernel.findCloudKernel()
        var template = Array("/tmp/berth-vm-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw BerthError.sys("mkdtemp") }
        let dir = String(cString: p)
        let fixture: VMFixture
        do {
            let initrd = dir + "/initrd.cpio"
            try Initramfs.write(to: initrd, kernel: kernel)
            let backend = try QEMUBackend(options: .init(root: dir + "/vms"))
            fixture = VMFixture(dir: dir, kernel: kernel, initrd: initrd, backend: backend)
        } catch {
            try? FileSystem.removeTree(dir)
            throw error
        }
        do {
            try await body(fixture)
        } catch {
            await fixture.cleanUp()
            throw error
        }
        await fixture.cleanUp()
    }

    func cleanUp() async {
        await backend.killAll()
        // Belt and braces: any qemu still running with a path in our directory is ours.
        for pid in VMFixture.qemuPIDs(mentioning: dir) {
            _ = Glibc.kill(pid, SIGKILL)
        }
        try? FileSystem.removeTree(dir)
    }

    /// Pids of processes whose command line mentions `text` (our temp dir).
    static func qemuPIDs(mentioning text: String) -> [pid_t] {
        var out: [pid_t] = []
        for name in (try? FileSystem.list("/proc")) ?? [] {
            guard let pid = pid_t(name), pid != getpid() else { continue }
            guard let bytes = try? FileSystem.read("/proc/\(name)/cmdline"), !bytes.isEmpty else { continue }
            let cmd = String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if cmd.contains("qemu-system") && cmd.contains(text) { out.append(pid) }
        }
        return out
    }

    /// A busybox root tree: /bin/busybox with its applets as symlinks, /sbin/init, /etc.
    func makeBusyboxTree(_ name: String = "tree") throws -> String {
        let root = dir + "/" + name
        for d in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            try FileSystem.makeDirectories(root + "/" + d)
        }
        try FileSystem.writeAtomically(root + "/bin/busybox", try FileSystem.read("/bin/busybox"), mode: 0o755, durable: false)
        let list = try Subprocess.check("/bin/busybox", ["--list-full"], tool: "busybox-static", what: "list applets")
        for path in list.text.split(separator: "\n") where path != "bin/busybox" {
            let depth = path.split(separator: "/").count - 1
            let target = String(repeating: "../", count: depth) + "bin/busybox"
            if symlink(target, root + "/" + path) != 0 && errno != EEXIST { throw BerthError.sys("symlink \(path)") }
        }
        try FileSystem.writeAtomically(root + "/etc/passwd", Array("root:x:0:0:root:/root:/bin/sh\n".utf8), durable: false)
        try FileSystem.writeAtomically(root + "/etc/group", Array("root:x:0:\n".utf8), durable: false)
        try FileSystem.writeAtomically(root + "/etc/inittab", Array("""
            ::sysinit:/bin/mount -t proc proc /proc
            ::sysinit:/bin/echo berth-test: busybox init ran
            ::respawn:/bin/sleep 1000

            """.utf8), durable: false)
        return root
    }

    /// A 10 GiB (virtual) qcow2 root disk made from a busybox tree.
    func makeRootDisk(_ name: String = "root.qcow2", size: UInt64 = 10 << 30) throws -> String {
        let tree = try makeBusyboxTree()
        let path = dir + "/" + name
        try DiskImage().makeRootDisk(at: path, from: tree, virtualSize: size)
        return path
    }

    func config(_ name: String, disks: [VMDisk], command: [String]?, memoryMiB: Int = 256) -> VMConfig {
        VMConfig(name: name, vcpus: 1, memoryMiB: memoryMiB, kernel: kernel.image, initrd: initrd,
                 disks: disks, hostname: name, command: command)
    }

    /// Waits until the console shows `text` (or fails after `timeout` seconds).
    /// (`via`: another backend on the same root, after an adoption.)
    func waitForConsole(_ name: String, _ text: String, timeout: Double = 60, via other: QEMUBackend? = nil) async throws -> Double {
        let backend = other ?? self.backend
        let start = monotonicSeconds()
        while monotonicSeconds() - start < timeout {
            let out = String(decoding: try await backend.consoleOutput(name), as: UTF8.self)
            if out.contains(text) { return monotonicSeconds() - start }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        let out = String(decoding: try await backend.consoleOutput(name), as: UTF8.self)
        throw BerthError(.internal, "vm \(name): \"\(text)\" not on the console after \(timeout) s; console:\n\(out)")
    }

    func console(_ name: String) async throws -> String {
        String(decoding: try await backend.consoleOutput(name), as: UTF8.self)
    }
}
