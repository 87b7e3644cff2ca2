@testable import BerthCLI
import BerthClient
import BerthCore
import Foundation
import Testing

/// Docker's config.json, as `berth login` reads and writes it.
struct CredentialStoreTests {
    @Test(arguments: [
        ("busybox", "docker.io"), ("library/busybox:1", "docker.io"), ("user/app", "docker.io"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000"), ("localhost/app", "localhost"), ("registry.example.com/a/b:1", "registry.example.com"),
        ("localhost:5000/a", "localhost:5000"),
    ])
    func registryOfReference(ref: String, registry: String) {
        #expect(CredentialStore.registry(of: ref) == registry)
    }

    @Test(arguments: [
        ("docker.io", CredentialStore.hubKey), ("https://index.docker.io/v1/", CredentialStore.hubKey),
        ("registry-1.docker.io", CredentialStore.hubKey), ("http://127.0.0.1:5000/", "127.0.0.1:5000"), ("example.com", "example.com"),
    ])
    func keys(server: String, key: String) {
        #expect(CredentialStore.key(server) == key)
    }

    @Test func storeLoadRemoveKeepsOtherKeys() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-creds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // A file docker wrote: other settings and another registry stay as they are.
        try #"{"auths":{"other.example":{"auth":"dTpw"}},"psFormat":"table {{.ID}}"}"#
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["DOCKER_CONFIG": dir])
        #expect(try store.credentials(for: "127.0.0.1:5000") == nil)
        try store.store(server: "http://127.0.0.1:5000/", username: "alice", password: "pa:ss")
        let saved = try #require(try store.credentials(for: "127.0.0.1:5000"))
        #expect(saved.username == "alice" && saved.password == "pa:ss")
        let text = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        #expect(text.contains("psFormat") && text.contains("other.example") && text.contains(Base64.encode(Array("alice:pa:ss".utf8))))
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/config.json")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        // The header Docker sends: base64url JSON with the server address.
        let header = try #require(store.registryAuth(for: "127.0.0.1:5000/app:1"))
        let json = try JSON.parse(try #require(Base64.decode(header)))
        #expect(json["username"]?.stringValue == "alice" && json["serveraddress"]?.stringValue == "127.0.0.1:5000")
        #expect(store.registryAuth(for: "busybox") == nil)
        #expect(try store.remove(server: "127.0.0.1:5000"))
        #expect(try !store.remove(server: "127.0.0.1:5000"))
        #expect(try store.credentials(for: "other.example")?.username == "u")
    }

    @Test func malformedFileIsAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-creds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "not json".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["DOCKER_CONFIG": dir])
        #expect(throws: CLIError.self) { try store.credentials(for: "x.example") }
        // Nothing is overwritten.
        #expect(throws: CLIError.self) { try store.store(server: "x.example", username: "a", password: "b") }
        #expect(try String(contentsOfFile: dir + "/config.json", encoding: .utf8) == "not json")
    }

    /// credsStore / credHelpers: a helper speaking Docker's protocol (a shell script keeping
    /// one JSON file per server) gets, stores and erases; the config file keeps no secret.
    @Test func credentialHelpers() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-creds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/vault", withIntermediateDirectories: true)
        // get: URL on stdin → JSON or "credentials not found…" with exit 1; store: JSON on stdin;
        // erase: URL on stdin. Every call is logged.
        let script = """
        #!/bin/sh
        vault=\(dir)/vault
        input=$(cat)
        echo "$1 $input" >> \(dir)/calls
        case "$1" in
        get) f="$vault/$(printf %s "$input" | tr -c 'a-zA-Z0-9' _)"; [ -f "$f" ] && cat "$f" && exit 0
             echo "credentials not found in native keychain"; exit 1 ;;
        store) url=$(printf %s "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/')
             printf %s "$input" > "$vault/$(printf %s "$url" | tr -c 'a-zA-Z0-9' _)" ;;
        erase) f="$vault/$(printf %s "$input" | tr -c 'a-zA-Z0-9' _)"; [ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
             rm "$f" ;;
        *) echo "unknown action $1"; exit 2 ;;
        esac
        """
        for name in ["docker-credential-vault", "docker-credential-other"] {
            try script.write(toFile: dir + "/bin/" + name, atomically: true, encoding: .utf8)
            chmod(dir + "/bin/" + name, 0o755)
        }
        try #"{"credsStore":"vault","credHelpers":{"special.example":"other"},"auths":{}}"#
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(environment: ["DOCKER_CONFIG": dir, "PATH": dir + "/bin"])
        #expect(try store.credentials(for: "127.0.0.1:5000") == nil)
        #expect(try store.store(server: "http://127.0.0.1:5000/", username: "alice", password: "s3cret"))
        let got = try #require(try store.credentials(for: "127.0.0.1:5000"))
        #expect(got.username == "alice" && got.password == "s3cret")
        // The secret went to the helper, not to config.json.
        #expect(!(try String(contentsOfFile: dir + "/config.json", encoding: .utf8)).contains("s3cret"))
        // The X-Registry-Auth header carries the helper's credentials.
        let header = try #require(store.registryAuth(for: "127.0.0.1:5000/app:1"))
        #expect(String(decoding: Base64.decode(header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")) ?? [], as: UTF8.self).contains("s3cret"))
        // credHelpers wins for its registry.
        try store.store(server: "special.example", username: "bob", password: "pw")
        let calls = try String(contentsOfFile: dir + "/calls", encoding: .utf8)
        #expect(calls.contains("store {") && calls.contains("get 127.0.0.1:5000"))
        #expect(try store.remove(server: "127.0.0.1:5000"))
        #expect(try store.credentials(for: "127.0.0.1:5000") == nil)
        #expect(try !store.remove(server: "127.0.0.1:5000"))
        // A helper that is not installed: a clear error naming it.
        try #"{"credsStore":"missing"}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect { try store.credentials(for: "x.example") } throws: { "\($0)".contains("docker-credential-missing") }
    }
}
