import Analysis
import CSHA256
import Foundation
import Synchronization

/// SHA-256 through OpenSSL's libcrypto (EVP), as lowercase hex.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    bytes.withUnsafeBytes { raw in
        _ = EVP_Digest(raw.baseAddress, raw.count, &digest, &length, EVP_sha256(), nil)
    }
    let hex: [Character] = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(64)
    for b in digest { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)]) }
    return out
}

/// A network's name, version and the SHA-256 of its ONNX file, recorded with every analysis
/// (what changed between two model versions can then be asked of the database). Files are
/// hashed once per path, size and modification time.
public struct ModelProvenance: Sendable, Equatable {
    public var name: String
    public var version: String
    public var sha256: String

    static let cache = Mutex<[String: (size: Int, modified: Double, sha256: String)]>([:])

    /// nil for the classical segmenter and masks.
    public static func of(_ segmenter: Segmenter) throws -> ModelProvenance? {
        guard case .model(let name, let version, let path, _) = segmenter.choice else { return nil }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        if let hit = cache.withLock({ $0[path] }), hit.size == size, hit.modified == modified {
            return ModelProvenance(name: name, version: version, sha256: hit.sha256)
        }
        let sha = sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        cache.withLock { $0[path] = (size, modified, sha) }
        return ModelProvenance(name: name, version: version, sha256: sha)
    }
}
