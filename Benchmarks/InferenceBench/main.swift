// Times antema's engine on an ONNX model with a 1 x 1 x SIZE x SIZE input and reports peak memory.
//   .build/release/InferenceBench MODEL.onnx [size] [repeats]
//   .build/release/InferenceBench --segment [size] [repeats]     the bundled model through the segmentation runner
// training/bench_inference.py runs it beside onnxruntime and prints the ratio.
import Foundation
import DefaultModel
import Inference
#if canImport(Glibc)
import Glibc
#endif

/// Peak resident memory of this process in MB (VmHWM: unlike ru_maxrss it does not inherit the
/// parent's peak across exec).
func peakMB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

let usage = "usage: InferenceBench MODEL.onnx [size] [repeats] [--tiled] | --segment [size] [repeats]"

func run(_ args: [String]) throws {
if args.count > 1 && args[1] == "--segment" {
    // the bundled model through the segmentation runner, as antemactl and antemad use it:
    // a SIZE x SIZE micrograph at 0.1 nm/px (inside the model's pixel-size range: no resampling)
    let size = args.count > 2 ? Int(args[2]) ?? 1024 : 1024
    let repeats = args.count > 3 ? Int(args[3]) ?? 5 : 5
    let path = try DefaultModel.path()
    let t0 = DispatchTime.now().uptimeNanoseconds
    let runner = try SegmentationRunner(modelPath: path)
    let load = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let pixels = (0..<(size * size)).map { i -> Float in
        let r = Double(i / size), c = Double(i % size)
        return Float(1000 - 300 * (sin(r / 17) * cos(c / 23) > 0.6 ? 1 : 0)) + Float((i * 7919) % 97)
    }
    var times: [Double] = []
    for _ in 0..<(repeats + 1) {
        let t = DispatchTime.now().uptimeNanoseconds
        _ = try runner.probabilities(pixels, width: size, height: size, pixelSizeNm: 0.1)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
    }
    times.removeFirst()
    let sorted = times.sorted()
    print(String(format: "bundled model %@ %@: segmentation of %d x %d, median %.3f s over %d runs (model load %.2f s), peak RSS %.0f MB",
                 runner.metadata.name, runner.metadata.version, size, size, sorted[sorted.count / 2], repeats, load, peakMB()))
    exit(0)
}
guard args.count > 1, !args[1].hasPrefix("-") else { print(usage); exit(args.count > 1 && (args[1] == "-h" || args[1] == "--help") ? 0 : 2) }
let size = args.count > 2 ? Int(args[2]) ?? 1024 : 1024
let repeats = args.count > 3 ? Int(args[3]) ?? 5 : 5
let engine = try Engine(path: args[1])
guard let name = engine.model.inputs.first?.name else { throw ModelError.invalid("\(args[1]) has no input") }
if args.contains("--tiled") {
    // the segmentation runner: 1024 px tiles with 64 px margins
    let runner = SegmentationRunner(engine: engine, metadata: ModelMetadata(name: "bench", version: "0", trainingPixelSizeNm: 1, tileSizePx: 1024, tileMarginPx: 64))
    let pixels = (0..<(size * size)).map { Float(($0 * 7919) % 1000) / 1000 }
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try runner.probabilities(pixels, width: size, height: size, pixelSizeNm: 1)
    print(String(format: "segmentation runner (tiles of 1024, margin 64): %d x %d in %.2f s, peak RSS %.0f MB", size, size,
                 Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, peakMB()))
    exit(0)
}
var rng = SystemRandomNumberGenerator()
let input = Tensor(shape: [1, 1, size, size], floats: (0..<(size * size)).map { _ in Float.random(in: -1...1, using: &rng) })
var times: [Double] = []
for _ in 0..<(repeats + 1) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try engine.run([name: input])
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
times.removeFirst()  // warm-up
let sorted = times.sorted()
print(String(format: "antema engine: %d x %d, median %.3f s over %d runs, peak RSS %.0f MB", size, size, sorted[sorted.count / 2], repeats, peakMB()))
}

do {
    try run(CommandLine.arguments)
} catch {
    FileHandle.standardError.write(Data("InferenceBench: \(error)\n".utf8))
    exit(1)
}
