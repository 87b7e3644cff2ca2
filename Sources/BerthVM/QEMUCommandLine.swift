/// The qemu-system-x86_64 argv for a VM (pure: no files are touched).
///
/// q35 (under TCG, `microvm` hung early in about 1 boot in 10; q35 did not), `-accel kvm`
/// with `-cpu host` or `-accel tcg` with `-cpu max`; no default devices or user config;
/// no display; started with the vCPUs stopped (`-S`) so the QMP client is connected before
/// the guest runs; the serial port on a unix socket (for attach) that also logs everything
/// to a file (for `consoleOutput`, whether or not anyone is attached); virtio-blk disks with
/// explicit formats; tap-backed virtio-net; vhost-user-fs shares (guest memory then a shared
/// memfd, `-machine q35,memory-backend=mem`). A guest reboot ends QEMU (`-no-reboot`).
public struct QEMUCommandLine: Sendable {
    /// Where the VM's runtime files live.
    public struct Paths: Sendable {
        /// The QMP socket.
        public var qmpSocket: String
        /// The serial console socket.
        public var consoleSocket: String
        /// The serial console log.
        public var consoleLog: String
        public init(qmpSocket: String, consoleSocket: String, consoleLog: String) {
            self.qmpSocket = qmpSocket
            self.consoleSocket = consoleSocket
            self.consoleLog = consoleLog
        }
    }

    /// The emulator binary.
    public var binary: String
    /// KVM or TCG.
    public var accelerator: Accelerator
    /// Firmware image (`-bios`), nil for QEMU's default SeaBIOS. qboot boots a `-kernel`
    /// directly and prints nothing on the serial port.
    public var firmware: String?

    public init(binary: String, accelerator: Accelerator, firmware: String?) {
        self.binary = binary
        self.accelerator = accelerator
        self.firmware = firmware
    }

    /// The full argv (argv[0] is `binary`). `incoming`: wait for a live migration
    /// (`-incoming defer`, then QMP `migrate-incoming`) instead of booting.
    public func arguments(for config: VMConfig, paths: Paths, incoming: Bool = false) -> [String] {
        var a = [binary,
                 "-name", "guest=\(escape(config.name)),debug-threads=on",
                 "-machine", config.shares.isEmpty ? "q35" : "q35,memory-backend=mem",
                 "-accel", accelerator.rawValue,
                 "-cpu", accelerator == .kvm ? "host" : "max",
                 "-smp", String(config.vcpus),
                 "-m", "\(config.memoryMiB)M",
                 "-nodefaults", "-no-user-config", "-nographic",
                 "-no-reboot"]
        if !config.shares.isEmpty {
            // vhost-user-fs: the daemon maps guest memory, so it must be a shared memfd.
            a += ["-object", "memory-backend-memfd,id=mem,size=\(config.memoryMiB)M,share=on"]
        }
        a += incoming ? ["-incoming", "defer"] : ["-S"]
        if let firmware { a += ["-bios", firmware] }
        a += ["-qmp", "unix:\(escape(paths.qmpSocket)),server=on,wait=off"]
        a += ["-chardev", "socket,id=console,path=\(escape(paths.consoleSocket)),server=on,wait=off,logfile=\(escape(paths.consoleLog)),logappend=on",
              "-serial", "chardev:console"]
        a += ["-kernel", config.kernel]
        if let initrd = config.initrd { a += ["-initrd", initrd] }
        a += ["-append", GuestInit.kernelCommandLine(for: config)]
        for (i, d) in config.disks.enumerated() {
            var drive = "file=\(escape(d.path)),if=none,id=disk\(i),format=\(d.format),discard=unmap"
            if d.readOnly { drive += ",readonly=on" }
            a += ["-drive", drive, "-device", "virtio-blk-pci,drive=disk\(i)"]
        }
        for (i, n) in config.networks.enumerated() {
            a += ["-netdev", "tap,id=net\(i),ifname=\(n.tap),script=no,downscript=no"]
            var dev = "virtio-net-pci,netdev=net\(i)"
            if let mac = n.mac { dev += ",mac=\(mac)" }
            a += ["-device", dev]
        }
        for (i, s) in config.shares.enumerated() {
            a += ["-chardev", "socket,id=fs\(i),path=\(escape(s.socket))",
                  "-device", "vhost-user-fs-pci,chardev=fs\(i),tag=\(s.tag)"]
        }
        if !config.outputPorts.isEmpty || !config.inputPorts.isEmpty {
            a += ["-device", "virtio-serial-pci,id=vser0"]
            for (i, p) in config.outputPorts.enumerated() {
                a += ["-chardev", "file,id=port\(i),path=\(escape(p.path))",
                      "-device", "virtserialport,bus=vser0.0,chardev=port\(i),name=\(p.name)"]
            }
            for (i, p) in config.inputPorts.enumerated() {
                a += ["-chardev", "socket,id=input\(i),path=\(escape(p.socket)),server=on,wait=off",
                      "-device", "virtserialport,bus=vser0.0,chardev=input\(i),name=\(p.name)"]
            }
        }
        return a
    }

    /// QEMU option values escape a comma by doubling it.
    func escape(_ s: String) -> String {
        s.split(separator: ",", omittingEmptySubsequences: false).joined(separator: ",,")
    }
}
