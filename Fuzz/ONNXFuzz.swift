// libFuzzer target for the ONNX loader and engine: parse, compile, run on a small input.
// Build and run: scripts/fuzz.sh onnx SECONDS
import InferenceFuzzed

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? ONNXModel.parse(bytes), let engine = try? Engine(model: model) else { return 0 }
    var inputs: [String: Tensor] = [:]
    for i in model.inputs {
        let shape = i.shape.map { min(max($0 ?? 8, 1), 16) }
        inputs[i.name] = Tensor(shape: shape, floats: [Float](repeating: 0.5, count: shape.reduce(1, *)))
    }
    _ = try? engine.run(inputs)
    return 0
}
