// Reports of a sample of 50 images and 20,000 particles: workbook, CSV files, histograms.
//   swift build -c release --product ReportBench && .build/release/ReportBench
import Foundation
import Pipeline
import Reports

var rng = SeededGenerator(seed: 3)
let images = (0..<50).map { k in
    SampleReportInput.Image(path: "/srv/export/bench/image-\(k).dm3", frame: 0, widthPx: 2048, heightPx: 2048, pixelSizeXNm: 0.05, pixelSizeYNm: 0.05,
                            particleCount: 400, state: "done", error: nil, seconds: 0.4)
}
let particles = (0..<20_000).map { i -> SampleReportInput.Particle in
    let d = max(0.6, 2 + 0.5 * rng.normal())
    return SampleReportInput.Particle(imagePath: images[i % 50].path, frame: 0, index: i / 50 + 1, m: ParticleMeasurement(
        areaPx: 300, areaNm2: Double.pi / 4 * d * d, equivalentDiameterNm: d, perimeterNm: Double.pi * d * 1.05, circularity: 0.9 + 0.1 * rng.uniform(),
        feretMinNm: d * 0.9, feretMaxNm: d * 1.15, aspectRatio: 1.28, convexity: 0.97, solidity: 0.95, centroidXPx: 2048 * rng.uniform(),
        centroidYPx: 2048 * rng.uniform(), box: BoundingBox(minRow: 10, minCol: 10, maxRow: 30, maxCol: 30), separated: rng.uniform() < 0.1))
}
let input = SampleReportInput(sample: "bench", folder: "/srv/export/bench", openedAt: Date(), lastImageAt: Date(), closedAt: Date(),
                              segmenter: "classical", parametersJson: "{}", images: images, particles: particles)
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("antema-reportbench-\(getpid())").path
defer { try? FileManager.default.removeItem(atPath: dir) }
var times: [Double] = []
for _ in 0..<5 {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try SampleReport.write(input, to: dir)
    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
let size = (try? FileManager.default.attributesOfItem(atPath: dir + "/bench.xlsx")[.size] as? Int) ?? 0
print(String(format: "report of 50 images and 20,000 particles (xlsx %.1f MB through libxlsxwriter, 3 csv, 3 histograms as PNG/SVG/PDF, README): median %.2f s over 5 (goal < 5 s)",
             Double(size) / 1e6, times.sorted()[2]))

// The per-image files (mask, micrograph, segmentation overlay, numbered particle map as PNG and SVG), written as
// each image is analysed: a 1024 x 1024 synthetic micrograph with 80 particles.
let synth = SyntheticMicrograph(width: 1024, height: 1024, pixelSizeNm: 0.1, count: 80, seed: 7)
let gray = GrayImage(width: 1024, height: 1024, pixels: synth.pixels)
let mask = ClassicalSegmenter().segment(gray, pixelSizeNm: 0.1)
let analysed = ParticleAnalysis.analyze(mask, pixelSize: .init(y: 0.1, x: 0.1))
var pictureTimes: [Double] = []
for _ in 0..<5 {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try SampleReport.writeImagePictures(stem: "bench", image: gray, segmentation: mask, result: analysed, pixelSizeNm: 0.1, to: dir + "/images")
    pictureTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}
let pictureBytes = ["mask.png", "micrograph.png", "overlay.png", "particles.png", "particles.svg"].compactMap {
    try? FileManager.default.attributesOfItem(atPath: dir + "/images/bench_\($0)")[.size] as? Int
}.reduce(0, +)
print(String(format: "the pictures of one 1024 x 1024 image (%d particles; mask, 3 PNG pictures and the SVG map, %.1f MB): median %.3f s over 5",
             analysed.particles.count, Double(pictureBytes) / 1e6, pictureTimes.sorted()[2]))
