import CSHA256

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
