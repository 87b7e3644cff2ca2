/// An architecture (system call ABI) the seccomp compiler emits code for: the ones an x86_64
/// kernel can run. Raw values are the OCI / libseccomp names.
public enum SeccompArch: String, Sendable, CaseIterable, Comparable {
    case x86_64 = "SCMP_ARCH_X86_64"
    /// i386 (int 0x80, sysenter) processes and calls.
    case x86 = "SCMP_ARCH_X86"
    /// The x32 ABI: x86_64 registers, 32-bit pointers; `nr` carries `x32SyscallBit`.
    case x32 = "SCMP_ARCH_X32"

    /// `__X32_SYSCALL_BIT`: set in every x32 system call number.
    public static let x32SyscallBit: UInt32 = 0x4000_0000

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch` (x32 shares x86_64's).
    public var auditArch: UInt32 {
        switch self {
        case .x86_64, .x32: return 0xC000_003E  // AUDIT_ARCH_X86_64
        case .x86: return 0x4000_0003  // AUDIT_ARCH_I386
        }
    }

    public static func < (a: SeccompArch, b: SeccompArch) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}

/// System call numbers by name, generated from the kernel headers by `scripts/gen-syscall-table`
/// (`SyscallTable+Generated.swift`).
public enum SyscallTable {
    /// The number of system call `name` on `arch` (x32 numbers include `x32SyscallBit`), or nil
    /// when the arch has no such call.
    public static func number(of name: String, arch: SeccompArch) -> UInt32? {
        guard let i = index(of: name) else { return nil }
        return number(at: i, arch: arch)
    }

    /// The name of system call `number` on `arch`, for diagnostics.
    public static func name(of number: UInt32, arch: SeccompArch) -> String? {
        for i in names.indices where self.number(at: i, arch: arch) == number { return names[i] }
        return nil
    }

    /// Every name known on `arch`, with its number.
    public static func all(arch: SeccompArch) -> [(name: String, number: UInt32)] {
        names.indices.compactMap { i in number(at: i, arch: arch).map { (names[i], $0) } }
    }

    /// Index of `name` in `names` (binary search: the generator sorts them).
    static func index(of name: String) -> Int? {
        var lo = 0
        var hi = names.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let n = names[mid]
            if n == name { return mid }
            if n < name { lo = mid + 1 } else { hi = mid }
        }
        return nil
    }

    /// Bound on every number in the tables (x32 without its bit): a compiler's per-number arrays
    /// have this many slots.
    static let slotCount = 1024

    /// The number of `names[index]` on `arch`, x32 without `x32SyscallBit`.
    static func rawNumber(at index: Int, arch: SeccompArch) -> Int? {
        let n: Int16
        switch arch {
        case .x86_64: n = x86_64Numbers[index]
        case .x86: n = x86Numbers[index]
        case .x32: n = x32Numbers[index]
        }
        return n >= 0 && Int(n) < slotCount ? Int(n) : nil
    }

    static func number(at index: Int, arch: SeccompArch) -> UInt32? {
        let n: Int16
        switch arch {
        case .x86_64: n = x86_64Numbers[index]
        case .x86: n = x86Numbers[index]
        case .x32: n = x32Numbers[index]
        }
        guard n >= 0 else { return nil }
        return arch == .x32 ? UInt32(n) | SeccompArch.x32SyscallBit : UInt32(n)
    }
}
