import CPNG
import CPNGEncode
import Foundation

/// A greyscale raster read from or written to PNG: row-major, origin top-left.
public struct GrayRaster: Sendable {
    public let width: Int
    public let height: Int
    /// Values as stored (0...255 for 8-bit, 0...65535 for 16-bit), as Float.
    public var pixels: [Float]
    public let bitDepth: Int
}

public struct ImageFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// PNG through libpng's simplified API (no setjmp): colour images are converted to grey by
/// libpng (sRGB luminance), alpha is composited away, 16-bit files keep 16 bits.
public enum PNGFile {
    /// Images above `maxPixels` (width x height) are refused from the header, before any
    /// allocation: a small compressed file can declare gigapixels.
    public static let defaultMaxPixels = 100_000_000

    public static func read(path: String, maxPixels: Int = defaultMaxPixels) throws -> GrayRaster {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ImageFileError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        return try decode([UInt8](data), path: path, maxPixels: maxPixels)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>", maxPixels: Int = defaultMaxPixels) throws -> GrayRaster {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        let ok = bytes.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard ok != 0 else { throw ImageFileError(path: path, message: "not a readable PNG: \(message(&image))") }
        defer { png_image_free(&image) }
        let sixteen = (image.format & UInt32(PNG_FORMAT_FLAG_LINEAR)) != 0 || isSixteenBit(bytes)
        let width = Int(image.width), height = Int(image.height)
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw ImageFileError(path: path, message: "PNG size \(width) x \(height) is outside 1...65536")
        }
        guard width * height <= maxPixels else {
            throw ImageFileError(path: path, message: "PNG of \(width) x \(height) pixels is larger than the maximum of \(maxPixels) pixels")
        }
        /// Finishes the read into samples of `T` (UInt8 for 8-bit, UInt16 for 16-bit files).
        func finish<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, format: UInt32, depth: Int) throws -> GrayRaster {
            image.format = png_uint_32(format)
            var buffer = [T](repeating: 0, count: width * height)
            let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else { throw ImageFileError(path: path, message: "PNG decoding failed: \(message(&image))") }
            return GrayRaster(width: width, height: height, pixels: buffer.map { Float($0) }, bitDepth: depth)
        }
        // the memory image must stay alive until the read finishes
        return try withExtendedLifetime(bytes) {
            sixteen ? try finish(UInt16.self, format: UInt32(PNG_FORMAT_LINEAR_Y), depth: 16) : try finish(UInt8.self, format: UInt32(PNG_FORMAT_GRAY), depth: 8)
        }
    }

    /// How hard the encoder works. `.fast` (zlib level 1, the "sub" row filter) is for the
    /// pictures written per image: on 1024 x 1024 pictures about eight times faster than `.small`
    /// and under a tenth larger; `.small` (libpng's defaults: level 6, adaptive filters) for files
    /// kept as data.
    public enum Compression: Sendable { case fast, small }

    /// Writes an 8-bit greyscale PNG.
    public static func write(gray8 pixels: [UInt8], width: Int, height: Int, to path: String, compression: Compression = .small) throws {
        precondition(pixels.count == width * height)
        try writeEncoded(encode(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_GRAY), compression: compression), to: path)
    }

    /// Writes a 16-bit greyscale PNG (values stored as they are, no gamma).
    public static func write(gray16 pixels: [UInt16], width: Int, height: Int, to path: String, compression: Compression = .small) throws {
        precondition(pixels.count == width * height)
        try writeEncoded(encode(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_LINEAR_Y), compression: compression), to: path)
    }

    /// Writes an 8-bit RGB PNG (3 bytes a pixel, row-major).
    public static func write(rgb8 pixels: [UInt8], width: Int, height: Int, to path: String, compression: Compression = .small) throws {
        try writeEncoded(encode(rgb8: pixels, width: width, height: height, compression: compression), to: path)
    }

    /// Encodes an 8-bit RGB PNG in memory.
    public static func encode(rgb8 pixels: [UInt8], width: Int, height: Int, compression: Compression = .small) throws -> [UInt8] {
        precondition(pixels.count == width * height * 3)
        return try encode(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_RGB), compression: compression)
    }

    /// Encodes an 8-bit RGB PNG in memory with its resolution recorded (pHYs, in pixels per
    /// metre as PNG keeps it): figures for print. zlib level 6, libpng's adaptive filters.
    public static func encode(rgb8 pixels: [UInt8], width: Int, height: Int, dotsPerInch: Double) throws -> [UInt8] {
        precondition(pixels.count == width * height * 3)
        return try encodeFull(pixels, width: width, height: height, channels: 3, level: 6, filter: -1, pixelsPerMetre: UInt32((dotsPerInch / 0.0254).rounded()))
    }

    /// The resolution a PNG records (its pHYs chunk in pixels per metre), in dots per inch; nil without one.
    public static func dotsPerInch(_ png: [UInt8]) -> Double? {
        var i = 8
        while i + 8 <= png.count {
            let length = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            if png[(i + 4)..<(i + 8)].elementsEqual("pHYs".utf8), i + 17 <= png.count, png[i + 16] == 1 {
                let ppm = UInt32(png[i + 8]) << 24 | UInt32(png[i + 9]) << 16 | UInt32(png[i + 10]) << 8 | UInt32(png[i + 11])
                return Double(ppm) * 0.0254
            }
            i += 12 + length
        }
        return nil
    }

    /// Encodes an 8-bit greyscale PNG in memory.
    public static func encode(gray8 pixels: [UInt8], width: Int, height: Int, compression: Compression = .small) throws -> [UInt8] {
        precondition(pixels.count == width * height)
        return try encode(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_GRAY), compression: compression)
    }

    /// Samples in a libpng simplified-API format, compressed once into a buffer of libpng's own
    /// upper bound (asking libpng for the size first would compress the image twice).
    static func encode<T>(_ pixels: [T], width: Int, height: Int, format: UInt32, compression: Compression) throws -> [UInt8] {
        if compression == .fast, T.self == UInt8.self, format == UInt32(PNG_FORMAT_GRAY) || format == UInt32(PNG_FORMAT_RGB) {
            return try encodeFast(pixels as! [UInt8], width: width, height: height, channels: format == UInt32(PNG_FORMAT_GRAY) ? 1 : 3)
        }
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(format)
        if compression == .fast { image.flags |= png_uint_32(PNG_IMAGE_FLAG_FAST) }
        var size = antema_png_size_max(&image)
        var out = [UInt8](repeating: 0, count: size)
        var ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        if ok == 0, size > out.count, image.warning_or_error == 0 {
            // the bound was too small after all (a zlib that compresses worse): libpng said how much it needs
            out = [UInt8](repeating: 0, count: size)
            ok = out.withUnsafeMutableBytes { dst in
                pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
            }
        }
        guard ok != 0 else { throw ImageFileError(path: "<memory>", message: "cannot encode PNG: \(message(&image))") }
        out.removeSubrange(size...)
        return out
    }

    /// zlib level 1 with the "sub" filter through libpng's full API (the simplified API's fast
    /// mode is fixed at level 3 without filters: three times slower for the same size here).
    static func encodeFast(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        try encodeFull(pixels, width: width, height: height, channels: channels, level: 1, filter: 1, pixelsPerMetre: 0)
    }

    /// libpng's full API (`Sources/CPNGEncode`): zlib level, row filter (-1 adaptive) and pHYs.
    static func encodeFull(_ pixels: [UInt8], width: Int, height: Int, channels: Int, level: Int32, filter: Int32, pixelsPerMetre: UInt32) throws -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { p in
            antema_png_encode(p.baseAddress, Int32(width), Int32(height), Int32(channels), level, filter, pixelsPerMetre, &out, &size, &message, message.count)
        }
        guard status == 0, let out else {
            throw ImageFileError(path: "<memory>", message: "cannot encode PNG: \(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        defer { antema_png_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    static func writeEncoded(_ data: [UInt8], to path: String) throws {
        do { try Data(data).write(to: URL(fileURLWithPath: path)) } catch {
            throw ImageFileError(path: path, message: "cannot write PNG: \(error.localizedDescription)")
        }
    }

    static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// IHDR bit depth 16 (byte 24 of a PNG).
    static func isSixteenBit(_ bytes: [UInt8]) -> Bool { bytes.count > 24 && bytes[24] == 16 }
}
