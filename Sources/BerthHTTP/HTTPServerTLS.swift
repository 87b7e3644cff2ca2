import BerthCore
import NIOSSL

/// TLS for a TCP listener: a certificate chain and its private key (PEM files), and optionally
/// the CAs whose client certificates are required (mutual TLS, as `dockerd --tlsverify`).
///
/// Everything is loaded and checked in `init`, so a bad file is reported before anything
/// listens. HTTP/1.1 only (ALPN `http/1.1`); TLS 1.2 at least.
public struct HTTPServerTLS: Sendable {
    let context: NIOSSLContext

    /// Loads `certificateChain` (PEM, leaf first) and `privateKey` (PEM); with `clientCA`
    /// (PEM bundle) every client must present a certificate that chains to one of those CAs.
    public init(certificateChain: String, privateKey: String, clientCA: String? = nil) throws {
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateChain) } catch {
            throw BerthError.invalid("tls certificate \(certificateChain): \(Self.describe(error))")
        }
        guard !chain.isEmpty else { throw BerthError.invalid("tls certificate \(certificateChain): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: privateKey, format: .pem) } catch {
            throw BerthError.invalid("tls key \(privateKey): \(Self.describe(error))")
        }
        var config = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv12
        config.applicationProtocols = ["http/1.1"]
        if let clientCA {
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMFile(clientCA) } catch {
                throw BerthError.invalid("tls client CA \(clientCA): \(Self.describe(error))")
            }
            config.trustRoots = .certificates(roots)
            config.certificateVerification = .noHostnameVerification
        }
        do { context = try NIOSSLContext(configuration: config) } catch {
            // Both files loaded, so what BoringSSL refuses here is the pair.
            throw BerthError.invalid("tls key \(privateKey) does not match the certificate \(certificateChain)")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? NIOSSLError {
            switch e {
            case .failedToLoadCertificate: return "not a PEM certificate"
            case .failedToLoadPrivateKey: return "not a PEM private key"
            default: return "\(e)"
            }
        }
        if let e = error as? BoringSSLError { return "\(e)" }
        return "\(error)"
    }
}
