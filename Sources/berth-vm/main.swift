// berth-vm: a developer tool over BerthVM, for benchmarks (bench/vm.sh) and for poking at VMs
// by hand before the engine serves them. Not the user interface (that will be `berth vm`).
//
//   berth-vm initramfs OUT                      Berth's initramfs for the newest cloud kernel
//   berth-vm rootdisk TREE OUT SIZE_MIB          an ext4 qcow2 root disk from a directory
//   berth-vm run [OPTIONS] -- CMD...             boot, run CMD, print the console, exit with CMD's status
//   berth-vm argv [OPTIONS] -- CMD...            the qemu argv `run` would use (one per line, without -S)
// OPTIONS: --initrd PATH (required) --disk PATH (repeatable) --cpus N --memory MIB --state DIR
#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import BerthVM

func fail(_ message: String) -> Never {
    var m = "berth-vm: \(message)\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

struct Options {
    var initrd: String?
    var disks: [String] = []
    var cpus = 1
    var memory = 256
    var state = "/tmp/berth-vm-state"
    var command: [String] = []
}

func parse(_ args: ArraySlice<String>) -> Options {
    var o = Options()
    var i = args.startIndex
    func value() -> String {
        i += 1
        guard i < args.endIndex else { fail("\(args[i - 1]) needs a value") }
        return args[i]
    }
    while i < args.endIndex {
        switch args[i] {
        case "--initrd": o.initrd = value()
        case "--disk": o.disks.append(value())
        case "--cpus": o.cpus = Int(value()) ?? 0
        case "--memory": o.memory = Int(value()) ?? 0
        case "--state": o.state = value()
        case "--": o.command = Array(args[(i + 1)...]); return o
        default: fail("unknown option \(args[i])")
        }
        i += 1
    }
    return o
}

func config(_ o: Options, kernel: GuestKernel) -> VMConfig {
    guard let initrd = o.initrd else { fail("--initrd is required") }
    return VMConfig(name: "vm\(getpid())", vcpus: o.cpus, memoryMiB: o.memory, kernel: kernel.image, initrd: initrd,
                    disks: o.disks.map { VMDisk(path: $0) }, command: o.command.isEmpty ? nil : o.command)
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: berth-vm initramfs|rootdisk|run|argv …") }
do {
    let kernel = try GuestKernel.findCloudKernel()
    switch args[1] {
    case "initramfs":
        guard args.count == 3 else { fail("usage: berth-vm initramfs OUT") }
        let s = try Initramfs.write(to: args[2], kernel: kernel)
        print("\(args[2]): \(s.size) bytes for \(kernel.image), modules: \(s.modules.joined(separator: " "))")
    case "rootdisk":
        guard args.count == 5, let mib = UInt64(args[4]) else { fail("usage: berth-vm rootdisk TREE OUT SIZE_MIB") }
        try DiskImage().makeRootDisk(at: args[3], from: args[2], virtualSize: mib << 20)
    case "argv":
        let o = parse(args[2...])
        let c = config(o, kernel: kernel)
        let q = QEMUCommandLine(binary: "/usr/bin/qemu-system-x86_64", accelerator: HostInfo.preferredAccelerator(),
                                firmware: QEMUBackend.Options(root: o.state).firmware)
        let d = o.state + "/raw"
        for a in q.arguments(for: c, paths: .init(qmpSocket: d + "-qmp.sock", consoleSocket: d + "-console.sock", consoleLog: d + "-console.log"))
        where a != "-S" {
            print(a)
        }
    case "run":
        let o = parse(args[2...])
        let c = config(o, kernel: kernel)
        let backend = try QEMUBackend(options: .init(root: o.state))
        try await backend.create(c)
        do {
            try await backend.start(c.name)
            _ = try await backend.wait(c.name, timeout: nil)
        } catch {
            await backend.killAll()
            try? await backend.delete(c.name)
            throw error
        }
        let out = try await backend.consoleOutput(c.name)
        try FD.writeAll(1, out)
        try await backend.delete(c.name)
        exit(GuestInit.exitStatus(inConsole: out) ?? 125)
    default:
        fail("unknown command \(args[1])")
    }
} catch {
    fail("\(error)")
}
