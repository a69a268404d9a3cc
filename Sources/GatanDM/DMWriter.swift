/// A tag tree to be written: the writer's input, and a way for tests to build files of any shape.
public indirect enum DMTagTree: Sendable {
    case group([(label: String, node: DMTagTree)])
    case scalar(DMValue)
    /// UTF-16 text stored as an array of uint16 (how DM stores `Name` and `Units`).
    case text(String)
    /// A simple array given as raw little-endian bytes.
    case array(DMElementType, count: Int, bytes: [UInt8])
    /// An array of structs, raw little-endian bytes.
    case structArray([DMElementType], count: Int, bytes: [UInt8])
}

/// An image to be written.
public struct DMImageToWrite: Sendable {
    public var title: String
    /// Slowest axis first: `[height, width]` or `[frames, height, width]`.
    public var shape: [Int]
    /// One per entry of `shape`, same order.
    public var axes: [DMAxis]
    public var pixels: DMPixels
    public var metadata: DMMetadata

    public init(title: String, shape: [Int], axes: [DMAxis]? = nil, pixels: DMPixels, metadata: DMMetadata = DMMetadata()) {
        self.title = title
        self.shape = shape
        self.axes = axes ?? shape.map { _ in DMAxis(scale: 1, origin: 0, unit: "") }
        self.pixels = pixels
        self.metadata = metadata
    }

    /// A 2-D float32 image with square pixels of `pixelSizeNm`.
    public static func float32(title: String, width: Int, height: Int, pixelSizeNm: Double, pixels: [Float]) -> DMImageToWrite {
        DMImageToWrite(title: title, shape: [height, width],
                       axes: [DMAxis(scale: pixelSizeNm, origin: 0, unit: "nm"), DMAxis(scale: pixelSizeNm, origin: 0, unit: "nm")],
                       pixels: .float32(pixels))
    }
}

/// Writes DigitalMicrograph files (DM3 by default, DM4 on request), little-endian data, with a
/// small RGBA thumbnail as `ImageList.1` (as Gatan software does) and each image after it.
public enum DMWriter {
    public static func write(_ images: [DMImageToWrite], version: Int = 3, thumbnail: Bool = true) throws -> [UInt8] {
        guard !images.isEmpty else { throw DMError(.invalidArgument, "nothing to write: no images") }
        var list: [(String, DMTagTree)] = []
        if thumbnail { list.append(("", try thumbnailEntry(for: images[0]))) }
        for image in images { list.append(("", try imageEntry(image))) }
        var root: [(label: String, node: DMTagTree)] = [
            ("ApplicationBounds", .structArray([.int32], count: 4, bytes: [UInt8](repeating: 0, count: 16))),
            ("ImageList", .group(list)),
        ]
        if thumbnail {
            root.append(("Thumbnails", .group([("", .group([("ImageIndex", .scalar(.uint(0, .uint32)))]))])))
        }
        return try encode(root: .group(root), version: version)
    }

    /// Encodes any tag tree as a DM3/DM4 file (the root must be a group).
    public static func encode(root: DMTagTree, version: Int = 3) throws -> [UInt8] {
        guard version == 3 || version == 4 else { throw DMError(.invalidArgument, "DM version \(version): only 3 and 4 can be written") }
        guard case .group = root else { throw DMError(.invalidArgument, "the root of a DM file must be a tag group") }
        var e = Encoder(wide: version == 4)
        e.groupBody(root)
        let body = e.out
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 24)
        Encoder.appendBE(&out, UInt64(version), 4)
        Encoder.appendBE(&out, UInt64(body.count + 8), version == 4 ? 8 : 4)
        Encoder.appendBE(&out, 1, 4)  // little-endian data
        out += body
        out += [UInt8](repeating: 0, count: 8)
        return out
    }

    static func imageEntry(_ image: DMImageToWrite) throws -> DMTagTree {
        guard !image.shape.isEmpty, image.shape.count <= 4, image.shape.allSatisfy({ $0 > 0 }) else {
            throw DMError(.invalidArgument, "image '\(image.title)': shape \(image.shape) must have 1 to 4 positive sizes")
        }
        guard image.axes.count == image.shape.count else {
            throw DMError(.invalidArgument, "image '\(image.title)': \(image.axes.count) axes for a shape of rank \(image.shape.count)")
        }
        let n = image.shape.reduce(1, *)
        let (type, element, bytes) = try pixelData(image.pixels, count: n, title: image.title)
        let dims: [(String, DMTagTree)] = image.shape.reversed().map { ("", .scalar(.uint(UInt64($0), .uint32))) }
        let cal: [(String, DMTagTree)] = image.axes.reversed().map { a in
            ("", .group([("Origin", .scalar(.float(a.origin, .float32))),
                         ("Scale", .scalar(.float(a.scale, .float32))),
                         ("Units", .text(a.unit))]))
        }
        let dataTree: DMTagTree
        switch element {
        case .simple(let t): dataTree = .array(t, count: bytes.count / t.size, bytes: bytes)
        case .structure(let f): dataTree = .structArray(f, count: n, bytes: bytes)
        }
        return .group([
            ("ImageData", .group([
                ("Calibrations", .group([
                    ("Brightness", .group([("Origin", .scalar(.float(0, .float32))), ("Scale", .scalar(.float(1, .float32))), ("Units", .text(""))])),
                    ("Dimension", .group(cal)),
                    ("DisplayCalibratedUnits", .scalar(.bool(true))),
                ])),
                ("Data", dataTree),
                ("DataType", .scalar(.uint(UInt64(type.rawValue), .uint32))),
                ("Dimensions", .group(dims)),
                ("PixelDepth", .scalar(.uint(UInt64(type.bytesPerPixel), .uint32))),
            ])),
            ("ImageTags", metadataTree(image.metadata)),
            ("Name", .text(image.title)),
        ])
    }

    static func metadataTree(_ m: DMMetadata) -> DMTagTree {
        var dataBar: [(String, DMTagTree)] = []
        if let d = m.acquisitionDate { dataBar.append(("Acquisition Date", .text(d))) }
        if let t = m.acquisitionTime { dataBar.append(("Acquisition Time", .text(t))) }
        if let d = m.device { dataBar.append(("Device Name", .text(d))) }
        if let e = m.exposureSeconds { dataBar.append(("Exposure Time (s)", .scalar(.float(e, .float64)))) }
        var info: [(String, DMTagTree)] = []
        if let v = m.actualMagnification { info.append(("Actual Magnification", .scalar(.float(v, .float64)))) }
        if let v = m.indicatedMagnification { info.append(("Indicated Magnification", .scalar(.float(v, .float64)))) }
        if let v = m.microscope { info.append(("Name", .text(v))) }
        if let v = m.voltageV { info.append(("Voltage", .scalar(.float(v, .float64)))) }
        var session: [(String, DMTagTree)] = []
        if let v = m.operatorName { session.append(("Operator", .text(v))) }
        if let v = m.specimen { session.append(("Specimen", .text(v))) }
        var meta: [(String, DMTagTree)] = []
        if let v = m.format { meta.append(("Format", .text(v))) }
        if let v = m.signal { meta.append(("Signal", .text(v))) }
        var out: [(String, DMTagTree)] = []
        if !dataBar.isEmpty { out.append(("DataBar", .group(dataBar))) }
        if !meta.isEmpty { out.append(("Meta Data", .group(meta))) }
        if !info.isEmpty { out.append(("Microscope Info", .group(info))) }
        if !session.isEmpty { out.append(("Session Info", .group(session))) }
        return .group(out)
    }

    static func thumbnailEntry(for image: DMImageToWrite) throws -> DMTagTree {
        let width = image.shape.last!, height = image.shape.count >= 2 ? image.shape[image.shape.count - 2] : 1
        let tw = min(width, 64), th = min(height, 64)
        var grey = [Double](repeating: 0, count: tw * th)
        if let values = image.pixels.realValues, values.count >= width * height {
            let lo = values.prefix(width * height).min() ?? 0, hi = values.prefix(width * height).max() ?? 1
            for r in 0..<th {
                for c in 0..<tw {
                    let v = values[(r * height / th) * width + c * width / tw]
                    grey[r * tw + c] = hi > lo ? (v - lo) / (hi - lo) * 255 : 0
                }
            }
        }
        let words = grey.map { g -> UInt32 in let b = UInt32(max(0, min(255, g.rounded()))); return 0xFF00_0000 | b << 16 | b << 8 | b }
        return try imageEntry(DMImageToWrite(title: "Thumbnail of \(image.title)", shape: [th, tw],
                                             pixels: .rgba(words.flatMap { w in [UInt8(w >> 16 & 0xFF), UInt8(w >> 8 & 0xFF), UInt8(w & 0xFF), 0xFF] })))
    }

    static func pixelData(_ p: DMPixels, count n: Int, title: String) throws -> (DMDataType, DMArrayElement, [UInt8]) {
        func check(_ c: Int, _ per: Int = 1) throws {
            guard c == n * per else { throw DMError(.invalidArgument, "image '\(title)': \(c / per) pixel values for \(n) pixels") }
        }
        func le<T: FixedWidthInteger>(_ a: [T]) -> [UInt8] {
            var out = [UInt8](); out.reserveCapacity(a.count * MemoryLayout<T>.size)
            for v in a { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
            return out
        }
        switch p {
        case .int8(let a): try check(a.count); return (.int8, .simple(.int8), a.map { UInt8(bitPattern: $0) })
        case .uint8(let a): try check(a.count); return (.uint8, .simple(.uint8), a)
        case .bool(let a): try check(a.count); return (.bool, .simple(.bool), a.map { $0 ? 1 : 0 })
        case .int16(let a): try check(a.count); return (.int16, .simple(.int16), le(a))
        case .uint16(let a): try check(a.count); return (.uint16, .simple(.uint16), le(a))
        case .int32(let a): try check(a.count); return (.int32, .simple(.int32), le(a))
        case .uint32(let a): try check(a.count); return (.uint32, .simple(.uint32), le(a))
        case .float32(let a): try check(a.count); return (.float32, .simple(.float32), le(a.map(\.bitPattern)))
        case .float64(let a): try check(a.count); return (.float64, .simple(.float64), le(a.map(\.bitPattern)))
        case .complex64(let a): try check(a.count, 2); return (.complex64, .structure([.float32, .float32]), le(a.map(\.bitPattern)))
        case .complex128(let a): try check(a.count, 2); return (.complex128, .structure([.float64, .float64]), le(a.map(\.bitPattern)))
        case .rgba(let a):
            try check(a.count, 4)
            var words = [UInt32](repeating: 0, count: n)
            for i in 0..<n { words[i] = UInt32(a[4 * i + 3]) << 24 | UInt32(a[4 * i]) << 16 | UInt32(a[4 * i + 1]) << 8 | UInt32(a[4 * i + 2]) }
            return (.rgba, .simple(.int32), le(words))
        }
    }

    struct Encoder {
        let wide: Bool
        var out: [UInt8] = []

        static func appendBE(_ out: inout [UInt8], _ v: UInt64, _ size: Int) {
            for i in stride(from: size - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        mutating func be(_ v: UInt64, _ size: Int) { Encoder.appendBE(&out, v, size) }
        mutating func word(_ v: UInt64) { be(v, wide ? 8 : 4) }

        mutating func groupBody(_ tree: DMTagTree) {
            guard case .group(let entries) = tree else { return }
            out += [0, 1]  // sorted, open
            word(UInt64(entries.count))
            for (label, node) in entries {
                let utf8 = Array(label.utf8)
                if case .group = node { out.append(20) } else { out.append(21) }
                be(UInt64(utf8.count), 2)
                out += utf8
                var sub = Encoder(wide: wide)
                if case .group = node { sub.groupBody(node) } else { sub.dataBody(node) }
                if wide { be(UInt64(sub.out.count), 8) }
                out += sub.out
            }
        }

        mutating func dataBody(_ tree: DMTagTree) {
            out += Array("%%%%".utf8)
            switch tree {
            case .group: return
            case .scalar(let v):
                switch v {
                case .structure(let fields):
                    let types = fields.map(Encoder.type(of:))
                    word(UInt64(3 + 2 * types.count))
                    word(15); word(0); word(UInt64(types.count))
                    for t in types { word(0); word(t.rawValue) }
                    for f in fields { scalarBytes(f) }
                case .string(let s):
                    let bytes = Array(s.utf8)
                    word(2); word(18); word(UInt64(bytes.count)); out += bytes
                case .array:
                    return
                default:
                    word(1); word(Encoder.type(of: v).rawValue); scalarBytes(v)
                }
            case .text(let s):
                let units = Array(s.utf16)
                word(3); word(20); word(DMElementType.uint16.rawValue); word(UInt64(units.count))
                for u in units { out.append(UInt8(u & 0xFF)); out.append(UInt8(u >> 8)) }
            case .array(let t, let count, let bytes):
                word(3); word(20); word(t.rawValue); word(UInt64(count)); out += bytes
            case .structArray(let fields, let count, let bytes):
                word(UInt64(5 + 2 * fields.count))
                word(20); word(15); word(0); word(UInt64(fields.count))
                for f in fields { word(0); word(f.rawValue) }
                word(UInt64(count))
                out += bytes
            }
        }

        static func type(of v: DMValue) -> DMElementType {
            switch v {
            case .int(_, let t), .uint(_, let t), .float(_, let t): t
            case .bool: .bool
            default: .uint8
            }
        }

        mutating func scalarBytes(_ v: DMValue) {
            let t = Encoder.type(of: v)
            let bits: UInt64
            switch v {
            case .int(let i, _): bits = UInt64(bitPattern: i)
            case .uint(let u, _): bits = u
            case .float(let d, .float32): bits = UInt64(Float(d).bitPattern)
            case .float(let d, _): bits = d.bitPattern
            case .bool(let b): bits = b ? 1 : 0
            default: bits = 0
            }
            for i in 0..<t.size { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        }
    }
}
