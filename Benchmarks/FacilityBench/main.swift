// Facility benchmark (issue 21): a burst of images of 200 particles recorded by three daemons'
// local stores while three shippers (as in antemad) ship them into one PostgreSQL; then the
// samples listing over millions of particles. Prints figures; scripts/facility-bench.sh starts a
// throw-away server and runs it:
//
//     scripts/facility-bench.sh [images] [particles-per-image] [total-particles-for-the-listing]
import Facility
import PostgresNIO
import Foundation
import Logging
import Pipeline
import Store

let args = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    if let i = args.firstIndex(of: name), i + 1 < args.count { return args[i + 1] }
    return fallback
}
let url = option("--url", "")
let passwordFile = option("--password-file", "")
let images = Int(option("--images", "1000"))!
let particlesPerImage = Int(option("--particles", "200"))!
let listingParticles = Int(option("--listing-particles", "5000000"))!
let daemons = 3
guard !url.isEmpty else { FileHandle.standardError.write(Data("usage: FacilityBench --url URL [--password-file F]\n".utf8)); exit(64) }
let target = try PostgresTarget.parse(url, passwordFile: passwordFile.isEmpty ? nil : passwordFile)
var logger = Logger(label: "bench")
logger.logLevel = .warning

enum Make {
static func particle(_ d: Double, _ k: Int) -> ParticleMeasurement {
    let area = Double.pi / 4 * d * d
    return ParticleMeasurement(areaPx: Int(area * 100) + 1, areaNm2: area, equivalentDiameterNm: d, perimeterNm: Double.pi * d,
                               circularity: 0.9, feretMinNm: d, feretMaxNm: d * 1.1, aspectRatio: 1.1, convexity: 0.98, solidity: 0.97,
                               centroidXPx: Double(k % 1000), centroidYPx: Double(k / 1000), box: BoundingBox(minRow: 1, minCol: 1, maxRow: 9, maxCol: 9),
                               separated: k % 7 == 0, overlapFlag: false, confidence: 0.9)
}
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("facility-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let stores = try (0..<daemons).map { k in try AntemaStore(path: folder.appendingPathComponent("d\(k).sqlite").path, instrument: "bench-\(k + 1)") }
for s in stores { try s.enableShipping(target: target.description) }

/// Each daemon's shipper loop, as ShippingService runs it (idle 0.5 s when nothing waits).
final class Flag: @unchecked Sendable { let lock = NSLock(); var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value } }
let stop = Flag()
let shipping = stores.map { store in
    Task {
        let shipper = Shipper(store: store, target: target, softwareVersion: "bench", logger: logger)
        while !stop.isSet {
            let round = try await shipper.shipPending()
            if round.pending == 0 { try await Task.sleep(for: .milliseconds(500)) }
        }
    }
}

// the burst: each daemon records its share of images as fast as its store takes them
let start = Date()
let perDaemon = images / daemons
await withTaskGroup(of: Void.self) { group in
for (k, store) in stores.enumerated() {
    group.addTask {
        let sample = try! store.openSample(name: "burst", watchRoot: "/w", folder: "/w/burst")
        for i in 0..<(perDaemon + (k < images % daemons ? 1 : 0)) {
            let hash = String(format: "%064x", k * 10_000_000 + i + 1)
            let image = try! store.enqueue(ImageRecord(sampleId: sample.id!, path: "/w/burst/\(i).dm3", contentSha256: hash, fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
            _ = try! store.claimNextQueued()
            let ps = (0..<particlesPerImage).map { Make.particle(2 + Double(($0 * 13 + i) % 60) / 10, $0) }
            _ = try! store.recordAnalysis(AnalysisOutcome(segmenter: "model", parametersJson: "{}", softwareVersion: "bench", particles: ps),
                                          imageId: image.id!, facts: ImageFacts(widthPx: 1024, heightPx: 1024, pixelSizeXNm: 0.2, pixelSizeYNm: 0.2))
        }
    }
}
}
let recorded = Date()
print(String(format: "burst: %d images x %d particles recorded by %d daemons in %.1f s (%.0f images/s; antemad analyses 1-2 per second)",
             images, particlesPerImage, daemons, recorded.timeIntervalSince(start), Double(images) / recorded.timeIntervalSince(start)))
// wait until every outbox is empty
while try stores.contains(where: { (try $0.shippingStatus()?.pendingImages ?? 0) + (try $0.shippingStatus()?.pendingSamples ?? 0) > 0 }) {
    try await Task.sleep(for: .milliseconds(50))
}
let drained = Date()
stop.set()
for t in shipping { _ = await t.result }
print(String(format: "shipping: queue drained %.1f s after the last image (%.1f s in all; %.0f images/s, %.0f particles/s into PostgreSQL)",
             drained.timeIntervalSince(recorded), drained.timeIntervalSince(start),
             Double(images) / drained.timeIntervalSince(start), Double(images * particlesPerImage) / drained.timeIntervalSince(start)))

// the listing over many particles: filled by SQL (the shipped rows plus generated ones)
let c = try await target.connect(logger: logger)
var shipped = 0
for try await n in try await c.query("SELECT COUNT(*)::bigint FROM particle", logger: logger).decode(Int64.self) { shipped = Int(n) }
let missing = max(0, listingParticles - shipped)
if missing > 0 {
    let fillStart = Date()
    let imagesToAdd = missing / particlesPerImage, perSample = 20
    let samples = (imagesToAdd + perSample - 1) / perSample
    try await c.query("INSERT INTO instrument (name, software_version) VALUES ('bulk', 'bench') ON CONFLICT DO NOTHING", logger: logger)
    try await c.query(PostgresQuery(unsafeSQL: """
        INSERT INTO sample (instrument, id, name, watch_root, folder, state, opened_at, image_count, particle_count)
        SELECT 'bulk', s, 'bulk-' || s, '/w', '/w/bulk-' || s, 'reported', now() - s * interval '1 hour', \(perSample), \(perSample * particlesPerImage)
        FROM generate_series(1, \(samples)) s
        """), logger: logger)
    try await c.query(PostgresQuery(unsafeSQL: """
        INSERT INTO image (instrument, id, sample_id, path, content_sha256, file_size_bytes, frame, state, queued_at, finished_at)
        SELECT 'bulk', i, (i - 1) / \(perSample) + 1, '/w/' || i || '.dm3', lpad(to_hex(i), 64, '0'), 1, 0, 'done', now(), now()
        FROM generate_series(1, \(imagesToAdd)) i
        """), logger: logger)
    try await c.query(PostgresQuery(unsafeSQL: """
        INSERT INTO analysis (instrument, id, image_id, is_current, segmenter, parameters_json, software_version, particle_count, created_at)
        SELECT 'bulk', i, i, 1, 'model', '{}', 'bench', \(particlesPerImage), now() FROM generate_series(1, \(imagesToAdd)) i
        """), logger: logger)
    try await c.query(PostgresQuery(unsafeSQL: """
        INSERT INTO particle (instrument, id, analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity,
                              feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px,
                              bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag, confidence)
        SELECT 'bulk', p, (p - 1) / \(particlesPerImage) + 1, (p - 1) % \(particlesPerImage) + 1, 300, 3.1, 2 + (p % 60) / 10.0, 6.3, 0.9,
               2, 2.2, 1.1, 0.98, 0.97, 10, 10, 1, 1, 9, 9, 0, 0, 0.9
        FROM generate_series(1, \(imagesToAdd * particlesPerImage)) p
        """), logger: logger)
    try await c.query(PostgresQuery(unsafeSQL: """
        INSERT INTO sample_aggregate (instrument, sample_id, measurement, n, mean, sd, min, p10, median, p90, max)
        SELECT 'bulk', s, 'equivalent_diameter_nm', \(perSample * particlesPerImage), 4.95, 1.7, 2, 2.6, 4.9, 7.4, 7.9 FROM generate_series(1, \(samples)) s
        """), logger: logger)
    try await c.query("ANALYZE", logger: logger)
    for try await n in try await c.query("SELECT COUNT(*)::bigint FROM particle", logger: logger).decode(Int64.self) { shipped = Int(n) - imagesToAdd * particlesPerImage }
    print(String(format: "filled to %d particles (counted; %d samples, %d images) by SQL in %.0f s", shipped + imagesToAdd * particlesPerImage, samples,
                 imagesToAdd, Date().timeIntervalSince(fillStart)))
}
try await c.closeGracefully()
let reader = FacilityReader(target: target)
var times: [Double] = []
var listed = 0
for _ in 0..<5 {
    let t0 = Date()
    listed = try await reader.samples().count
    times.append(Date().timeIntervalSince(t0))
}
times.sort()
print(String(format: "samples listing (antemactl samples, %d samples, connection included): median %.3f s, best %.3f s, worst %.3f s",
             listed, times[2], times[0], times[4]))
