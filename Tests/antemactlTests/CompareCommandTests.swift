import Foundation
import Pipeline
import Store
import Testing

@Suite struct AntemactlCompare {
    /// Samples of log-normal diameters: A and A2 from the same distribution, B larger.
    static func database(at path: String) throws {
        let store = try AntemaStore(path: path)
        var seed: UInt64 = 7
        func uniform() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 11) / Double(1 << 53) }
        func normal() -> Double { (-2 * log(max(uniform(), 1e-12))).squareRoot() * cos(2 * Double.pi * uniform()) }
        for (name, gm) in [("Au-A", 2.0), ("Au-A2", 2.0), ("Au-B", 2.6)] {
            let s = try store.openSample(name: name, watchRoot: "/w", folder: "/w/" + name)
            let img = try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/\(name)/0.dm3", contentSha256: String(repeating: "c", count: 60) + String(format: "%04d", name.count * 7 + Int(gm * 10)),
                                                    fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
            let ps = (0..<150).map { _ -> ParticleMeasurement in
                let d = gm * exp(0.2 * normal())
                return ParticleMeasurement(areaPx: 100, areaNm2: Double.pi / 4 * d * d, equivalentDiameterNm: d, perimeterNm: Double.pi * d, circularity: 1,
                                           feretMinNm: d, feretMaxNm: d, aspectRatio: 1, convexity: 1, solidity: 1, centroidXPx: 5, centroidYPx: 5,
                                           box: BoundingBox(minRow: 0, minCol: 0, maxRow: 9, maxCol: 9))
            }
            try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: "{}", softwareVersion: "test", particles: ps), imageId: img.id!, facts: nil)
        }
    }

    @Test("compare writes the overlaid distributions (PNG, SVG, PDF), a table per sample and the tests between each pair; a shifted sample differs, a same-distribution one does not")
    func compare() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("antema.sqlite").path
        try Self.database(at: db)
        let out = dir.appendingPathComponent("cmp").path
        let r = try AntemactlInspect.run(["compare", "Au-A", "Au-A2", "Au-B", "--db", db, "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        for f in ["comparison_equivalent_diameter_nm.png", "comparison_equivalent_diameter_nm.svg", "comparison_equivalent_diameter_nm.pdf",
                  "comparison_samples.csv", "comparison_tests.csv", "comparison.xlsx"] {
            #expect(files.contains(f), "\(f) missing")
        }
        let tests = parseCSV(try String(contentsOfFile: out + "/comparison_tests.csv", encoding: .utf8))
        #expect(tests[0] == ["sample_a", "sample_b", "n_a", "n_b", "ks_d", "ks_p", "mann_whitney_u", "mann_whitney_p"])
        func p(_ a: String, _ b: String, _ column: Int) -> Double { Double(tests.first { $0[0] == a && $0[1] == b }![column])! }
        #expect(p("Au-A", "Au-B", 5) < 1e-6 && p("Au-A", "Au-B", 7) < 1e-6)
        #expect(p("Au-A", "Au-A2", 5) > 0.01 && p("Au-A", "Au-A2", 7) > 0.01)
        let samples = parseCSV(try String(contentsOfFile: out + "/comparison_samples.csv", encoding: .utf8))
        let gmB = Double(samples.first { $0[0] == "Au-B" }![5])!
        #expect(abs(gmB - 2.6) < 0.15, "geometric mean \(gmB)")
        let missing = try AntemactlInspect.run(["compare", "Au-A", "nope", "--db", db, "--out", out])
        #expect(missing.status == 66)
    }
}
