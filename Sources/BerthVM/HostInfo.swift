#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// How QEMU executes guest code.
public enum Accelerator: String, Sendable, Codable {
    /// Hardware virtualization through /dev/kvm (needs VMX or SVM).
    case kvm
    /// QEMU's binary translator: slower, works everywhere.
    case tcg
}

/// What the host offers VMs: CPUs, memory, and whether KVM can really run guests.
public enum HostInfo {
    /// Online CPUs (the most vCPUs a VM may have).
    public static func onlineCPUs() -> Int {
        max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// MemTotal from /proc/meminfo, in MiB.
    public static func memoryMiB() -> Int {
        guard let text = try? FileSystem.readString("/proc/meminfo") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb / 1024
        }
        return 0
    }

    /// KVM when `/dev/kvm` can be opened read-write *and* the CPU advertises VMX or SVM;
    /// TCG otherwise. A /dev/kvm without those flags is a paravirtualized one (like this
    /// machine's nested PVM) that cannot boot stock guests.
    public static func preferredAccelerator(kvmDevice: String = "/dev/kvm", cpuinfo: String = "/proc/cpuinfo") -> Accelerator {
        guard access(kvmDevice, R_OK | W_OK) == 0 else { return .tcg }
        guard let text = try? FileSystem.readString(cpuinfo) else { return .tcg }
        return cpuinfoHasVirtualization(text) ? .kvm : .tcg
    }

    /// Whether a /proc/cpuinfo text has `vmx` or `svm` among the flags of its processors.
    public static func cpuinfoHasVirtualization(_ text: String) -> Bool {
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let flags = line[line.index(after: colon)...].split(separator: " ")
            if flags.contains("vmx") || flags.contains("svm") { return true }
        }
        return false
    }
}
