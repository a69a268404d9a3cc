import Foundation
import Testing
@testable import Inference

@Suite struct Segmentation {
    static func runner(tile: Int, margin: Int = 64) throws -> SegmentationRunner {
        let engine = try Engine(path: Fixtures.folder.appendingPathComponent("unet_small.onnx").path)
        return SegmentationRunner(engine: engine, metadata: ModelMetadata(name: "test", version: "0", trainingPixelSizeNm: 0.1, normalization: .standardize,
                                                                          output: .logit, tileSizePx: tile, tileMarginPx: margin))
    }

    static func image(_ w: Int, _ h: Int) -> [Float] {
        (0..<(w * h)).map { i in let r = Float(i / w), c = Float(i % w); return sin(r * 0.11) * cos(c * 0.07) + 0.3 * sin((r + c) * 0.31) }
    }

    @Test("tiles leave no seams: a tiled run equals the whole-image run")
    func seamless() throws {
        let (w, h) = (520, 392)
        let img = Self.image(w, h)
        let whole = try Self.runner(tile: 4096).probabilities(img, width: w, height: h, pixelSizeNm: 0.1)
        let tiled = try Self.runner(tile: 256).probabilities(img, width: w, height: h, pixelSizeNm: 0.1)
        let worst = zip(whole, tiled).map { abs($0 - $1) }.max() ?? 0
        #expect(worst < 1e-4, "largest difference \(worst)")
        #expect(whole.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test("images at another pixel size are resampled to the model's and back to their own size")
    func resampling() throws {
        let r = try Self.runner(tile: 4096)
        let p = try r.probabilities(Self.image(200, 150), width: 200, height: 150, pixelSizeNm: 0.05)
        #expect(p.count == 200 * 150)
        #expect(throws: ModelError.self) { try r.probabilities([1, 2, 3], width: 2, height: 2, pixelSizeNm: 0.1) }
        #expect(throws: ModelError.self) { try r.probabilities([1, 2, 3, 4], width: 2, height: 2, pixelSizeNm: 0) }
    }

    @Test("a frame is never enlarged beyond the larger of its own pixels and the runner's bound: 20 nm/px against a 0.1 nm/px model is seen smaller, and says so")
    func enlargementIsBounded() throws {
        var r = try Self.runner(tile: 4096)
        r.maximumEnlargedPixels = 64 * 64
        let img = Self.image(40, 30)
        let coarse = try r.predict(img, width: 40, height: 30, pixelSizeNm: 20)  // would be 8000 x 6000
        #expect(coarse.networkScaleLimited && coarse.probability.count == 40 * 30)
        #expect(abs(coarse.networkScale - (64.0 * 64 / (40 * 30)).squareRoot()) < 1e-9, "\(coarse.networkScale)")
        let fine = try r.predict(img, width: 40, height: 30, pixelSizeNm: 0.15)  // 1.5 x: 60 x 45, within 64 x 64
        #expect(!fine.networkScaleLimited && abs(fine.networkScale - 1.5) < 1e-9)
        // a frame already above the bound is seen at its own pixels at most, never enlarged
        let big = try r.predict(Self.image(100, 80), width: 100, height: 80, pixelSizeNm: 0.3)
        #expect(big.networkScaleLimited && big.networkScale == 1)
        let shrunk = try r.predict(Self.image(100, 80), width: 100, height: 80, pixelSizeNm: 0.05)
        #expect(!shrunk.networkScaleLimited && shrunk.networkScale == 0.5)
    }

    @Test("a calibrated frame zoomed: seen at the model's pixel size for its own divided by the zoom, within the model's range (a frame finer than the range's floor is not enlarged by it)")
    func calibratedZoom() throws {
        var metadata = ModelMetadata(name: "test", version: "0", trainingPixelSizeNm: 0.1, normalization: .standardize, output: .logit, tileSizePx: 4096, tileMarginPx: 64)
        metadata.pixelSizeRangeNm = [0.1, 2]
        let r = SegmentationRunner(engine: try Engine(path: Fixtures.folder.appendingPathComponent("unet_small.onnx").path), metadata: metadata)
        let img = Self.image(40, 30)
        // 1 nm/px lies in the range: seen at its own pixels, and at twice them zoomed by 2
        #expect(try r.predict(img, width: 40, height: 30, pixelSizeNm: 1).networkScale == 1)
        #expect(try r.predict(img, width: 40, height: 30, pixelSizeNm: 1, calibratedZoom: 2).networkScale == 2)
        // 0.05 nm/px: 0.025 is below the floor, so still seen at 0.1 nm/px
        #expect(try r.predict(img, width: 40, height: 30, pixelSizeNm: 0.05, calibratedZoom: 2).networkScale == 0.5)
        // without a calibration the zoom plays no part
        #expect(try r.predict(img, width: 40, height: 30, pixelSizeNm: nil, uncalibratedScale: 1.5, calibratedZoom: 2).networkScale == 1.5)
        #expect(throws: ModelError.self) { try r.predict(img, width: 40, height: 30, pixelSizeNm: 1, calibratedZoom: 0) }
    }

    @Test("area resampling averages whole blocks, splits pixels that straddle two outputs by their overlap, and keeps constants and the mean")
    func areaResampling() {
        // 4 x 2 -> 2 x 1: each output is the mean of a 2 x 2 block
        #expect(Resampling.area([0, 2, 4, 6, 2, 4, 6, 8], width: 4, height: 2, toWidth: 2, toHeight: 1) == [2, 6])
        // 3 -> 2 along x: outputs cover [0, 1.5) and [1.5, 3): (0 + 3 / 2) / 1.5 = 1, (3 / 2 + 6) / 1.5 = 5
        let split = Resampling.area([0, 3, 6], width: 3, height: 1, toWidth: 2, toHeight: 1)
        #expect(abs(split[0] - 1) < 1e-5 && abs(split[1] - 5) < 1e-5)
        #expect(Resampling.area([Float](repeating: 7, count: 35), width: 7, height: 5, toWidth: 3, toHeight: 2).allSatisfy { abs($0 - 7) < 1e-5 })
        // 0.064 -> 0.1 nm/px (the reference micrograph's shrink): the mean stays, the noise averages down
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // xorshift64: a fixed noise field
        let noise = (0..<(100 * 100)).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state % 20_001) / 10_000 - 1
        }
        let small = Resampling.area(noise, width: 100, height: 100, toWidth: 64, toHeight: 64)
        let mean = { (v: [Float]) in v.reduce(0, +) / Float(v.count) }
        let sd = { (v: [Float]) in (v.map { ($0 - mean(v)) * ($0 - mean(v)) }.reduce(0, +) / Float(v.count)).squareRoot() }
        #expect(abs(mean(small) - mean(noise)) < 1e-4)
        #expect(sd(small) < 0.8 * sd(noise))
    }

    @Test("bilinear resampling keeps constants and maps corners to corners")
    func bilinear() {
        #expect(Resampling.bilinear([Float](repeating: 3, count: 12), width: 4, height: 3, toWidth: 7, toHeight: 5).allSatisfy { $0 == 3 })
        let up = Resampling.bilinear([0, 1, 2, 3], width: 2, height: 2, toWidth: 4, toHeight: 4)
        #expect(up[0] == 0 && up[15] == 3)
    }

    @Test("metadata comes from the JSON file beside the model")
    func metadata() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("antema-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.onnx").path
        try FileManager.default.copyItem(atPath: Fixtures.folder.appendingPathComponent("relu.onnx").path, toPath: model)
        #expect(throws: ModelError.self) { try SegmentationRunner(modelPath: model) }
        let meta = ModelMetadata(name: "m", version: "1.0", trainingPixelSizeNm: 0.2, licence: "CC0")
        try JSONEncoder().encode(meta).write(to: dir.appendingPathComponent("m.json"))
        #expect(try SegmentationRunner(modelPath: model).metadata == meta)
    }
}

@Suite struct PixelSizePlanes {
    /// A 1x1 convolution from three input planes to `weights.count / 3` outputs, output k being
    /// the planes weighted by `weights[3k..<3k+3]`. By default output 0 (the particle logit) is
    /// the third plane, output 1 (the distance logit) the second; whatever the image holds.
    static func planeReader(weights: [Float] = [0, 0, 1, 0, 1, 0]) throws -> Engine {
        let outputs = Int64(weights.count / 3)
        let bytes = Bad.model { g in
            Bad.node(&g, op: "Conv", inputs: ["x", "w"], outputs: ["y"])
            g.message(5) { t in
                for d: Int64 in [outputs, 3, 1, 1] { t.int(1, d) }
                t.int(2, 1)  // float
                t.string(8, "w")
                t.bytes(9, weights.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } })
            }
            for (field, name, channels) in [(11, "x", Int64(3)), (12, "y", outputs)] {  // height and width dynamic
                g.message(field) { v in
                    v.string(1, name)
                    v.message(2) { t in t.message(1) { tt in
                        tt.int(1, 1)
                        tt.message(2) { s in
                            s.message(1) { $0.int(1, 1) }; s.message(1) { $0.int(1, channels) }
                            s.message(1) { $0.string(2, "height") }; s.message(1) { $0.string(2, "width") }
                        }
                    } }
                }
            }
        }
        return try Engine(model: ONNXModel.parse(bytes))
    }

    static func runner() throws -> SegmentationRunner {
        var meta = ModelMetadata(name: "planes", version: "0", trainingPixelSizeNm: 0.2, normalization: .robust, sizeMultiple: 1)
        meta.pixelSizeRangeNm = [0.1, 2]
        meta.distanceClass = 1
        meta.pixelSizePlanes = true
        return SegmentationRunner(engine: try planeReader(), metadata: meta)
    }

    static func sigmoid(_ x: Double) -> Float { Float(1 / (1 + Foundation.exp(-x))) }

    @Test("a model that takes the pixel size gets ln(nm per pixel as the network sees it) and a calibrated flag of 1; an image without a calibration gets 0 and 0")
    func planesCarryThePixelSize() throws {
        let r = try Self.runner()
        let img = Segmentation.image(32, 24)
        // 0.5 nm/px lies in the model's range: seen at its own pixels
        let coarse = try r.predict(img, width: 32, height: 24, pixelSizeNm: 0.5)
        #expect(coarse.probability.allSatisfy { abs($0 - Self.sigmoid(Foundation.log(0.5))) < 1e-5 })
        #expect(coarse.distance?.allSatisfy { abs($0 - Self.sigmoid(1)) < 1e-5 } == true)
        // 0.05 nm/px is shrunk to the range's 0.1 before the network: the plane says 0.1
        let fine = try r.predict(img, width: 32, height: 24, pixelSizeNm: 0.05)
        #expect(fine.probability.allSatisfy { abs($0 - Self.sigmoid(Foundation.log(0.1))) < 1e-5 }, "\(fine.probability[0])")
        let uncalibrated = try r.predict(img, width: 32, height: 24, pixelSizeNm: nil, uncalibratedScale: 0.5)
        #expect(uncalibrated.probability.allSatisfy { abs($0 - 0.5) < 1e-6 })
        #expect(uncalibrated.distance?.allSatisfy { abs($0 - 0.5) < 1e-6 } == true)
    }

    @Test("without the metadata key the same model gets one plane and is refused with an error, not a crash")
    func onePlaneModelMismatchIsAnError() throws {
        var meta = try Self.runner().metadata
        meta.pixelSizePlanes = nil
        let r = SegmentationRunner(engine: try Self.planeReader(), metadata: meta)
        #expect(throws: (any Error).self) { try r.predict(Segmentation.image(16, 16), width: 16, height: 16, pixelSizeNm: 0.5) }
    }

    @Test("a model with a boundary output: the separation's distance map is the distance times (1 - the boundary probability), or 0 where the boundary reaches the model's threshold, and without the metadata key the distance alone")
    func boundaryOutputLowersTheDistanceMap() throws {
        // particle logit = the calibrated flag, distance logit = 2 x the flag, boundary logit = ln(nm/px)
        let engine = try Self.planeReader(weights: [0, 1, 0, 0, 2, 0, 0, 0, 1])
        var meta = try Self.runner().metadata
        meta.boundaryClass = 2
        let img = Segmentation.image(16, 12)
        let withBoundary = try SegmentationRunner(engine: engine, metadata: meta).predict(img, width: 16, height: 12, pixelSizeNm: 0.5)
        let expected = Self.sigmoid(2) * (1 - Self.sigmoid(Foundation.log(0.5)))
        #expect(withBoundary.distance?.allSatisfy { abs($0 - expected) < 1e-5 } == true, "\(withBoundary.distance?.first ?? -1) against \(expected)")
        #expect(withBoundary.probability.allSatisfy { abs($0 - Self.sigmoid(1)) < 1e-5 })
        // with a threshold: 0 where the boundary probability reaches it, the distance elsewhere
        meta.boundaryThreshold = 0.3
        let cut = try SegmentationRunner(engine: engine, metadata: meta).predict(img, width: 16, height: 12, pixelSizeNm: 0.5)
        #expect(cut.distance?.allSatisfy { $0 == 0 } == true)
        meta.boundaryThreshold = 0.4
        let kept = try SegmentationRunner(engine: engine, metadata: meta).predict(img, width: 16, height: 12, pixelSizeNm: 0.5)
        #expect(kept.distance?.allSatisfy { abs($0 - Self.sigmoid(2)) < 1e-5 } == true)
        meta.boundaryThreshold = nil
        meta.boundaryClass = nil
        let without = try SegmentationRunner(engine: engine, metadata: meta).predict(img, width: 16, height: 12, pixelSizeNm: 0.5)
        #expect(without.distance?.allSatisfy { abs($0 - Self.sigmoid(2)) < 1e-5 } == true)
    }
}
