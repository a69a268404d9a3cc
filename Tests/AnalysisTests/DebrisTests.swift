import Testing
import Analysis
import Inference
import Pipeline

/// The relative-speck rule (`AnalysisParameters.relativeSpeckArea`): a network's particle small
/// against the frame's particles and not sure is debris.
@Suite struct DebrisBesideTheParticles {
    @Test("the rule in numbers: below a tenth of the median area and below 0.85 confidence is debris; either one alone is not")
    func ruleInNumbers() {
        let p = AnalysisParameters()
        // the sure particles (0.85 or more) are [300, 310, 320, 330, 340, 29]: median 315, limit 31.5 px
        let areas = [300, 310, 320, 330, 340, 29, 29, 33]
        let confidences = [0.95, 0.95, 0.95, 0.95, 0.95, 0.80, 0.90, 0.70]
        #expect(p.keptBesideTheFrame(areasPx: areas, confidences: confidences) == [true, true, true, true, true, false, true, true])
    }

    @Test("on a dirty film, where unsure flecks outnumber the particles, the typical particle is judged among those the network is sure of")
    func flecksOutnumberingTheParticles() {
        let p = AnalysisParameters()
        // five sure particles of 700 px and nine unsure flecks of 40-60 px: the median of all is
        // 60 px (limit 6), of the sure ones 700 px (limit 70)
        let areas = [700, 700, 700, 700, 700] + [40, 45, 50, 55, 60, 60, 60, 60, 60]
        let confidences = [Double](repeating: 0.95, count: 5) + [Double](repeating: 0.75, count: 9)
        #expect(p.keptBesideTheFrame(areasPx: areas, confidences: confidences) == [Bool](repeating: true, count: 5) + [Bool](repeating: false, count: 9))
        // with only four sure particles the median of all decides, and the flecks stay
        #expect(p.keptBesideTheFrame(areasPx: Array(areas.dropFirst()), confidences: Array(confidences.dropFirst())).allSatisfy { $0 })
    }

    @Test("a frame with fewer particles than the minimum, or the rule at 0, keeps every particle")
    func tooFewOrOff() {
        var p = AnalysisParameters()
        #expect(p.keptBesideTheFrame(areasPx: [300, 300, 300, 10], confidences: [0.9, 0.9, 0.9, 0.7]) == [true, true, true, true])
        p.relativeSpeckArea = 0
        #expect(p.keptBesideTheFrame(areasPx: [300, 300, 300, 300, 10], confidences: [0.9, 0.9, 0.9, 0.9, 0.7]).allSatisfy { $0 })
        #expect(p.keptBesideTheFrame(areasPx: [], confidences: []).isEmpty)
    }

    /// Six discs of radius 10 (317 px each) and two 5 x 5 squares (25 px, under a tenth of the
    /// median) on a 200 x 120 frame; the network's probability is `discProbability` on the discs
    /// and `speckProbability` on the squares (0.1 elsewhere).
    static func frame(discProbability: Float = 0.95, speckProbability: [Float]) -> (InputFrame, BinaryImage, Prediction) {
        let w = 200, h = 120
        var mask = BinaryImage(width: w, height: h)
        var probability = [Float](repeating: 0.1, count: w * h)
        for (i, cx) in [25, 55, 85, 115, 145, 175].enumerated() {
            let cy = i % 2 == 0 ? 30 : 80
            for r in (cy - 10)...(cy + 10) {
                for c in (cx - 10)...(cx + 10) where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 100 {
                    mask[r, c] = true
                    probability[r * w + c] = discProbability
                }
            }
        }
        for (k, (r0, c0)) in [(95, 20), (20, 100)].enumerated() {
            for r in r0..<(r0 + 5) { for c in c0..<(c0 + 5) { mask[r, c] = true; probability[r * w + c] = speckProbability[k] } }
        }
        let image = GrayImage(width: w, height: h, pixels: mask.pixels.map { $0 ? 60 : 180 })
        return (InputFrame(path: "f.dm3", frame: nil, image: image, pixelSize: PixelSizeNm(y: 0.1, x: 0.1)), mask, Prediction(probability: probability))
    }

    static func settings(relativeSpeckArea: Double? = nil) -> RunSettings {
        var s = RunSettings(antemaVersion: "test", segmenter: .model(name: "n", version: "1", path: "n.onnx", threshold: 0.5),
                            analysis: AnalysisParameters(), fallbackPixelSizeNm: nil, detectAnnotations: false)
        s.analysis.overlap = .separate
        s.analysis.minimumDiameterNm = 0.3  // 8 px at 0.1 nm/px: the squares pass the fixed speck size
        if let relativeSpeckArea { s.analysis.relativeSpeckArea = relativeSpeckArea }
        return s
    }

    @Test("through the frame's analysis: an unsure small object beside the particles is dropped and counted as debris, a sure one stays, and with the rule off both count")
    func throughTheAnalysis() {
        let (input, mask, prediction) = Self.frame(speckProbability: [0.8, 0.9])
        let outcome = BatchAnalysis.analyze(input, mask: mask, prediction: prediction, settings: Self.settings(), modelMinimumConfidence: 0.7)
        #expect(outcome.particles.count == 7, "six discs and the sure square: \(outcome.particles.map(\.areaPx))")
        #expect(outcome.particles.filter { $0.areaPx == 25 }.map(\.confidence) == [0.9].map { Double(Float($0)) })
        #expect(outcome.result?.droppedRegions.map(\.area) == [25], "the unsure square is kept for the pictures as dropped")
        #expect(outcome.droppedDebris == 1 && outcome.droppedUnsure == 0, "and counted as debris, for the images table")
        let off = BatchAnalysis.analyze(input, mask: mask, prediction: prediction, settings: Self.settings(relativeSpeckArea: 0), modelMinimumConfidence: 0.7)
        #expect(off.particles.count == 8)
        #expect(off.droppedDebris == 0 && off.droppedUnsure == 0)
    }

    @Test("the minimum confidence comes first: particles it drops do not count towards the median the debris is judged by, and are counted as unsure")
    func minimumConfidenceFirst() {
        // the discs at 0.72 fall below the minimum of 0.75; the two unsure squares (0.8) are then
        // the frame's only particles, too few to judge by, and stay
        let (input, mask, prediction) = Self.frame(discProbability: 0.72, speckProbability: [0.8, 0.8])
        let outcome = BatchAnalysis.analyze(input, mask: mask, prediction: prediction, settings: Self.settings(), modelMinimumConfidence: 0.75)
        #expect(outcome.particles.map(\.areaPx) == [25, 25])
        #expect(outcome.droppedUnsure == 6 && outcome.droppedDebris == 0, "the six discs counted as unsure, none as debris")
        let (_, _, sure) = Self.frame(discProbability: 0.95, speckProbability: [0.8, 0.8])
        #expect(BatchAnalysis.analyze(input, mask: mask, prediction: sure, settings: Self.settings(), modelMinimumConfidence: 0.75).particles.count == 6,
                "beside six sure discs the same squares are debris")
    }
}
