#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// Network interfaces of the calling thread's network namespace (the container side; bridges
/// and veth pairs are BerthNetwork's, over rtnetlink).
public enum Network {
    /// Brings the interface `name` up (sets IFF_UP; a no-op if it is up already). A new network
    /// namespace starts with `lo` down: the container's init brings it up, as Docker does for
    /// `--network none`. Needs CAP_NET_ADMIN over the namespace.
    public static func setLinkUp(_ name: String) throws {
        if berth_link_set_up(name) != 0 { throw BerthError.sys("bring up interface \(name)") }
    }
}
