import Foundation
import Testing
@testable import Inference

/// Reference outputs computed by onnxruntime (training/make_inference_fixtures.py) for small
/// random inputs; the tests need neither Python nor onnxruntime.
enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Entry: Decodable { struct Value: Decodable { let name: String; let shape: [Int] }; let inputs: [Value]; let outputs: [Value] }

    static let manifest: [String: Entry] = {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("manifest.json")) else { return [:] }
        return (try? JSONDecoder().decode([String: Entry].self, from: data)) ?? [:]
    }()

    static func floats(_ file: String) throws -> [Float] {
        let data = try Data(contentsOf: folder.appendingPathComponent(file))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) } }
    }

    /// Runs a fixture; returns the largest error relative to max(1, |expected|).
    static func check(_ name: String) throws -> Float {
        let entry = try #require(manifest[name], "no fixture \(name)")
        let engine = try Engine(path: folder.appendingPathComponent("\(name).onnx").path)
        var inputs: [String: Tensor] = [:]
        for (k, v) in entry.inputs.enumerated() { inputs[v.name] = Tensor(shape: v.shape, floats: try floats("\(name).in\(k).bin")) }
        let outputs = try engine.run(inputs)
        var worst: Float = 0
        for (k, v) in entry.outputs.enumerated() {
            let got = try #require(outputs[v.name])
            #expect(got.shape == v.shape, "\(name): shape \(got.shape), expected \(v.shape)")
            let expected = try floats("\(name).out\(k).bin")
            guard got.count == expected.count else { return .infinity }
            for (a, b) in zip(got.floats, expected) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
        }
        return worst
    }
}

@Suite struct OperatorsAgreeWithOnnxruntime {
    static let singleOperators = Fixtures.manifest.keys.filter { $0 != "unet_small" && $0 != "deeplab_lite" }.sorted()

    @Test("every operator fixture agrees with onnxruntime to 1e-4", arguments: singleOperators)
    func fixture(_ name: String) throws {
        let error = try Fixtures.check(name)
        #expect(error <= 1e-4, "\(name): largest relative error \(error)")
    }

    @Test("the fixtures are there")
    func present() { #expect(Self.singleOperators.count >= 30) }
}

@Suite struct WholeNetworks {
    @Test("a U-Net (4 levels, 16-128 channels) exported from PyTorch agrees with onnxruntime to 1e-4 on 512 x 512")
    func unet() throws {
        let error = try Fixtures.check("unet_small")
        #expect(error <= 1e-4, "largest relative error \(error)")
    }

    @Test("a DeepLabv3+-style network (atrous, depthwise, ASPP, bilinear upsampling, skip, softmax) agrees to 1e-4 on 512 x 512")
    func deeplab() throws {
        let error = try Fixtures.check("deeplab_lite")
        #expect(error <= 1e-4, "largest relative error \(error)")
    }

    @Test("dynamic height and width: the U-Net runs on 96 x 160")
    func dynamicSize() throws {
        let engine = try Engine(path: Fixtures.folder.appendingPathComponent("unet_small.onnx").path)
        let out = try engine.run(["x": Tensor(shape: [1, 1, 96, 160], floats: [Float](repeating: 0.5, count: 96 * 160))])
        #expect(out["y"]?.shape == [1, 1, 96, 160])
    }
}
