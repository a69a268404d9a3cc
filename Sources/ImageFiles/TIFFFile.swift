import CTIFFShim
import Foundation

/// TIFF through libtiff: single-channel 8/16/32-bit integer or 32-bit float images are read as
/// they are; colour images are read through libtiff's RGBA conversion and turned into BT.601
/// luminance. Only the first page (directory) is read.
///
/// Pixel size: ImageJ-style files (`unit=nm|micron|um|A` in ImageDescription, resolution in
/// pixels per unit) give it; other resolution tags (dots per inch) are not a physical pixel size
/// and are ignored.
public enum TIFFFile {
    static let imageWidth: UInt32 = 256, imageLength: UInt32 = 257, bitsPerSample: UInt32 = 258
    static let photometric: UInt32 = 262, imageDescription: UInt32 = 270, samplesPerPixel: UInt32 = 277
    static let xResolution: UInt32 = 282, yResolution: UInt32 = 283, sampleFormat: UInt32 = 339

    public struct Image: Sendable {
        public var raster: GrayRaster
        /// (y, x) nm per pixel when the file states it.
        public var pixelSizeNm: (y: Double, x: Double)?
    }

    /// Images above `maxPixels` (width x height) are refused from the header, before any allocation.
    public static func read(path: String, maxPixels: Int = PNGFile.defaultMaxPixels) throws -> Image {
        guard let tif = tiffshim_open(path) else {
            throw ImageFileError(path: path, message: "not a readable TIFF: \(String(cString: tiffshim_last_error()))")
        }
        defer { tiffshim_close(tif) }
        var width: UInt32 = 0, height: UInt32 = 0, bits: UInt16 = 8, samples: UInt16 = 1, format: UInt16 = 1
        guard tiffshim_get_u32(tif, imageWidth, &width) == 1, tiffshim_get_u32(tif, imageLength, &height) == 1 else {
            throw ImageFileError(path: path, message: "TIFF without image width/length")
        }
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw ImageFileError(path: path, message: "TIFF size \(width) x \(height) is outside 1...65536")
        }
        guard Int(width) * Int(height) <= maxPixels else {
            throw ImageFileError(path: path, message: "TIFF of \(width) x \(height) pixels is larger than the maximum of \(maxPixels) pixels")
        }
        _ = tiffshim_get_u16(tif, bitsPerSample, &bits)
        _ = tiffshim_get_u16(tif, samplesPerPixel, &samples)
        _ = tiffshim_get_u16(tif, sampleFormat, &format)
        let w = Int(width), h = Int(height)
        var pixels = [Float](repeating: 0, count: w * h)
        var depth = Int(bits)
        if samples == 1 && [8, 16, 32].contains(bits) && tiffshim_is_tiled(tif) == 0 {
            let lineBytes = Int(tiffshim_scanline_size(tif))
            guard lineBytes >= w * Int(bits) / 8 else { throw ImageFileError(path: path, message: "TIFF scanline size \(lineBytes) is too small") }
            var line = [UInt8](repeating: 0, count: lineBytes)
            for r in 0..<h {
                let ok = line.withUnsafeMutableBytes { tiffshim_read_scanline(tif, $0.baseAddress, UInt32(r), 0) }
                guard ok >= 0 else { throw ImageFileError(path: path, message: "TIFF row \(r) unreadable: \(String(cString: tiffshim_last_error()))") }
                line.withUnsafeBytes { raw in
                    for c in 0..<w {
                        let v: Float
                        switch (bits, format) {
                        case (8, 2): v = Float(Int8(bitPattern: raw[c]))
                        case (8, _): v = Float(raw[c])
                        case (16, 2): v = Float(raw.loadUnaligned(fromByteOffset: 2 * c, as: Int16.self))
                        case (16, _): v = Float(raw.loadUnaligned(fromByteOffset: 2 * c, as: UInt16.self))
                        case (32, 3): v = raw.loadUnaligned(fromByteOffset: 4 * c, as: Float.self)
                        case (32, 2): v = Float(raw.loadUnaligned(fromByteOffset: 4 * c, as: Int32.self))
                        default: v = Float(raw.loadUnaligned(fromByteOffset: 4 * c, as: UInt32.self))
                        }
                        pixels[r * w + c] = v
                    }
                }
            }
        } else {
            var rgba = [UInt32](repeating: 0, count: w * h)
            let ok = rgba.withUnsafeMutableBufferPointer { tiffshim_read_rgba(tif, width, height, $0.baseAddress) }
            guard ok == 1 else { throw ImageFileError(path: path, message: "TIFF layout not supported: \(String(cString: tiffshim_last_error()))") }
            for i in 0..<(w * h) {
                let p = rgba[i]  // ABGR packed: R in the low byte
                pixels[i] = 0.299 * Float(p & 0xFF) + 0.587 * Float((p >> 8) & 0xFF) + 0.114 * Float((p >> 16) & 0xFF)
            }
            depth = 8
        }
        return Image(raster: GrayRaster(width: w, height: h, pixels: pixels, bitDepth: depth), pixelSizeNm: pixelSize(tif))
    }

    static func pixelSize(_ tif: OpaquePointer) -> (y: Double, x: Double)? {
        var description: UnsafePointer<CChar>? = nil
        guard tiffshim_get_string(tif, imageDescription, &description) == 1, let description else { return nil }
        let text = String(cString: description)
        guard let unitLine = text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("unit=") }) else { return nil }
        let unit = String(unitLine.dropFirst(5)).replacingOccurrences(of: "\\u00B5", with: "µ")
        let nmPerUnit: Double
        switch unit {
        case "nm", "nanometer", "nanometers": nmPerUnit = 1
        case "micron", "microns", "um", "µm", "μm": nmPerUnit = 1000
        case "A", "Å", "angstrom", "Angstrom": nmPerUnit = 0.1
        case "pm": nmPerUnit = 0.001
        default: return nil
        }
        var xres: Float = 0, yres: Float = 0
        guard tiffshim_get_float(tif, xResolution, &xres) == 1, xres > 0 else { return nil }
        if tiffshim_get_float(tif, yResolution, &yres) != 1 || yres <= 0 { yres = xres }
        return (nmPerUnit / Double(yres), nmPerUnit / Double(xres))
    }

    /// Writes a single-channel 8- or 16-bit TIFF, optionally ImageJ-calibrated in nm.
    public static func write(gray pixels: [UInt16], width: Int, height: Int, bits: Int, pixelSizeNm: Double?, to path: String) throws {
        precondition(pixels.count == width * height && (bits == 8 || bits == 16))
        let description: String? = pixelSizeNm == nil ? nil : "ImageJ=1.54f\nunit=nm\n"
        let res = pixelSizeNm.map { Float(1 / $0) } ?? 0
        let ok: Int32
        if bits == 8 {
            let bytes = pixels.map { UInt8(clamping: $0) }
            ok = bytes.withUnsafeBytes { tiffshim_write_gray(path, UInt32(width), UInt32(height), 8, $0.baseAddress, description, res, res) }
        } else {
            ok = pixels.withUnsafeBytes { tiffshim_write_gray(path, UInt32(width), UInt32(height), 16, $0.baseAddress, description, res, res) }
        }
        guard ok == 1 else { throw ImageFileError(path: path, message: "cannot write TIFF: \(String(cString: tiffshim_last_error()))") }
    }
}
