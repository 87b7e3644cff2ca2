import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// TLS and the scheme per registry host, as Docker does it:
///
/// - A registry is reached over HTTPS, its certificate verified against the system's roots plus
///   the CAs in `<certs dir>/<host:port>/*.crt`; a `*.cert` + `*.key` pair there is presented
///   as the client certificate (Docker's `/etc/docker/certs.d` layout).
/// - An insecure registry (loopback, or configured) is tried over HTTPS first with any
///   certificate accepted, then over plain HTTP; the scheme that answered is remembered for
///   the client's lifetime.
extension RegistryClient {
    /// The URL prefix (`https://host:port` or `http://…`) for `domain`: for an insecure
    /// registry the first call probes `/v2/` over HTTPS, then HTTP.
    func baseURL(_ domain: String) async -> String {
        let host = Self.endpointHost(domain)
        guard isInsecure(domain) else { return "https://" + host }
        if let known = schemes.withLock({ $0[domain] }) { return known + "://" + host }
        for scheme in ["https", "http"] where await answers("\(scheme)://\(host)/v2/") {
            schemes.withLock { $0[domain] = scheme }
            return scheme + "://" + host
        }
        // Neither answered: plain HTTP, so the caller's own request reports the failure.
        return "http://" + host
    }

    /// The prefix already chosen for `domain` (no probe): for making a `Location` absolute.
    func knownBaseURL(_ domain: String) -> String {
        let host = Self.endpointHost(domain)
        guard isInsecure(domain) else { return "https://" + host }
        return (schemes.withLock { $0[domain] } ?? "http") + "://" + host
    }

    /// Whether anything HTTP answers a GET of `url` (any status counts).
    private func answers(_ url: String) async -> Bool {
        do {
            let response = try await execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return true
        } catch {
            return false
        }
    }

    /// Every request goes out here: HTTPS ones carry the TLS configuration of their host.
    func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var request = request
        if request.url.hasPrefix("https://") {
            request.tlsConfiguration = try tlsConfiguration(authority: Self.authority(request.url))
        }
        return try await http.execute(request, timeout: timeout)
    }

    /// `host:port` (or `host`) of a URL.
    static func authority(_ url: String) -> String {
        var rest = Substring(url)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] }
        return String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" })
    }

    /// The TLS configuration for a registry host from its certs directory, rebuilt when the
    /// directory changes (a CA added while the daemon runs is used by the next request).
    func tlsConfiguration(authority: String) throws -> TLSConfiguration {
        let dir = certsDirectory.map { $0 + "/" + authority }
        var st = stat()
        let stamp: Int64 = dir.map { stat($0, &st) == 0 ? Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec) : -1 } ?? -1
        if let cached = tlsConfigurations.withLock({ $0[authority] }), cached.stamp == stamp { return cached.config }
        var config = TLSConfiguration.makeClientConfiguration()
        if isInsecure(authority) { config.certificateVerification = .none }
        if let dir, stamp >= 0 {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
            var roots: [NIOSSLCertificate] = []
            for name in names where name.hasSuffix(".crt") {
                do { roots += try NIOSSLCertificate.fromPEMFile(dir + "/" + name) } catch {
                    throw BerthError.invalid("certificate \(dir)/\(name): not a PEM certificate")
                }
            }
            if !roots.isEmpty { config.additionalTrustRoots = [.certificates(roots)] }
            for name in names where name.hasSuffix(".cert") {
                let keyName = String(name.dropLast(5)) + ".key"
                guard names.contains(keyName) else {
                    throw BerthError.invalid("missing key \(keyName) for client certificate \(dir)/\(name)")
                }
                do {
                    config.certificateChain = try NIOSSLCertificate.fromPEMFile(dir + "/" + name).map { .certificate($0) }
                    config.privateKey = .privateKey(try NIOSSLPrivateKey(file: dir + "/" + keyName, format: .pem))
                } catch {
                    throw BerthError.invalid("client certificate \(dir)/\(name): \(error)")
                }
                break
            }
        }
        tlsConfigurations.withLock { $0[authority] = (stamp, config) }
        return config
    }
}

extension RegistryClient {
    /// A connection-level failure in Docker's words where it has some (TLS verification:
    /// `tls: failed to verify certificate: x509: …`), else the error as it is.
    public static func describe(connectionError error: any Error) -> String {
        let text = "\(error)"
        guard let ssl = error as? NIOSSLError else { return text }
        switch ssl {
        case .handshakeFailed:
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            }
            if text.contains("CERTIFICATE_REQUIRED") || text.contains("HANDSHAKE_FAILURE") {
                return "remote error: tls: certificate required (the registry wants a client certificate: client.cert and client.key in its certs.d directory)"
            }
            if text.contains("WRONG_VERSION_NUMBER") { return "tls: the server does not speak TLS (http: server gave HTTP response to HTTPS client)" }
            return "tls: handshake failed: \(text)"
        case .unableToValidateCertificate:
            return "tls: failed to verify certificate: x509: certificate is not valid for this host"
        default:
            return text
        }
    }
}
