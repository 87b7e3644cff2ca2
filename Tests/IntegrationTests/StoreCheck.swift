import Crypto
import Foundation
import Testing

/// Checks a daemon's image store on disk: every blob hashes to its name, no temp files
/// remain, every image record's blobs and snapshots exist.
func verifyStore(_ root: String) throws {
    let image = root + "/image"
    let blobs = image + "/content/blobs/sha256"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] {
        let data = try Data(contentsOf: URL(fileURLWithPath: blobs + "/" + name))
        let hex = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        #expect(hex == name, "blob \(name) does not match its digest")
    }
    for scratch in ["/content/ingest", "/snapshots/.tmp", "/tmp"] {
        let left = (try? FileManager.default.contentsOfDirectory(atPath: image + scratch)) ?? []
        #expect(left.isEmpty, "temp files left in \(scratch): \(left)")
    }
    let records = image + "/images"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: records)) ?? [] {
        #expect(name.hasSuffix(".json") && !name.contains(".tmp"), "stray file in images/: \(name)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: records + "/" + name))) as? [String: Any]
        let id = (json?["id"] as? String) ?? ""
        #expect(FileManager.default.fileExists(atPath: blobs + "/" + id.dropFirst(7)), "config blob of \(id) missing")
        for l in (json?["layers"] as? [[String: Any]]) ?? [] {
            let blob = String((l["blob"] as? String ?? "").dropFirst(7))
            let chain = String((l["chainID"] as? String ?? "").dropFirst(7))
            #expect(FileManager.default.fileExists(atPath: blobs + "/" + blob), "layer blob \(blob) missing")
            #expect(FileManager.default.fileExists(atPath: image + "/snapshots/" + chain + "/meta.json"), "snapshot \(chain) missing")
        }
    }
}
