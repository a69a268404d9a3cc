/// Immutable file contents shared by the tag tree and the lazily decoded arrays.
public final class DMBytes: Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var count: Int { bytes.count }
}

/// A bounds-checked cursor. Every read checks the remaining length first and throws
/// ``DMError/Kind/truncated`` naming the offset and the tag path being read.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int = 0
    var path: String = ""

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    func error(_ kind: DMError.Kind, _ message: String, at offset: Int? = nil) -> DMError {
        DMError(kind, message, offset: offset ?? position, tagPath: path)
    }

    mutating func require(_ n: Int, _ what: @autoclosure () -> String) throws {
        if n < 0 || n > remaining {
            throw error(.truncated, "file ends inside \(what()): needs \(n) bytes, \(remaining) left")
        }
    }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws {
        try require(n, what())
        position += n
    }

    mutating func readBytes(_ n: Int, _ what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
        try require(n, what())
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    mutating func uint8(_ what: @autoclosure () -> String) throws -> UInt8 {
        try require(1, what())
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads an unsigned big- or little-endian integer of `size` bytes (1...8).
    mutating func unsigned(_ size: Int, littleEndian: Bool, _ what: @autoclosure () -> String) throws -> UInt64 {
        try require(size, what())
        defer { position += size }
        return ByteReader.load(bytes, at: position, size: size, littleEndian: littleEndian)
    }

    static func load(_ bytes: [UInt8], at offset: Int, size: Int, littleEndian: Bool) -> UInt64 {
        var value: UInt64 = 0
        if littleEndian {
            for i in stride(from: size - 1, through: 0, by: -1) { value = value << 8 | UInt64(bytes[offset + i]) }
        } else {
            for i in 0..<size { value = value << 8 | UInt64(bytes[offset + i]) }
        }
        return value
    }
}
