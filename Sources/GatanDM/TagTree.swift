/// Element type codes of DM tag data (the words after the `%%%%` delimiter).
public enum DMElementType: UInt64, Sendable, CaseIterable, CustomStringConvertible {
    case int16 = 2, int32 = 3, uint16 = 4, uint32 = 5, float32 = 6, float64 = 7
    case bool = 8, int8 = 9, uint8 = 10, int64 = 11, uint64 = 12

    /// Size in bytes of one element.
    public var size: Int {
        switch self {
        case .bool, .int8, .uint8: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float32: 4
        case .float64, .int64, .uint64: 8
        }
    }

    public var description: String {
        switch self {
        case .int16: "int16"
        case .int32: "int32"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .float32: "float32"
        case .float64: "float64"
        case .bool: "bool"
        case .int8: "int8"
        case .uint8: "uint8"
        case .int64: "int64"
        case .uint64: "uint64"
        }
    }

    /// Type code words for the encodings that are not simple element types.
    static let structCode: UInt64 = 15
    static let stringCode: UInt64 = 18
    static let arrayCode: UInt64 = 20
}

/// What one element of a ``DMArray`` is: a simple number or a struct of numbers.
public enum DMArrayElement: Sendable, Equatable {
    case simple(DMElementType)
    case structure([DMElementType])

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .simple(let t): t.size
        case .structure(let fields): fields.reduce(0) { $0 + $1.size }
        }
    }
}

/// An array tag's data, kept as a reference into the file's bytes and decoded on demand, so that
/// a 4k x 4k image costs no copy until its pixels are asked for.
public struct DMArray: Sendable {
    public let element: DMArrayElement
    public let count: Int
    /// Offset of the first element in the file.
    public let byteOffset: Int
    public let littleEndian: Bool
    let storage: DMBytes

    public var byteCount: Int { count * element.size }

    /// The array's bytes as stored.
    public var rawBytes: ArraySlice<UInt8> { storage.bytes[byteOffset..<(byteOffset + byteCount)] }

    /// The elements as numbers (struct elements are flattened field by field).
    public func doubles() -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count * fieldTypes.count)
        var offset = byteOffset
        for _ in 0..<count {
            for t in fieldTypes {
                out.append(DMValue.decodeScalar(t, storage.bytes, offset, littleEndian).doubleValue ?? .nan)
                offset += t.size
            }
        }
        return out
    }

    /// The text of an array of UTF-16 code units (type uint16, as DM stores `Name` and `Units`),
    /// or of bytes (uint8/int8, decoded as UTF-8 with a Latin-1 fallback). `nil` for other types.
    public var string: String? {
        switch element {
        case .simple(.uint16):
            var units: [UInt16] = []
            units.reserveCapacity(count)
            for i in 0..<count {
                units.append(UInt16(ByteReader.load(storage.bytes, at: byteOffset + 2 * i, size: 2, littleEndian: littleEndian)))
            }
            while units.last == 0 { units.removeLast() }
            return String(decoding: units, as: UTF16.self)
        case .simple(.uint8), .simple(.int8):
            var slice = Array(rawBytes)
            while slice.last == 0 { slice.removeLast() }
            return decodeText(slice[...])
        default:
            return nil
        }
    }

    var fieldTypes: [DMElementType] {
        switch element {
        case .simple(let t): [t]
        case .structure(let f): f
        }
    }
}

/// The value of a data tag.
public enum DMValue: Sendable {
    case int(Int64, DMElementType)
    case uint(UInt64, DMElementType)
    case float(Double, DMElementType)
    case bool(Bool)
    case string(String)
    case structure([DMValue])
    case array(DMArray)

    /// A number as `Double` (bools as 0/1); `nil` for strings, structs and arrays.
    public var doubleValue: Double? {
        switch self {
        case .int(let v, _): Double(v)
        case .uint(let v, _): Double(v)
        case .float(let v, _): v
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// A whole number, if the value is one (floats with no fractional part included).
    public var intValue: Int? {
        switch self {
        case .int(let v, _): Int(exactly: v)
        case .uint(let v, _): Int(exactly: v)
        case .float(let v, _): v.isFinite && v.rounded() == v && abs(v) < 1e15 ? Int(v) : nil
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// Text: a string tag, or an array of UTF-16 code units or bytes.
    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .array(let a): a.string
        default: nil
        }
    }

    static func decodeScalar(_ type: DMElementType, _ bytes: [UInt8], _ offset: Int, _ little: Bool) -> DMValue {
        let raw = ByteReader.load(bytes, at: offset, size: type.size, littleEndian: little)
        switch type {
        case .int8: return .int(Int64(Int8(truncatingIfNeeded: raw)), type)
        case .int16: return .int(Int64(Int16(truncatingIfNeeded: raw)), type)
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: raw)), type)
        case .int64: return .int(Int64(bitPattern: raw), type)
        case .uint8, .uint16, .uint32, .uint64: return .uint(raw, type)
        case .float32: return .float(Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw))), type)
        case .float64: return .float(Double(bitPattern: raw), type)
        case .bool: return .bool(raw != 0)
        }
    }
}

/// One entry of a tag group: a labelled (or unlabelled) group or data tag.
public struct DMTagEntry: Sendable {
    /// The label; empty for unlabelled entries, which are addressed by 1-based position.
    public let label: String
    public let node: DMNode
    /// Offset of the entry's first byte in the file.
    public let offset: Int
}

public enum DMNode: Sendable {
    case group(DMTagGroup)
    case data(DMValue)

    public var group: DMTagGroup? { if case .group(let g) = self { g } else { nil } }
    public var value: DMValue? { if case .data(let v) = self { v } else { nil } }
}

/// A tag group: an ordered list of entries, queried by dotted paths.
///
/// Path components match a label exactly; a component that is a whole number `k` and matches no
/// label addresses the `k`-th entry (1-based), as DigitalMicrograph's own tag paths do for
/// unlabelled entries: `ImageList.2.ImageData.Calibrations.Dimension.1.Scale`.
public struct DMTagGroup: Sendable {
    public let entries: [DMTagEntry]

    public init(entries: [DMTagEntry]) { self.entries = entries }

    public subscript(component: String) -> DMNode? {
        if let e = entries.first(where: { $0.label == component }) { return e.node }
        if let k = Int(component), k >= 1, k <= entries.count { return entries[k - 1].node }
        return nil
    }

    /// The node at a dotted path, or `nil` where any component is missing.
    public func node(at path: String) -> DMNode? {
        node(at: path.split(separator: ".", omittingEmptySubsequences: false).map(String.init))
    }

    public func node(at components: [String]) -> DMNode? {
        var group = self
        for (i, c) in components.enumerated() {
            guard let n = group[c] else { return nil }
            if i == components.count - 1 { return n }
            guard case .group(let g) = n else { return nil }
            group = g
        }
        return .group(group)
    }

    public func group(at path: String) -> DMTagGroup? { node(at: path)?.group }
    public func value(at path: String) -> DMValue? { node(at: path)?.value }
    public func double(at path: String) -> Double? { value(at: path)?.doubleValue }
    public func int(at path: String) -> Int? { value(at: path)?.intValue }
    public func string(at path: String) -> String? { value(at: path)?.stringValue }

    /// Every data tag below this group, depth first, with its dotted path.
    public func flattened(prefix: String = "") -> [(path: String, value: DMValue)] {
        var out: [(String, DMValue)] = []
        for (i, e) in entries.enumerated() {
            let name = e.label.isEmpty ? String(i + 1) : e.label
            let p = prefix.isEmpty ? name : prefix + "." + name
            switch e.node {
            case .group(let g): out += g.flattened(prefix: p)
            case .data(let v): out.append((p, v))
            }
        }
        return out
    }
}

/// Labels and byte strings: UTF-8 where valid, else Latin-1 (each byte one code point), so that
/// `µ` written by older Windows software survives either way.
func decodeText(_ bytes: ArraySlice<UInt8>) -> String {
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
}
