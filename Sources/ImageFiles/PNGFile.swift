import CPNG
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

    /// Writes an 8-bit greyscale PNG.
    public static func write(gray8 pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        precondition(pixels.count == width * height)
        try writeFile(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_GRAY), to: path)
    }

    /// Writes a 16-bit greyscale PNG (values stored as they are, no gamma).
    public static func write(gray16 pixels: [UInt16], width: Int, height: Int, to path: String) throws {
        precondition(pixels.count == width * height)
        try writeFile(pixels, width: width, height: height, format: UInt32(PNG_FORMAT_LINEAR_Y), to: path)
    }

    /// Writes samples in a libpng simplified-API format.
    static func writeFile<T>(_ pixels: [T], width: Int, height: Int, format: UInt32, to path: String) throws {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(format)
        let ok = pixels.withUnsafeBytes { png_image_write_to_file(&image, path, 0, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw ImageFileError(path: path, message: "cannot write PNG: \(message(&image))") }
    }

    /// Writes an 8-bit RGB PNG (3 bytes a pixel, row-major).
    public static func write(rgb8 pixels: [UInt8], width: Int, height: Int, to path: String) throws {
        let data = try encode(rgb8: pixels, width: width, height: height)
        do { try Data(data).write(to: URL(fileURLWithPath: path)) } catch {
            throw ImageFileError(path: path, message: "cannot write PNG: \(error.localizedDescription)")
        }
    }

    /// Encodes an 8-bit RGB PNG in memory.
    public static func encode(rgb8 pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        precondition(pixels.count == width * height * 3)
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = png_uint_32(PNG_FORMAT_RGB)
        var size: Int = 0
        // first call: the size needed
        guard pixels.withUnsafeBytes({ png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }) != 0 else {
            throw ImageFileError(path: "<memory>", message: "cannot encode PNG: \(message(&image))")
        }
        var out = [UInt8](repeating: 0, count: size)
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard ok != 0 else { throw ImageFileError(path: "<memory>", message: "cannot encode PNG: \(message(&image))") }
        return Array(out.prefix(size))
    }

    static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// IHDR bit depth 16 (byte 24 of a PNG).
    static func isSixteenBit(_ bytes: [UInt8]) -> Bool { bytes.count > 24 && bytes[24] == 16 }
}
