import Foundation
import Testing
@testable import ImageFiles

@Suite struct RasterFiles {
    static func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("antema-\(UUID().uuidString)-\(name)").path
    }

    @Test("an 8-bit PNG written and read back is identical")
    func pngRoundTrip() throws {
        let path = Self.temp("a.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pixels: [UInt8] = (0..<(13 * 7)).map { UInt8($0 * 3 % 256) }
        try PNGFile.write(gray8: pixels, width: 13, height: 7, to: path)
        let r = try PNGFile.read(path: path)
        #expect(r.width == 13 && r.height == 7 && r.bitDepth == 8)
        #expect(r.pixels == pixels.map(Float.init))
    }

    @Test("a 16-bit PNG written and read back keeps its 16-bit values")
    func png16RoundTrip() throws {
        let path = Self.temp("b.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pixels: [UInt16] = (0..<(9 * 5)).map { UInt16($0 * 1400) }
        try PNGFile.write(gray16: pixels, width: 9, height: 5, to: path)
        let r = try PNGFile.read(path: path)
        #expect(r.bitDepth == 16 && r.width == 9 && r.height == 5)
        #expect(r.pixels == pixels.map(Float.init))
    }

    @Test("fast and small PNG compression decode to the same pixels; RGB reads back as its sRGB luminance",
          arguments: [PNGFile.Compression.fast, .small])
    func pngCompressionLevelsAgree(compression: PNGFile.Compression) throws {
        // noise, a gradient and flat runs: each filter and match path of the encoder
        var state: UInt32 = 12345
        let gray: [UInt8] = (0..<(300 * 200)).map { i in
            state = state &* 1_664_525 &+ 1_013_904_223
            return i % 300 < 100 ? UInt8(state >> 24) : i % 300 < 200 ? UInt8(i % 300) : 77
        }
        let encoded = try PNGFile.encode(gray8: gray, width: 300, height: 200, compression: compression)
        #expect(try PNGFile.decode(encoded).pixels == gray.map(Float.init))
        // grey written as RGB: libpng's luminance of (v, v, v) is v
        let rgb = gray.flatMap { [$0, $0, $0] }
        let encodedRGB = try PNGFile.encode(rgb8: rgb, width: 300, height: 200, compression: compression)
        #expect(encodedRGB[25] == 2, "colour type RGB")
        #expect(try PNGFile.decode(encodedRGB).pixels == gray.map(Float.init))
    }

    @Test("a PNG that compresses badly (random bytes) still fits the encoder's single buffer")
    func incompressiblePNG() throws {
        var state: UInt64 = 99
        let rgb: [UInt8] = (0..<(257 * 129 * 3)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for compression in [PNGFile.Compression.fast, .small] {
            let encoded = try PNGFile.encode(rgb8: rgb, width: 257, height: 129, compression: compression)
            #expect(encoded.count > rgb.count, "random bytes do not compress")
            #expect(try PNGFile.decode(encoded).width == 257)
        }
    }

    @Test("8- and 16-bit TIFFs read back with their ImageJ calibration in nm", arguments: [8, 16])
    func tiffRoundTrip(bits: Int) throws {
        let path = Self.temp("a.tif")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pixels: [UInt16] = (0..<(10 * 6)).map { UInt16($0 * (bits == 8 ? 4 : 1000)) }
        try TIFFFile.write(gray: pixels, width: 10, height: 6, bits: bits, pixelSizeNm: 0.125, to: path)
        let t = try TIFFFile.read(path: path)
        #expect(t.raster.width == 10 && t.raster.height == 6)
        #expect(t.raster.pixels == pixels.map(Float.init))
        #expect(abs((t.pixelSizeNm?.x ?? 0) - 0.125) < 1e-6 && abs((t.pixelSizeNm?.y ?? 0) - 0.125) < 1e-6)
        let plain = Self.temp("b.tif")
        defer { try? FileManager.default.removeItem(atPath: plain) }
        try TIFFFile.write(gray: pixels, width: 10, height: 6, bits: bits, pixelSizeNm: nil, to: plain)
        #expect(try TIFFFile.read(path: plain).pixelSizeNm == nil)
    }

    @Test("files that are not PNG or TIFF give an error naming the file")
    func badFiles() throws {
        let path = Self.temp("bad.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("definitely not an image".utf8).write(to: URL(fileURLWithPath: path))
        let e1 = #expect(throws: ImageFileError.self) { try PNGFile.read(path: path) }
        #expect(e1?.description.contains(path) == true)
        #expect(throws: ImageFileError.self) { try TIFFFile.read(path: path) }
        #expect(throws: ImageFileError.self) { try PNGFile.read(path: "/nonexistent/x.png") }
        // a PNG cut in half
        let good = Self.temp("good.png")
        defer { try? FileManager.default.removeItem(atPath: good) }
        try PNGFile.write(gray8: [UInt8](repeating: 7, count: 64 * 64), width: 64, height: 64, to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        #expect(throws: ImageFileError.self) { try PNGFile.decode([UInt8](bytes.prefix(bytes.count / 2))) }
    }
}

@Suite struct ImageBombs {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// A PNG whose header declares `width` x `height` 8-bit grey pixels, with a few bytes of data.
    static func bomb(width: UInt32, height: UInt32) -> [UInt8] {
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
        }
        let ihdr = bigEndian(width) + bigEndian(height) + [8, 0, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]) + chunk("IEND", [])
    }

    @Test("a tiny PNG declaring 65536 x 65536 pixels is refused from its header, quickly and without allocating its pixels")
    func pngBomb() {
        let bytes = Self.bomb(width: 65536, height: 65536)
        #expect(bytes.count < 100)
        let start = DispatchTime.now().uptimeNanoseconds
        let e = #expect(throws: ImageFileError.self) { try PNGFile.decode(bytes, path: "bomb.png") }
        #expect(e?.message.contains("65536 x 65536") == true && e?.message.contains("maximum") == true)
        #expect(DispatchTime.now().uptimeNanoseconds - start < 1_000_000_000)
    }

    @Test("PNG and TIFF files above the configured maximum are refused naming the size; below it they are read")
    func configurableMaximum() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bombs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("a.png").path, tif = dir.appendingPathComponent("a.tif").path
        try PNGFile.write(gray8: [UInt8](repeating: 3, count: 40 * 30), width: 40, height: 30, to: png)
        try TIFFFile.write(gray: [UInt16](repeating: 3, count: 40 * 30), width: 40, height: 30, bits: 8, pixelSizeNm: nil, to: tif)
        #expect(throws: ImageFileError.self) { try PNGFile.read(path: png, maxPixels: 1199) }
        #expect(throws: ImageFileError.self) { try TIFFFile.read(path: tif, maxPixels: 1199) }
        #expect(try PNGFile.read(path: png, maxPixels: 1200).width == 40)
        #expect(try TIFFFile.read(path: tif, maxPixels: 1200).raster.height == 30)
    }
}
