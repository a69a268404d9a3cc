import Foundation
import Testing
@testable import Inference

/// Every crash the fuzzers found, kept as a regression test (scripts/fuzz.sh).
@Suite struct FuzzRegressions {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".onnx") }.sorted()

    @Test("fuzzer findings load or fail cleanly, and run or fail cleanly", arguments: cases)
    func replay(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
        guard let model = try? ONNXModel.parse(bytes), let engine = try? Engine(model: model) else { return }
        var inputs: [String: Tensor] = [:]
        for i in model.inputs {
            let shape = i.shape.map { min(max($0 ?? 8, 1), 16) }
            inputs[i.name] = Tensor(shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *)))
        }
        _ = try? engine.run(inputs)
    }
}
