// Store benchmarks (not timed tests). swift run -c release StoreBench [samples] [particlesPerSample]
// 1. Committing one image with 10,000 particles (analysis, particles, state, aggregates in one transaction).
// 2. A database of 1,000 samples and 5 million particles: the aggregate view and the samples listing.
import Foundation
import GRDB
import Pipeline
import Store

let sampleCount = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1000 : 1000
let perSample = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 5000 : 5000

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}
func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }

func particles(_ n: Int, seed: UInt64 = 7) -> [ParticleMeasurement] {
    var rng = SeededGenerator(seed: seed)
    return (0..<n).map { _ in
        let d = max(0.6, 2 + 0.6 * rng.normal())
        let area = Double.pi / 4 * d * d
        return ParticleMeasurement(areaPx: Int(area / 0.004) + 1, areaNm2: area, equivalentDiameterNm: d, perimeterNm: Double.pi * d * 1.05,
                                   circularity: 0.9 + 0.1 * rng.uniform(), feretMinNm: d * 0.95, feretMaxNm: d * 1.15, aspectRatio: 1.21,
                                   convexity: 0.97, solidity: 0.95, centroidXPx: 512 * rng.uniform(), centroidYPx: 512 * rng.uniform(),
                                   box: BoundingBox(minRow: 10, minCol: 10, maxRow: 40, maxCol: 40), separated: rng.uniform() < 0.1)
    }
}
func sha(_ k: Int) -> String { String(repeating: "a", count: 64 - String(k).count) + String(k) }
let json = "{\"convexityThreshold\":0.95}"

let dir = FileManager.default.temporaryDirectory.appendingPathComponent("antema-storebench-\(getpid())")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }

// 1. One image with 10,000 particles, into a fresh sample, repeated.
do {
    let store = try AntemaStore(path: dir.appendingPathComponent("commit.sqlite").path)
    var times: [Double] = []
    let batch = particles(10_000)
    for k in 0..<7 {
        let s = try store.openSample(name: "S\(k)", watchRoot: "/w", folder: "/w/S\(k)")
        let img = try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/S\(k)/a.dm3", contentSha256: sha(k), fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
        times.append(try seconds {
            try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: json, softwareVersion: "bench", particles: batch), imageId: img.id!, facts: nil)
        })
    }
    print(String(format: "commit of one image with 10,000 particles (analysis + particles + aggregates): median %.1f ms over 7 (goal < 100 ms)", median(times) * 1e3))
}

// 2. 1,000 samples x 5,000 particles (10 images of 500 each).
let path = dir.appendingPathComponent("big.sqlite").path
let store = try AntemaStore(path: path)
let build = try seconds {
    let perImage = 500
    for s in 0..<sampleCount {
        let sample = try store.openSample(name: "sample-\(s)", watchRoot: "/w", folder: "/w/sample-\(s)")
        for i in 0..<(perSample / perImage) {
            let img = try store.enqueue(ImageRecord(sampleId: sample.id!, path: "/w/sample-\(s)/\(i).dm3", contentSha256: sha(100_000 + s * 100 + i), fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
            try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: json, softwareVersion: "bench", particles: particles(perImage, seed: UInt64(s * 100 + i))), imageId: img.id!, facts: nil)
        }
    }
}
let ro = try ReadOnlyDatabase(path: path)
let total = try ro.query("SELECT COUNT(*) FROM particle").rows[0][0].storage.value as? Int64 ?? 0
print(String(format: "built %d samples, %d particles in %.0f s", sampleCount, total, build))
var viewTimes: [Double] = [], listTimes: [Double] = [], rawTimes: [Double] = []
var rows = 0
for _ in 0..<5 {
    viewTimes.append(try seconds { rows = try ro.query("SELECT * FROM sample_statistics").rows.count })
    listTimes.append(try seconds { _ = try ro.samples() })
    rawTimes.append(try seconds { _ = try ro.query("SELECT sample_id, AVG(equivalent_diameter_nm) FROM current_particle GROUP BY sample_id").rows.count })
}
print(String(format: "aggregate view (sample_statistics, %d rows): median %.1f ms (goal < 1 s)", rows, median(viewTimes) * 1e3))
print(String(format: "samples listing (what antemactl samples runs): median %.1f ms (goal < 1 s)", median(listTimes) * 1e3))
print(String(format: "for comparison, a mean over all current particles computed on the fly: median %.0f ms", median(rawTimes) * 1e3))
