#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BerthCore

/// The calling thread's `errno`.
@inline(__always)
public func currentErrno() -> Int32 { errno }

/// `strerror` for an error number, as a Swift string.
public func errnoDescription(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "errno \(code)" }
    return String(cString: s)
}

extension BerthError {
    /// A failed system call: `"mount /proc: Operation not permitted"`.
    /// The code is `.permissionDenied` for EPERM/EACCES, `.notFound` for ENOENT, `.system` else.
    public static func sys(_ what: String, _ code: Int32 = currentErrno()) -> BerthError {
        let kind: BerthError.Code
        switch code {
        case EPERM, EACCES: kind = .permissionDenied
        case ENOENT, ESRCH: kind = .notFound
        case EEXIST: kind = .conflict
        case EINVAL: kind = .invalidArgument
        default: kind = .system
        }
        return BerthError(kind, "\(what): \(errnoDescription(code))", errno: code)
    }
}

/// Runs a system call returning -1 on failure, retrying on EINTR; throws `BerthError.sys`.
@discardableResult
@inline(__always)
public func sysCall<T: BinaryInteger>(_ what: @autoclosure () -> String, _ body: () -> T) throws -> T {
    while true {
        let r = body()
        if r == -1 {
            let e = errno
            if e == EINTR { continue }
            throw BerthError.sys(what(), e)
        }
        return r
    }
}
