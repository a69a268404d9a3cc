import Testing
@testable import GatanDM

@Suite struct WriterRoundTrips {
    static let metadata: DMMetadata = {
        var m = DMMetadata()
        m.acquisitionDate = "11/25/2026"
        m.acquisitionTime = "3:04:05 PM"
        m.microscope = "Test TEM"
        m.voltageV = 200_000
        m.indicatedMagnification = 500_000
        m.exposureSeconds = 0.25
        return m
    }()

    @Test("a float32 image with non-square Å/nm calibration and metadata reads back identically", arguments: [3, 4])
    func float32RoundTrip(version: Int) throws {
        let pixels = (0..<(7 * 5)).map { Float($0) * 0.5 - 3 }
        let axes = [DMAxis(scale: 2, origin: 1, unit: "Å"), DMAxis(scale: 0.125, origin: -4, unit: "nm")]
        let bytes = try DMWriter.write([DMImageToWrite(title: "sample A µ", shape: [5, 7], axes: axes, pixels: .float32(pixels), metadata: Self.metadata)], version: version)
        let file = try DMReader.parse(bytes)
        #expect(file.version == version)
        let all = try file.allImages()
        #expect(all.count == 2 && all[0].isThumbnail && !all[1].isThumbnail)
        let image = try #require(try file.images().first)
        #expect(image.title == "sample A µ")
        #expect(image.shape == [5, 7])
        #expect(image.axes == axes)
        #expect(image.pixelSizeNm == PixelSizeNm(y: 0.2, x: 0.125))
        #expect(image.metadata == Self.metadata)
        #expect(try image.pixels() == .float32(pixels))
        #expect(try image.floatPixels() == pixels)
        try image.validateAsMicrograph()
    }

    @Test("an int16 stack reads back frame by frame", arguments: [3, 4])
    func int16StackRoundTrip(version: Int) throws {
        let (frames, h, w) = (3, 4, 6)
        let values = (0..<(frames * h * w)).map { Int16($0 * 97 % 2000 - 1000) }
        let bytes = try DMWriter.write([DMImageToWrite(title: "stack", shape: [frames, h, w], pixels: .int16(values))], version: version)
        let image = try #require(try DMReader.parse(bytes).images().first)
        #expect(image.shape == [3, 4, 6])
        #expect(image.frameCount == 3)
        #expect(try image.pixels() == .int16(values))
        #expect(try image.floatFrame(2) == values[48..<72].map(Float.init))
        #expect(throws: DMError.self) { try image.floatFrame(3) }
    }

    @Test("every writable pixel type survives a round trip")
    func everyPixelType() throws {
        let cases: [DMPixels] = [
            .int8([-1, 2, -3, 4]), .uint8([1, 2, 250, 4]), .int16([-300, 2, 3, 4]), .uint16([1, 60000, 3, 4]),
            .int32([-70000, 2, 3, 4]), .uint32([1, 4_000_000_000, 3, 4]), .float32([1.5, -2, 3, 4]),
            .float64([1e-300, 2, 3, 4]), .bool([true, false, true, true]),
            .complex64([3, 4, 0, 1, 1, 0, 0, 0]), .complex128([3, 4, 0, 1, 1, 0, 0, 0]),
            .rgba([10, 20, 30, 255, 0, 0, 0, 255, 255, 255, 255, 255, 1, 2, 3, 4]),
        ]
        for p in cases {
            let image = try #require(try DMReader.parse(DMWriter.write([DMImageToWrite(title: "t", shape: [2, 2], pixels: p)])).images().first)
            #expect(try image.pixels() == p)
        }
    }

    @Test("working-image conversions: complex to modulus, RGB to BT.601 luminance, bool to 0/1")
    func floatConversions() throws {
        func floats(_ p: DMPixels) throws -> [Float] {
            try #require(try DMReader.parse(DMWriter.write([DMImageToWrite(title: "t", shape: [2, 2], pixels: p)])).images().first).floatPixels()
        }
        #expect(try floats(.complex64([3, 4, 0, 1, 1, 0, 0, 0])) == [5, 1, 1, 0])
        let rgb = try floats(.rgba([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 100, 100, 100, 0]))
        #expect(abs(rgb[0] - 0.299 * 255) < 1e-3 && abs(rgb[1] - 0.587 * 255) < 1e-3 && abs(rgb[2] - 0.114 * 255) < 1e-3 && abs(rgb[3] - 100) < 1e-3)
        #expect(try floats(.bool([true, false, false, true])) == [1, 0, 0, 1])
    }

    @Test("the writer refuses inconsistent images with a clear error")
    func writerValidates() {
        #expect(throws: DMError.self) { try DMWriter.write([]) }
        #expect(throws: DMError.self) { try DMWriter.write([DMImageToWrite(title: "t", shape: [2, 2], pixels: .float32([1, 2, 3]))]) }
        #expect(throws: DMError.self) { try DMWriter.write([DMImageToWrite(title: "t", shape: [0, 2], pixels: .float32([]))]) }
        #expect(throws: DMError.self) { try DMWriter.write([DMImageToWrite(title: "t", shape: [1, 1], pixels: .float32([1]))], version: 5) }
    }
}
