// Post-processing and measurement benchmark (not a timed test).
//   swift run -c release AnalysisBench [repeats]
// 1. The reference program's 1024 x 1024 mask (../shared/data/antema-reference), separation included.
// 2. A 4096 x 4096 synthetic mask with 5,000 particles, 20% of them in overlapping clusters.
// Each also times the search for burned-in text in the mask (TextDetector), part of every analysis.
import Foundation
import ImageFiles
import Pipeline

let repeats = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 5 : 5

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}
func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }

let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let referenceMask = here.deletingLastPathComponent().appendingPathComponent("shared/data/antema-reference/network-mask.png").path
if FileManager.default.fileExists(atPath: referenceMask) {
    let raster = try PNGFile.read(path: referenceMask)
    let mask = BinaryImage(width: raster.width, height: raster.height, pixels: raster.pixels.map { $0 > 0 })
    var count = 0
    let times = (0..<repeats).map { _ in seconds { count = ParticleAnalysis.analyze(mask, pixelSize: PixelSizeNm(y: 0.06398699, x: 0.06398699)).particles.count } }
    print(String(format: "reference mask 1024 x 1024: %d particles, median %.1f ms over %d runs (goal well under 100 ms; the reference program: up to 15 s)", count, median(times) * 1e3, repeats))
    var lettering = 0
    let textTimes = (0..<repeats).map { _ in seconds { lettering = TextDetector.text(in: mask).pixels.filter { $0 }.count } }
    print(String(format: "burned-in text search (TextDetector) on the same mask: %d px taken for text, median %.1f ms", lettering, median(textTimes) * 1e3))
} else {
    print("reference mask absent (../shared/data/antema-reference): skipped")
}

if CommandLine.arguments.contains("--reference-only") { exit(0) }

// Synthetic: discs of 8-14 px radius on a grid; 500 of them get a partner overlapping it (centres
// 1.7 radii apart, convexity about 0.93), so 1,000 of the 5,000 particles are in clusters.
let size = 4096
var mask = BinaryImage(width: size, height: size)
var rng = SeededGenerator(seed: 42)
var placed = 0, pairs = 0, cellIndex = 0
let cell = 56
outer: for gy in 0..<(size / cell) {
    for gx in 0..<(size / cell) {
        guard placed < 5000 else { break outer }
        let cy = Double(gy * cell + cell / 2) + rng.uniform() * 4 - 2
        let cx = Double(gx * cell + cell / 2) + rng.uniform() * 4 - 2
        let r0 = 8 + rng.uniform() * 6
        var discs = [(cy, cx, r0)]
        placed += 1
        cellIndex += 1
        if cellIndex % 9 == 0 && pairs < 500 && placed < 5000 {
            let angle = rng.uniform() * 2 * .pi
            discs.append((cy + sin(angle) * r0 * 1.7, cx + cos(angle) * r0 * 1.7, r0))
            placed += 1
            pairs += 1
        }
        for (y, x, r) in discs {
            for row in Int(y - r - 1)...Int(y + r + 1) {
                for col in Int(x - r - 1)...Int(x + r + 1) where row >= 0 && col >= 0 && row < size && col < size {
                    if (Double(row) - y) * (Double(row) - y) + (Double(col) - x) * (Double(col) - x) <= r * r { mask[row, col] = true }
                }
            }
        }
    }
}
var result: ParticleAnalysisResult? = nil
let synthTimes = (0..<max(1, repeats / 2)).map { _ in seconds { result = ParticleAnalysis.analyze(mask, pixelSize: PixelSizeNm(y: 0.1, x: 0.1)) } }
print(String(format: "synthetic 4096 x 4096, %d discs (%d in overlapping pairs): %d particles (%d separated), median %.2f s (goal under 2 s)",
             placed, 2 * pairs, result!.particles.count, result!.particles.filter(\.separated).count, median(synthTimes)))
let synthText = (0..<max(1, repeats / 2)).map { _ in seconds { _ = TextDetector.text(in: mask) } }
print(String(format: "burned-in text search (TextDetector) on the same mask: median %.2f s", median(synthText)))

// Large particles: a 512 x 512 mask with two pairs of overlapping discs of radius 80-110 px
// (particles up to 300 px across, as SEM figures show them), with the ideal distance map an
// instance-aware network predicts; each overlap mode on the same mask.
do {
    let n = 512
    var big = BinaryImage(width: n, height: n)
    var distance = [Float](repeating: 0, count: n * n)
    for (cy, cx, r) in [(130.0, 120.0, 100.0), (140.0, 290.0, 90.0), (380.0, 170.0, 110.0), (390.0, 350.0, 80.0)] {
        for row in 0..<n { for col in 0..<n {
            let d = ((Double(row) - cy) * (Double(row) - cy) + (Double(col) - cx) * (Double(col) - cx)).squareRoot()
            if d <= r {
                big[row, col] = true
                distance[row * n + col] = max(distance[row * n + col], Float(1 - d / r))
            }
        } }
    }
    for mode in [OverlapMode.separate, .watershed, .network] {
        var p = AnalysisParameters()
        p.overlap = mode
        var found = 0
        let t = (0..<repeats).map { _ in seconds { found = ParticleAnalysis.analyze(big, pixelSize: PixelSizeNm(y: 1, x: 1), parameters: p, distance: distance).particles.count } }
        print(String(format: "large particles 512 x 512, 4 discs of radius 80-110 px in 2 overlapping pairs, overlap %@: %d particles, median %.1f ms",
                     mode.rawValue, found, median(t) * 1e3))
    }
    // the worst case of the network mode: a map with one core per object, so that both
    // non-convex pairs go on to UECS
    var p = AnalysisParameters()
    p.overlap = .network
    let flat = big.pixels.map { $0 ? Float(1) : 0 }
    var found = 0
    let t = (0..<repeats).map { _ in seconds { found = ParticleAnalysis.analyze(big, pixelSize: PixelSizeNm(y: 1, x: 1), parameters: p, distance: flat).particles.count } }
    print(String(format: "the same, overlap network with a map of one core per object (both pairs go on to UECS): %d particles, median %.1f ms",
                 found, median(t) * 1e3))
}

// The neck cut's worst case: one large particle with a ragged outline (radius 140 px rippled by
// 4-6 px at 23 and 37 waves around it: some 60 concavities, every two of them a candidate cut)
// and a map of one core, so that it goes through UECS and the neck cut and stays whole.
do {
    let n = 360
    var ragged = BinaryImage(width: n, height: n)
    for row in 0..<n { for col in 0..<n {
        let y = Double(row) - 180, x = Double(col) - 180, a = atan2(y, x)
        if (x * x + y * y).squareRoot() <= 140 + 6 * sin(23 * a) + 4 * sin(37 * a) { ragged[row, col] = true }
    } }
    let flat = ragged.pixels.map { $0 ? Float(1) : 0 }
    for neck in [false, true] {
        var p = AnalysisParameters()
        p.overlap = .network
        p.neckCut = neck
        var found = 0
        let t = (0..<repeats).map { _ in seconds { found = ParticleAnalysis.analyze(ragged, pixelSize: PixelSizeNm(y: 1, x: 1), parameters: p, distance: flat).particles.count } }
        print(String(format: "a ragged particle 280 px across, overlap network with one core, neck cut %@: %d particles, median %.1f ms",
                     neck ? "on" : "off", found, median(t) * 1e3))
    }
}
