import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--sig-proxy` (docker's `ForwardAllSignals`): signals the CLI receives are sent to the
/// container with `POST /containers/{id}/kill?signal=NAME` instead of ending the CLI.
enum SignalProxy {
    /// The signals forwarded (SIGCHLD, SIGPIPE, SIGURG and SIGWINCH never are; job control
    /// signals keep their local meaning).
    static let forwarded: [(Int32, String)] = [
        (SIGHUP, "HUP"), (SIGINT, "INT"), (SIGQUIT, "QUIT"), (SIGTERM, "TERM"), (SIGUSR1, "USR1"),
        (SIGUSR2, "USR2"), (SIGALRM, "ALRM"), (SIGVTALRM, "VTALRM"), (SIGPROF, "PROF"), (SIGXCPU, "XCPU"),
        (SIGXFSZ, "XFSZ"), (SIGPWR, "PWR"), (SIGSYS, "SYS"), (SIGIO, "IO"), (SIGSTKFLT, "STKFLT"),
    ]

    /// Starts forwarding to `container`.
    static func start(client: BerthClient, container: String) {
        let names = Dictionary(uniqueKeysWithValues: forwarded)
        Signals.handle(forwarded.map(\.0)) { sig in
            guard let name = names[sig] else { return }
            Task { try? await client.killContainer(container, signal: name) }
        }
    }

    /// Stops forwarding: the default actions apply again.
    static func stop() {
        Signals.reset(forwarded.map(\.0))
    }
}
