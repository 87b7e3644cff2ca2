/// Errors the client reports, worded as the docker CLI words them.
public enum BerthClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The daemon's socket could not be reached (`host` as the user gave it, `unix:///…`).
    case cannotConnect(host: String)
    /// The daemon answered with an error status and a `{"message": …}` body.
    case daemon(status: Int, message: String)
    /// The daemon answered something the client cannot understand.
    case badResponse(String)
    /// The host string is not one the client can use.
    case invalidHost(String)

    /// The text the CLI prints (`Error response from daemon: no such image: x`).
    public var description: String {
        switch self {
        case .cannotConnect(let host):
            return "Cannot connect to the Berth daemon at \(host). Is berthd running?"
        case .daemon(_, let message):
            return "Error response from daemon: \(message)"
        case .badResponse(let what):
            return "error reading the daemon's response: \(what)"
        case .invalidHost(let host):
            return "invalid host \(host): want unix:///path or tcp://host:port"
        }
    }

    /// Whether this is a 404 from the daemon.
    public var isNotFound: Bool {
        if case .daemon(let status, _) = self { return status == 404 }
        return false
    }
}
