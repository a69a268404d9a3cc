import Foundation

/// A parsed DM3 or DM4 file: header facts and the whole tag tree.
public struct DMFile: Sendable {
    /// 3 or 4.
    public let version: Int
    /// Byte order of tag data (the header's flag: 1 = little-endian).
    public let littleEndian: Bool
    /// The root tag group.
    public let root: DMTagGroup
    public let bytes: DMBytes

    public var formatName: String { "DM\(version)" }
}

/// Reads DM3/DM4 files.
///
/// Structure (after the Gatan format write-ups by Chris Boothroyd and Greg Jefferis): a big-endian
/// header (version, root length, byte-order flag), then the root tag group. Every structural
/// word (counts, lengths, type codes) is big-endian; only data values follow the byte-order flag.
/// DM4 widens root length, tag counts, type-word counts and type words to 64 bits and adds a
/// 64-bit entry length after each label.
///
/// Robustness: every count and length is checked against the bytes that are left before anything
/// is allocated, nesting is bounded by ``maximumDepth``, and the cursor only moves forward, so a
/// hostile file costs time and memory proportional to its size, never to a length field.
public enum DMReader {
    /// Deepest nesting of tag groups accepted (real files use fewer than 15 levels).
    public static let maximumDepth = 64
    /// Most type words accepted for one data tag (a struct of 100 fields needs 203).
    public static let maximumTypeWords = 4099

    public static func read(contentsOf url: URL) throws -> DMFile {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw DMError(.io, "cannot read \(url.path): \(error.localizedDescription)")
        }
        return try parse([UInt8](data))
    }

    public static func parse(_ bytes: [UInt8]) throws -> DMFile {
        var r = ByteReader(bytes)
        guard bytes.count >= 12 else {
            throw DMError(.notDigitalMicrograph, "too short for a DM header (\(bytes.count) bytes)", offset: 0)
        }
        let version = try r.unsigned(4, littleEndian: false, "header version")
        guard version == 3 || version == 4 else {
            if version > 0 && version < 16 {
                throw DMError(.unsupportedVersion, "DM version \(version) is not supported (only 3 and 4)", offset: 0)
            }
            throw DMError(.notDigitalMicrograph, "not a DigitalMicrograph file (first word \(version), expected 3 or 4)", offset: 0)
        }
        let wide = version == 4
        _ = try r.unsigned(wide ? 8 : 4, littleEndian: false, "header root length")  // unreliable; unused
        let order = try r.unsigned(4, littleEndian: false, "header byte order")
        guard order <= 1 else {
            throw DMError(.notDigitalMicrograph, "byte-order flag is \(order), expected 0 or 1", offset: r.position - 4)
        }
        var p = TagParser(reader: r, wide: wide, little: order == 1, storage: DMBytes(bytes))
        let root = try p.group(depth: 0)
        return DMFile(version: Int(version), littleEndian: order == 1, root: root, bytes: p.storage)
    }
}

struct TagParser {
    var reader: ByteReader
    let wide: Bool
    let little: Bool
    let storage: DMBytes

    var word: Int { wide ? 8 : 4 }

    /// Reads a structural (big-endian, 4 or 8 byte) count and checks it is at most `limit`.
    mutating func count(_ what: String, limit: Int) throws -> Int {
        let start = reader.position
        let v = try reader.unsigned(word, littleEndian: false, what)
        guard v <= UInt64(max(limit, 0)) else {
            throw reader.error(.absurdLength, "\(what) is \(v), more than the \(limit) that could fit in the rest of the file", at: start)
        }
        return Int(v)
    }

    mutating func group(depth: Int) throws -> DMTagGroup {
        guard depth <= DMReader.maximumDepth else {
            throw reader.error(.nestingTooDeep, "tag groups nested deeper than \(DMReader.maximumDepth) levels")
        }
        _ = try reader.uint8("tag group sorted flag")
        _ = try reader.uint8("tag group open flag")
        // The smallest entry is 3 bytes (kind + empty label length) plus a DM4 entry length.
        let minEntry = 3 + (wide ? 8 : 0)
        let n = try count("tag count", limit: (reader.remaining - word) / minEntry)
        var entries: [DMTagEntry] = []
        let parentPath = reader.path
        for i in 0..<n {
            let start = reader.position
            reader.path = parentPath.isEmpty ? String(i + 1) : parentPath + "." + String(i + 1)
            let kind = try reader.uint8("tag kind")
            let labelLength = Int(try reader.unsigned(2, littleEndian: false, "tag label length"))
            let label = decodeText(try reader.readBytes(labelLength, "tag label"))
            let name = label.isEmpty ? String(i + 1) : label
            reader.path = parentPath.isEmpty ? name : parentPath + "." + name
            var end: Int? = nil
            if wide {
                let lengthAt = reader.position
                let length = try reader.unsigned(8, littleEndian: false, "tag entry length")
                guard length <= UInt64(reader.remaining) else {
                    throw reader.error(.absurdLength, "tag entry length \(length) exceeds the \(reader.remaining) bytes left", at: lengthAt)
                }
                end = reader.position + Int(length)
            }
            let node: DMNode
            switch kind {
            case 20: node = .group(try group(depth: depth + 1))
            case 21: node = .data(try data())
            default:
                throw reader.error(.malformedTag, "tag kind \(kind) (expected 20 = group or 21 = data)", at: start)
            }
            if let end, reader.position > end {
                throw reader.error(.malformedTag, "tag content runs \(reader.position - end) bytes past its declared entry length", at: start)
            }
            entries.append(DMTagEntry(label: label, node: node, offset: start))
        }
        reader.path = parentPath
        return DMTagGroup(entries: entries)
    }

    mutating func elementType(_ code: UInt64, at offset: Int) throws -> DMElementType {
        guard let t = DMElementType(rawValue: code) else {
            throw reader.error(.malformedTag, "unknown element type code \(code)", at: offset)
        }
        return t
    }

    mutating func data() throws -> DMValue {
        let delimiterAt = reader.position
        let delimiter = try reader.readBytes(4, "data tag delimiter")
        guard delimiter.elementsEqual("%%%%".utf8) else {
            throw reader.error(.malformedTag, "data tag does not start with %%%%", at: delimiterAt)
        }
        let infoAt = reader.position
        let nInfo = try count("type word count", limit: min(DMReader.maximumTypeWords, reader.remaining / word))
        guard nInfo >= 1 else { throw reader.error(.malformedTag, "data tag has no type words", at: infoAt) }
        var info: [UInt64] = []
        info.reserveCapacity(nInfo)
        for _ in 0..<nInfo { info.append(try reader.unsigned(word, littleEndian: false, "type word")) }
        let errorTemplate = reader.error(.malformedTag, "", at: infoAt)
        let bad = { (why: String) -> DMError in
            var e = errorTemplate
            e.message = "type words \(info.prefix(8).map(String.init).joined(separator: ",")): \(why)"
            return e
        }

        switch info[0] {
        case DMElementType.structCode:
            // [15, nameLength, nFields, (fieldNameLength, type) x nFields]
            guard nInfo >= 3, info[2] <= UInt64(nInfo), nInfo == 3 + 2 * Int(info[2]) else { throw bad("struct type words do not match the field count") }
            let fields = try (0..<Int(info[2])).map { try elementType(info[4 + 2 * $0], at: infoAt) }
            var values: [DMValue] = []
            for f in fields {
                try reader.require(f.size, "struct field")
                values.append(DMValue.decodeScalar(f, reader.bytes, reader.position, little))
                reader.position += f.size
            }
            return .structure(values)
        case DMElementType.stringCode:
            guard nInfo == 2 else { throw bad("a string needs exactly 2 type words") }
            guard info[1] <= UInt64(reader.remaining) else {
                throw reader.error(.absurdLength, "string length \(info[1]) exceeds the \(reader.remaining) bytes left", at: infoAt)
            }
            return .string(decodeText(try reader.readBytes(Int(info[1]), "string")))
        case DMElementType.arrayCode:
            guard nInfo >= 3 else { throw bad("an array needs at least 3 type words") }
            let element: DMArrayElement
            if info[1] == DMElementType.structCode {
                // [20, 15, nameLength, nFields, (fieldNameLength, type) x nFields, count]
                guard nInfo >= 5, info[3] <= UInt64(nInfo), nInfo == 5 + 2 * Int(info[3]) else { throw bad("array-of-struct type words do not match the field count") }
                element = .structure(try (0..<Int(info[3])).map { try elementType(info[5 + 2 * $0], at: infoAt) })
            } else {
                guard nInfo == 3 else { throw bad("a simple array needs exactly 3 type words") }
                element = .simple(try elementType(info[1], at: infoAt))
            }
            guard element.size > 0 else { throw bad("an array of structs without fields") }
            let n = info[nInfo - 1]
            let size = UInt64(element.size)
            let (bytes, overflow) = n.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= UInt64(reader.remaining) else {
                throw reader.error(.absurdLength, "array of \(n) elements of \(element.size) bytes exceeds the \(reader.remaining) bytes left", at: infoAt)
            }
            let array = DMArray(element: element, count: Int(n), byteOffset: reader.position, littleEndian: little, storage: storage)
            reader.position += Int(bytes)
            return .array(array)
        default:
            guard nInfo == 1 else { throw bad("a simple value needs exactly 1 type word") }
            let t = try elementType(info[0], at: infoAt)
            try reader.require(t.size, "\(t) value")
            defer { reader.position += t.size }
            return DMValue.decodeScalar(t, reader.bytes, reader.position, little)
        }
    }
}
