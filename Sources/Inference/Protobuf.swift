/// A reader of the protobuf wire format, enough for ONNX models: varints, fixed 32/64-bit
/// values and length-delimited fields. Every length is checked against the bytes left.
struct ProtoReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    let end: Int
    /// What is being read, for error messages.
    var context: String

    init(_ bytes: UnsafeRawBufferPointer, from: Int = 0, to: Int? = nil, context: String) {
        self.bytes = bytes
        self.position = from
        self.end = to ?? bytes.count
        self.context = context
    }

    var atEnd: Bool { position >= end }

    func error(_ message: String) -> ModelError {
        ModelError.malformed("\(message) at byte \(position) (in \(context))")
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint") }
            let b = bytes[position]
            position += 1
            if shift == 63 && b > 1 { throw error("varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint too long") }
        }
    }

    /// (field number, wire type)
    mutating func tag() throws -> (Int, Int) {
        let t = try varint()
        let field = Int(truncatingIfNeeded: t >> 3), wire = Int(t & 7)
        guard field > 0 else { throw error("field number 0") }
        return (field, wire)
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated 32-bit value") }
        defer { position += 4 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw error("truncated 64-bit value") }
        defer { position += 8 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self).littleEndian
    }

    /// The range of a length-delimited field.
    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - position) else { throw error("field of \(n) bytes exceeds the \(end - position) left") }
        defer { position += Int(n) }
        return position..<(position + Int(n))
    }

    mutating func string() throws -> String {
        let r = try lengthDelimited()
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    mutating func skip(wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw error("unsupported wire type \(wire)")
        }
    }

    /// A sub-reader over a length-delimited field.
    mutating func message(_ what: String) throws -> ProtoReader {
        let r = try lengthDelimited()
        return ProtoReader(bytes, from: r.lowerBound, to: r.upperBound, context: what)
    }

    /// Repeated int64 values, packed or not.
    mutating func int64s(wire: Int, into out: inout [Int64]) throws {
        if wire == 2 {
            var sub = try message(context)
            while !sub.atEnd { out.append(Int64(bitPattern: try sub.varint())) }
        } else {
            out.append(Int64(bitPattern: try varint()))
        }
    }

    /// Repeated floats, packed or not.
    mutating func floats(wire: Int, into out: inout [Float]) throws {
        if wire == 2 {
            let r = try lengthDelimited()
            guard r.count % 4 == 0 else { throw error("packed floats of \(r.count) bytes") }
            out.reserveCapacity(out.count + r.count / 4)
            for k in stride(from: r.lowerBound, to: r.upperBound, by: 4) {
                out.append(Float(bitPattern: bytes.loadUnaligned(fromByteOffset: k, as: UInt32.self).littleEndian))
            }
        } else {
            out.append(Float(bitPattern: try fixed32()))
        }
    }
}

public enum ModelError: Error, CustomStringConvertible, Sendable, Equatable {
    case malformed(String)
    case unsupported(String)
    case invalid(String)
    case io(String)

    public var description: String {
        switch self {
        case .malformed(let m): "malformed ONNX model: \(m)"
        case .unsupported(let m): "unsupported: \(m)"
        case .invalid(let m): "invalid model or input: \(m)"
        case .io(let m): m
        }
    }
}
