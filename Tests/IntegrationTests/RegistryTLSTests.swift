import Foundation
import Testing

/// A CA and certificates made with openssl for one test: a server certificate for 127.0.0.1
/// and `hostIP`, and a client certificate (mutual TLS).
struct TestPKI {
    let dir: String
    var caCert: String { dir + "/ca.crt" }
    var serverCert: String { dir + "/server.crt" }
    var serverKey: String { dir + "/server.key" }
    var clientCert: String { dir + "/client.cert" }
    var clientKey: String { dir + "/client.key" }

    init(in dir: String, hostIP: String) throws {
        self.dir = dir
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        func ssl(_ args: [String]) throws {
            let r = try runCommand(["openssl"] + args, cwd: dir)
            guard r.status == 0 else { throw DaemonError("openssl \(args.first ?? ""): \(r.stderr)") }
        }
        try ssl(["req", "-x509"] + ec + ["-days", "2", "-subj", "/CN=berth test CA", "-keyout", "ca.key", "-out", "ca.crt"])
        var sans = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        if !hostIP.isEmpty { sans += ",IP:\(hostIP)" }
        try sans.write(toFile: dir + "/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth".write(toFile: dir + "/client.ext", atomically: true, encoding: .utf8)
        for (name, subject, ext) in [("server", "/CN=127.0.0.1", "server.ext"), ("client", "/CN=berth test client", "client.ext")] {
            try ssl(["req"] + ec + ["-subj", subject, "-keyout", "\(name).key", "-out", "\(name).csr"])
            try ssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "2", "-extfile", ext, "-out", name == "server" ? "server.crt" : "client.cert"])
        }
    }

    /// A Docker certs.d entry for `authority` with the CA and, if asked, the client pair.
    func certsEntry(_ certsDir: String, _ authority: String, client: Bool) throws {
        let entry = certsDir + "/" + authority
        try FileManager.default.createDirectory(atPath: entry, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: caCert, toPath: entry + "/ca.crt")
        if client {
            try FileManager.default.copyItem(atPath: clientCert, toPath: entry + "/client.cert")
            try FileManager.default.copyItem(atPath: clientKey, toPath: entry + "/client.key")
        }
    }
}

/// TLS: berth-registry serving HTTPS (with and without client certificates), berthd's registry
/// client verifying it through a certs.d directory (or not, for insecure registries, after
/// trying HTTPS first as Docker does), and berthd's own API over TCP with `--tlsverify`,
/// driven by the real docker CLI and skopeo.
@Suite(.serialized)
struct RegistryTLSTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
    static func hostIP() throws -> String {
        trimmed(try runCommand(["sh", "-c", "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1"]).stdout)
    }
    static func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func registryOverTLS() throws {
        let hostIP = try Self.hostIP()
        let d = try TestDaemon()
        defer { d.cleanup() }
        let pki = try TestPKI(in: d.dir + "/pki", hostIP: hostIP)
        let tlsArgs = ["--tls-cert", pki.serverCert, "--tls-key", pki.serverKey]

        // A loopback registry over HTTPS: loopback registries are insecure, so berthd tries HTTPS
        // first (certificate not verified) and uses it.
        let local = try LoopbackRegistry(berthRegistryIn: d.dir + "/local", users: nil, extra: tlsArgs)
        defer { local.stop() }
        let curl = try runCommand(["curl", "-s", "--cacert", pki.caCert, "https://\(local.host)/v2/"])
        #expect(curl.status == 0 && curl.stdout == "{}", "\(curl.stdout) \(curl.stderr)")
        let plain = try runCommand(["curl", "-s", "http://\(local.host)/v2/"])
        #expect(plain.status != 0, "plain HTTP to a TLS listener: \(plain.stdout)")
        // skopeo pushes into it, verifying the certificate with the CA.
        let skopeoCerts = d.dir + "/skopeo-certs"
        try FileManager.default.createDirectory(atPath: skopeoCerts, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: pki.caCert, toPath: skopeoCerts + "/ca.crt")
        let push = try runCommand(["skopeo", "copy", "-q", "--dest-cert-dir", skopeoCerts, "oci-archive:" + Paths.testImage,
                                   "docker://\(local.host)/lib/bb:tls"])
        #expect(push.status == 0, "\(push.stderr)")

        let certsDir = d.dir + "/certs.d"
        try FileManager.default.createDirectory(atPath: certsDir, withIntermediateDirectories: true)
        var remote: LoopbackRegistry?
        defer { remote?.stop() }
        if !hostIP.isEmpty {
            remote = try LoopbackRegistry(berthRegistryIn: d.dir + "/remote", users: nil, addr: "\(hostIP):0",
                                          extra: tlsArgs + ["--tls-client-ca", pki.caCert])
        }
        d.extraArgs = ["--registry-certs-dir", certsDir]
        try d.start()

        let pull = try d.docker("pull", "\(local.host)/lib/bb:tls")
        #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
        #expect(try d.docker("run", "--rm", "\(local.host)/lib/bb:tls", "echo", "over tls").stdout == "over tls\n")
        try d.docker("tag", "\(local.host)/lib/bb:tls", "\(local.host)/lib/bb:back")
        let back = try d.docker("push", "\(local.host)/lib/bb:back")
        #expect(back.status == 0 && back.stdout.contains("digest: sha256:"), "\(back.stdout) \(back.stderr)")
        let inspect = try runCommand(["skopeo", "inspect", "--cert-dir", skopeoCerts, "--format", "{{.Digest}}",
                                      "docker://\(local.host)/lib/bb:back"])
        #expect(inspect.status == 0 && back.stdout.contains(trimmed(inspect.stdout)), "\(inspect.stderr)")

        guard let remote else { return }
        // A registry on the host's address is secure: its certificate must verify.
        try d.docker("tag", "\(local.host)/lib/bb:tls", "\(remote.host)/lib/bb:1")
        let unknownCA = try d.docker("push", "\(remote.host)/lib/bb:1")
        #expect(unknownCA.status != 0 && unknownCA.stderr.contains("certificate signed by unknown authority"),
                "UNKNOWNCA \(unknownCA.stdout) \(unknownCA.stderr)")
        // The CA in certs.d (read while berthd runs), but no client certificate: the registry
        // requires one.
        try pki.certsEntry(certsDir, remote.host, client: false)
        let noClient = try d.docker("push", "\(remote.host)/lib/bb:1")
        #expect(noClient.status != 0, "\(noClient.stdout)")
        // With the client pair, push and pull work.
        try FileManager.default.removeItem(atPath: certsDir + "/" + remote.host)
        try pki.certsEntry(certsDir, remote.host, client: true)
        let ok = try d.docker("push", "\(remote.host)/lib/bb:1")
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        try d.docker("rmi", "\(remote.host)/lib/bb:1")
        let pulled = try d.docker("pull", "\(remote.host)/lib/bb:1")
        #expect(pulled.status == 0, "\(pulled.stdout) \(pulled.stderr)")
        #expect(try d.docker("run", "--rm", "\(remote.host)/lib/bb:1", "echo", "mtls").stdout == "mtls\n")
    }

    /// berthd's API over TCP with `--tlsverify`: the docker CLI with DOCKER_TLS_VERIFY and a
    /// client certificate gets in; without one it is refused.
    @Test func daemonAPIWithTLSVerify() throws {
        let d = try TestDaemon()
        defer { d.cleanup() }
        let pki = try TestPKI(in: d.dir + "/pki", hostIP: "")
        // The docker CLI's cert path layout: ca.pem, cert.pem, key.pem.
        let certPath = d.dir + "/docker-certs"
        try FileManager.default.createDirectory(atPath: certPath, withIntermediateDirectories: true)
        for (from, to) in [(pki.caCert, "ca.pem"), (pki.clientCert, "cert.pem"), (pki.clientKey, "key.pem")] {
            try FileManager.default.copyItem(atPath: from, toPath: certPath + "/" + to)
        }
        let port = 30000 + Int.random(in: 0..<20000)
        d.extraArgs = ["-H", "tcp://127.0.0.1:\(port)", "--tlsverify", "--tlscacert", pki.caCert,
                       "--tlscert", pki.serverCert, "--tlskey", pki.serverKey]
        try d.start()
        let tcp = "tcp://127.0.0.1:\(port)"
        let version = try runCommand(["docker", "version", "-f", "{{.Server.Os}}"],
                                     env: ["DOCKER_HOST": tcp, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certPath,
                                           "DOCKER_CONFIG": d.dir + "/docker-config"])
        #expect(version.status == 0 && trimmed(version.stdout) == "linux", "\(version.stdout) \(version.stderr)")
        // No client certificate: the handshake is refused.
        let anonymous = try runCommand(["curl", "-s", "--cacert", pki.caCert, "https://127.0.0.1:\(port)/_ping"])
        #expect(anonymous.status != 0, "\(anonymous.stdout)")
        let withCert = try runCommand(["curl", "-s", "--cacert", pki.caCert, "--cert", pki.clientCert, "--key", pki.clientKey,
                                       "https://127.0.0.1:\(port)/_ping"])
        #expect(withCert.stdout == "OK", "\(withCert.stderr)")
        // docker-py with the same client certificate.
        let py = try runCommand(["python3", "-c", """
            import docker
            tls = docker.tls.TLSConfig(client_cert=("\(pki.clientCert)", "\(pki.clientKey)"), ca_cert="\(pki.caCert)", verify=True)
            print(docker.DockerClient(base_url="https://127.0.0.1:\(port)", tls=tls).ping())
            """], env: ["REQUESTS_CA_BUNDLE": pki.caCert, "CURL_CA_BUNDLE": pki.caCert])  // requests lets these override the client's CA
        #expect(trimmed(py.stdout) == "True", "\(py.stderr)")
        // Bad TLS flags are refused at start.
        d.stop()
        d.extraArgs = ["-H", "tcp://127.0.0.1:\(port)", "--tlsverify", "--tlscert", pki.serverCert, "--tlskey", pki.serverKey]
        #expect(throws: DaemonError.self) { try d.start() }
        #expect(d.daemonLog.contains("--tlsverify needs --tlscacert"))
        d.extraArgs = ["-H", "tcp://127.0.0.1:\(port)", "--tls", "--tlscert", pki.serverCert, "--tlskey", pki.caCert.replacingOccurrences(of: "ca.crt", with: "ca.key")]
        #expect(throws: DaemonError.self) { try d.start() }
        #expect(d.daemonLog.contains("does not match the certificate"))
    }
}
