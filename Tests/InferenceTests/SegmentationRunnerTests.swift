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
