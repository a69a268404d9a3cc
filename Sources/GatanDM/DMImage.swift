@_exported import Units
/// ImageData `DataType` codes.
public enum DMDataType: Int, Sendable, CustomStringConvertible {
    case int16 = 1, float32 = 2, complex64 = 3, uint8 = 6, int32 = 7, rgb = 8, int8 = 9
    case uint16 = 10, uint32 = 11, float64 = 12, complex128 = 13, bool = 14, rgba = 23
    case packedComplex64 = 27, packedComplex128 = 28

    /// Bytes per pixel as stored.
    public var bytesPerPixel: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float32, .rgb, .rgba: 4
        case .float64, .complex64, .packedComplex64: 8
        case .complex128, .packedComplex128: 16
        }
    }

    public var description: String {
        switch self {
        case .int16: "int16"
        case .float32: "float32"
        case .complex64: "complex64"
        case .uint8: "uint8"
        case .int32: "int32"
        case .rgb: "rgb"
        case .int8: "int8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .float64: "float64"
        case .complex128: "complex128"
        case .bool: "bool"
        case .rgba: "rgba"
        case .packedComplex64: "packed-complex64"
        case .packedComplex128: "packed-complex128"
        }
    }
}

/// Calibration of one axis: physical position of index `i` is `(i - origin) * scale` in `unit`.
public struct DMAxis: Sendable, Equatable {
    public var scale: Double
    public var origin: Double
    /// The unit exactly as stored (`nm`, `Å`, `µm`, `1/nm`, `eV`, or empty).
    public var unit: String

    public init(scale: Double, origin: Double, unit: String) {
        self.scale = scale
        self.origin = origin
        self.unit = unit
    }

    /// Physical position of index 0 (`-origin * scale`), the "offset" other readers report.
    public var offset: Double { -origin * scale }

    /// Nanometres per unit when the unit is a length, else `nil`.
    public var nanometresPerUnit: Double? { LengthUnit.nanometres(per: unit) }

    /// Size of one pixel along this axis in nm; `nil` for non-length units or a scale that is not
    /// positive and finite.
    public var scaleNm: Double? {
        guard let f = nanometresPerUnit, scale.isFinite, scale > 0 else { return nil }
        return scale * f
    }
}

/// Instrument and acquisition facts, where the file records them.
public struct DMMetadata: Sendable, Equatable, Codable {
    public var acquisitionDate: String?
    public var acquisitionTime: String?
    public var microscope: String?
    public var device: String?
    /// Accelerating voltage in volts.
    public var voltageV: Double?
    public var indicatedMagnification: Double?
    public var actualMagnification: Double?
    public var exposureSeconds: Double?
    public var operatorName: String?
    public var specimen: String?
    /// `Meta Data.Signal` (e.g. `EELS`, `CL`, `DigiScan`).
    public var signal: String?
    /// `Meta Data.Format` (e.g. `Image`, `Spectrum`, `Spectrum image`, `Diffraction image`).
    public var format: String?

    public init() {}

    init(imageTags t: DMTagGroup?) {
        guard let t else { return }
        func text(_ paths: String...) -> String? {
            for p in paths { if let s = t.string(at: p)?.trimmingCharacters(in: .whitespaces), !s.isEmpty { return s } }
            return nil
        }
        func number(_ paths: String...) -> Double? {
            for p in paths { if let v = t.double(at: p), v.isFinite { return v } }
            return nil
        }
        acquisitionDate = text("DataBar.Acquisition Date", "SI.Acquisition.Date")
        acquisitionTime = text("DataBar.Acquisition Time", "SI.Acquisition.Start time")
        microscope = text("Microscope Info.Name", "Session Info.Microscope", "Microscope Info.Microscope")
        if microscope == "Unknown", let s = text("Session Info.Microscope") { microscope = s }
        device = text("DataBar.Device Name", "Acquisition.Device.Name")
        voltageV = number("Microscope Info.Voltage")
        indicatedMagnification = number("Microscope Info.Indicated Magnification")
        actualMagnification = number("Microscope Info.Actual Magnification")
        exposureSeconds = number("DataBar.Exposure Time (s)", "Acquisition.Parameters.High Level.Exposure (s)",
                                 "Acquisition.Parameters.Detector.exposure (s)")
        operatorName = text("Session Info.Operator")
        specimen = text("Session Info.Specimen")
        signal = text("Meta Data.Signal")
        format = text("Meta Data.Format")
    }
}

/// Pixel values in the type they were stored in, x fastest (row-major, slowest axis first).
public enum DMPixels: Sendable, Equatable {
    case int8([Int8]), uint8([UInt8]), int16([Int16]), uint16([UInt16])
    case int32([Int32]), uint32([UInt32]), float32([Float]), float64([Double]), bool([Bool])
    /// Interleaved (real, imaginary) pairs.
    case complex64([Float]), complex128([Double])
    /// (R, G, B, A) bytes per pixel.
    case rgba([UInt8])

    /// Real values as `Double` (bools 0/1); `nil` for complex and colour pixels.
    public var realValues: [Double]? {
        switch self {
        case .int8(let a): a.map(Double.init)
        case .uint8(let a): a.map(Double.init)
        case .int16(let a): a.map(Double.init)
        case .uint16(let a): a.map(Double.init)
        case .int32(let a): a.map(Double.init)
        case .uint32(let a): a.map(Double.init)
        case .float32(let a): a.map(Double.init)
        case .float64(let a): a
        case .bool(let a): a.map { $0 ? 1 : 0 }
        case .complex64, .complex128, .rgba: nil
        }
    }
}

/// One image of a DM file (an entry of `ImageList`): shape, calibration, metadata and pixels.
///
/// Conventions: `shape` and `axes` are slowest axis first, `(z, y, x)` for stacks and `(y, x)` for
/// 2-D images, the order of the stored data (x fastest). DM's own `Dimensions.1` is x.
public struct DMImage: Sendable {
    /// 1-based position in `ImageList`.
    public let index: Int
    public let title: String
    public let dataType: DMDataType
    public let shape: [Int]
    public let axes: [DMAxis]
    /// The file's `Thumbnails` group names this image as a thumbnail.
    public let isThumbnail: Bool
    public let metadata: DMMetadata
    /// The `ImageList` entry's whole tag group.
    public let tags: DMTagGroup
    /// Stored pixel data.
    public let data: DMArray

    /// The number of pixels the dimensions declare (saturating at `Int.max`, so absurd
    /// dimensions cannot trap; such an image fails ``validateAsMicrograph()`` and decoding).
    public var pixelCount: Int {
        var n = 1
        for d in shape {
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return .max }
            n = p
        }
        return n
    }

    /// The number of 2-D frames: `shape[0]` for a stack, 1 for a 2-D image.
    public var frameCount: Int { shape.count == 3 ? shape[0] : 1 }
    public var width: Int { shape.last ?? 0 }
    public var height: Int { shape.count >= 2 ? shape[shape.count - 2] : 1 }

    /// Pixel size in nm of the (y, x) plane, when both axes are calibrated in length units.
    public var pixelSizeNm: PixelSizeNm? {
        guard axes.count >= 2, let y = axes[axes.count - 2].scaleNm, let x = axes[axes.count - 1].scaleNm else { return nil }
        return PixelSizeNm(y: y, x: x)
    }

    /// Throws ``DMError/Kind/notAMicrograph`` for what a micrograph reader must not analyse as an
    /// image: 1-D signals (also when stored as `1 x N`), spectra and spectrum images, and
    /// ``DMError/Kind/unsupportedData`` for packed-complex FFTs.
    public func validateAsMicrograph() throws {
        let path = "ImageList.\(index)"
        if dataType == .packedComplex64 || dataType == .packedComplex128 {
            throw DMError(.unsupportedData, "image '\(title)' is a packed-complex FFT (DataType \(dataType.rawValue)), which antema does not unpack", tagPath: path + ".ImageData.DataType")
        }
        if let f = metadata.format, f.lowercased().contains("spectrum") {
            throw DMError(.notAMicrograph, "image '\(title)' is a \(f.lowercased()) (\(metadata.signal ?? "unknown signal")), not a micrograph", tagPath: path + ".ImageTags.Meta Data.Format")
        }
        if shape.contains(0) {
            throw DMError(.notAMicrograph, "image '\(title)' is empty (shape \(shape))", tagPath: path + ".ImageData.Dimensions")
        }
        if shape.count < 2 || shape.suffix(2).contains(1) {
            throw DMError(.notAMicrograph, "image '\(title)' has shape \(shape): a 1-D signal (spectrum or profile), not a micrograph", tagPath: path + ".ImageData.Dimensions")
        }
        if shape.count > 3 {
            throw DMError(.notAMicrograph, "image '\(title)' has \(shape.count) dimensions; micrographs have 2 (or 3 for a stack)", tagPath: path + ".ImageData.Dimensions")
        }
        // the dimensions must describe the data that is there
        try checkDataSize()
    }

    /// The pixels in their stored type.
    public func pixels() throws -> DMPixels {
        try checkDataSize()
        let n = pixelCount
        let raw = data.storage.bytes
        let o = data.byteOffset
        let le = data.littleEndian
        switch dataType {
        case .int8: return .int8(decode(raw, o, n, le) { (v: UInt8) in Int8(bitPattern: v) })
        case .uint8: return .uint8(decode(raw, o, n, le) { (v: UInt8) in v })
        case .bool: return .bool(decode(raw, o, n, le) { (v: UInt8) in v != 0 })
        case .int16: return .int16(decode(raw, o, n, le) { (v: UInt16) in Int16(bitPattern: v) })
        case .uint16: return .uint16(decode(raw, o, n, le) { (v: UInt16) in v })
        case .int32: return .int32(decode(raw, o, n, le) { (v: UInt32) in Int32(bitPattern: v) })
        case .uint32: return .uint32(decode(raw, o, n, le) { (v: UInt32) in v })
        case .float32: return .float32(decode(raw, o, n, le) { (v: UInt32) in Float(bitPattern: v) })
        case .float64: return .float64(decode(raw, o, n, le) { (v: UInt64) in Double(bitPattern: v) })
        case .complex64: return .complex64(decode(raw, o, 2 * n, le) { (v: UInt32) in Float(bitPattern: v) })
        case .complex128: return .complex128(decode(raw, o, 2 * n, le) { (v: UInt64) in Double(bitPattern: v) })
        case .rgb, .rgba:
            // Each pixel is a 32-bit word 0xAARRGGBB in the file's byte order.
            let words: [UInt32] = decode(raw, o, n, le) { (v: UInt32) in v }
            var out = [UInt8](repeating: 0, count: 4 * n)
            for i in 0..<n {
                let w = words[i]
                out[4 * i] = UInt8(truncatingIfNeeded: w >> 16)
                out[4 * i + 1] = UInt8(truncatingIfNeeded: w >> 8)
                out[4 * i + 2] = UInt8(truncatingIfNeeded: w)
                out[4 * i + 3] = UInt8(truncatingIfNeeded: w >> 24)
            }
            return .rgba(out)
        case .packedComplex64, .packedComplex128:
            throw DMError(.unsupportedData, "packed-complex data (DataType \(dataType.rawValue)) is not decoded", tagPath: "ImageList.\(index).ImageData.DataType")
        }
    }

    /// All pixels as the `Float32` working values, x fastest.
    ///
    /// Conversion: integers and floats to the nearest `Float`; bool to 0/1; RGB(A) to luminance
    /// `0.299 R + 0.587 G + 0.114 B` (ITU-R BT.601, alpha ignored); complex to its modulus.
    public func floatPixels() throws -> [Float] {
        try checkDataSize()
        let n = pixelCount
        let raw = data.storage.bytes
        let o = data.byteOffset
        let le = data.littleEndian
        switch dataType {
        case .float32: return decode(raw, o, n, le) { (v: UInt32) in Float(bitPattern: v) }
        case .uint16: return decode(raw, o, n, le) { (v: UInt16) in Float(v) }
        case .int16: return decode(raw, o, n, le) { (v: UInt16) in Float(Int16(bitPattern: v)) }
        case .uint8: return decode(raw, o, n, le) { (v: UInt8) in Float(v) }
        case .int8: return decode(raw, o, n, le) { (v: UInt8) in Float(Int8(bitPattern: v)) }
        case .bool: return decode(raw, o, n, le) { (v: UInt8) in v != 0 ? 1 : 0 }
        case .int32: return decode(raw, o, n, le) { (v: UInt32) in Float(Int32(bitPattern: v)) }
        case .uint32: return decode(raw, o, n, le) { (v: UInt32) in Float(v) }
        case .float64: return decode(raw, o, n, le) { (v: UInt64) in Float(Double(bitPattern: v)) }
        case .rgb, .rgba:
            return decode(raw, o, n, le) { (w: UInt32) in
                0.299 * Float((w >> 16) & 0xFF) + 0.587 * Float((w >> 8) & 0xFF) + 0.114 * Float(w & 0xFF)
            }
        case .complex64:
            let v: [Float] = decode(raw, o, 2 * n, le) { (v: UInt32) in Float(bitPattern: v) }
            return (0..<n).map { i -> Float in
                let re: Float = v[2 * i], im: Float = v[2 * i + 1]
                return (re * re + im * im).squareRoot()
            }
        case .complex128:
            let v: [Double] = decode(raw, o, 2 * n, le) { (v: UInt64) in Double(bitPattern: v) }
            return (0..<n).map { i -> Float in
                let re: Double = v[2 * i], im: Double = v[2 * i + 1]
                return Float((re * re + im * im).squareRoot())
            }
        case .packedComplex64, .packedComplex128:
            _ = try pixels()
            return []
        }
    }

    /// Frame `z` (0-based) of a stack, or the image itself for `z == 0` of a 2-D image, as
    /// `Float32` working values (see ``floatPixels()``).
    public func floatFrame(_ z: Int) throws -> [Float] {
        guard z >= 0, z < frameCount else {
            throw DMError(.invalidArgument, "frame \(z) out of range 0..<\(frameCount)", tagPath: "ImageList.\(index)")
        }
        let all = try floatPixels()
        if frameCount == 1 { return all }
        let size = width * height
        return Array(all[(z * size)..<((z + 1) * size)])
    }

    func checkDataSize() throws {
        let (needed, overflow) = pixelCount.multipliedReportingOverflow(by: dataType.bytesPerPixel)
        guard !overflow, needed == data.byteCount else {
            throw DMError(.malformedTag,
                          "image '\(title)' declares \(shape) pixels of \(dataType) (\(overflow ? "overflowing" : String(needed)) bytes) but its Data holds \(data.byteCount) bytes",
                          offset: data.byteOffset, tagPath: "ImageList.\(index).ImageData.Data")
        }
    }
}

/// Decodes `count` unsigned words of `T`'s width at `offset`, in the file's byte order, mapping
/// each through `transform`. The caller has checked the bounds.
@inline(__always)
func decode<W: FixedWidthInteger & UnsignedInteger, R>(_ bytes: [UInt8], _ offset: Int, _ count: Int, _ littleEndian: Bool, _ transform: (W) -> R) -> [R] {
    precondition(offset >= 0 && offset + count * MemoryLayout<W>.size <= bytes.count)
    return [R](unsafeUninitializedCapacity: count) { buffer, initialized in
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + offset
            if littleEndian {
                for i in 0..<count { buffer[i] = transform(W(littleEndian: base.loadUnaligned(fromByteOffset: i * MemoryLayout<W>.size, as: W.self))) }
            } else {
                for i in 0..<count { buffer[i] = transform(W(bigEndian: base.loadUnaligned(fromByteOffset: i * MemoryLayout<W>.size, as: W.self))) }
            }
        }
        initialized = count
    }
}

extension DMFile {
    /// Every entry of `ImageList`, thumbnails included (flagged), in file order.
    ///
    /// An entry whose image tags cannot be understood makes this throw, naming the entry.
    public func allImages() throws -> [DMImage] {
        guard let list = root.group(at: "ImageList") else { return [] }
        let thumbs = Set((root.group(at: "Thumbnails")?.entries ?? []).compactMap { $0.node.group?.int(at: "ImageIndex") })
        return try list.entries.enumerated().map { i, entry in
            let path = "ImageList.\(i + 1)"
            guard let g = entry.node.group else {
                throw DMError(.missingTag, "ImageList entry is not a tag group", offset: entry.offset, tagPath: path)
            }
            return try DMImage(group: g, index: i + 1, isThumbnail: thumbs.contains(i), entryOffset: entry.offset)
        }
    }

    /// The images a user means: every `ImageList` entry that is not a thumbnail.
    public func images() throws -> [DMImage] { try allImages().filter { !$0.isThumbnail } }
}

extension DMImage {
    init(group g: DMTagGroup, index: Int, isThumbnail: Bool, entryOffset: Int) throws {
        let path = "ImageList.\(index)"
        func missing(_ what: String) -> DMError {
            DMError(.missingTag, "image has no usable \(what)", offset: entryOffset, tagPath: path + "." + what)
        }
        guard case .array(let data)? = g.value(at: "ImageData.Data") else { throw missing("ImageData.Data") }
        guard let code = g.int(at: "ImageData.DataType") else { throw missing("ImageData.DataType") }
        guard let type = DMDataType(rawValue: code) else {
            throw DMError(.unsupportedData, "unknown ImageData DataType \(code)", offset: entryOffset, tagPath: path + ".ImageData.DataType")
        }
        guard let dims = g.group(at: "ImageData.Dimensions"), !dims.entries.isEmpty else { throw missing("ImageData.Dimensions") }
        var xFirst: [Int] = []
        for (k, e) in dims.entries.enumerated() {
            guard let v = e.node.value?.intValue, v >= 0 else {
                throw DMError(.malformedTag, "dimension \(k + 1) is not a non-negative whole number", offset: e.offset, tagPath: path + ".ImageData.Dimensions.\(k + 1)")
            }
            xFirst.append(v)
        }
        let calibrations = g.group(at: "ImageData.Calibrations.Dimension")
        var axesXFirst: [DMAxis] = []
        for k in 0..<xFirst.count {
            let c = calibrations?[String(k + 1)]?.group
            let scale = c?.double(at: "Scale") ?? 1
            axesXFirst.append(DMAxis(scale: scale, origin: c?.double(at: "Origin") ?? 0, unit: c?.string(at: "Units") ?? ""))
        }
        self.index = index
        self.title = g.string(at: "Name") ?? ""
        self.dataType = type
        self.shape = xFirst.reversed()
        self.axes = axesXFirst.reversed()
        self.isThumbnail = isThumbnail
        self.metadata = DMMetadata(imageTags: g.group(at: "ImageTags"))
        self.tags = g
        self.data = data
    }
}
