// Times antema's engine on an ONNX model with a 1 x 1 x SIZE x SIZE input and reports peak memory.
//   .build/release/InferenceBench MODEL.onnx [size] [repeats]
// training/bench_inference.py runs it beside onnxruntime and prints the ratio.
import Foundation
import Inference
#if canImport(Glibc)
import Glibc
#endif

let args = CommandLine.arguments
guard args.count > 1 else { print("usage: InferenceBench MODEL.onnx [size] [repeats]"); exit(2) }
let size = args.count > 2 ? Int(args[2]) ?? 1024 : 1024
let repeats = args.count > 3 ? Int(args[3]) ?? 5 : 5
let engine = try Engine(path: args[1])
let name = engine.model.inputs.first!.name
var rng = SystemRandomNumberGenerator()
let input = Tensor(shape: [1, 1, size, size], floats: (0..<(size * size)).map { _ in Float.random(in: -1...1, using: &rng) })
var times: [Double] = []
for _ in 0..<(repeats + 1) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try engine.run([name: input])
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
times.removeFirst()  // warm-up
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let sorted = times.sorted()
print(String(format: "antema engine: %d x %d, median %.3f s over %d runs, peak RSS %.0f MB", size, size, sorted[sorted.count / 2], repeats, Double(usage.ru_maxrss) / 1024))
