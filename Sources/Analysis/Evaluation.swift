import Foundation
import GatanDM
import Pipeline

/// Pixel counts of a segmentation against its truth; particle is the positive class.
public struct Confusion: Sendable, Codable, Equatable {
    public var truePositive = 0, falsePositive = 0, falseNegative = 0, trueNegative = 0

    public init() {}
    public init(truePositive: Int, falsePositive: Int, falseNegative: Int, trueNegative: Int) {
        self.truePositive = truePositive; self.falsePositive = falsePositive
        self.falseNegative = falseNegative; self.trueNegative = trueNegative
    }

    /// Counts over the pixels where `ignore` is unset (all pixels when nil).
    public init(predicted: BinaryImage, truth: BinaryImage, ignore: BinaryImage? = nil) {
        precondition(predicted.width == truth.width && predicted.height == truth.height)
        for i in predicted.pixels.indices where !(ignore?.pixels[i] ?? false) {
            switch (predicted.pixels[i], truth.pixels[i]) {
            case (true, true): truePositive += 1
            case (true, false): falsePositive += 1
            case (false, true): falseNegative += 1
            case (false, false): trueNegative += 1
            }
        }
    }

    public static func + (a: Confusion, b: Confusion) -> Confusion {
        Confusion(truePositive: a.truePositive + b.truePositive, falsePositive: a.falsePositive + b.falsePositive,
                  falseNegative: a.falseNegative + b.falseNegative, trueNegative: a.trueNegative + b.trueNegative)
    }

    static func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
    public var total: Int { truePositive + falsePositive + falseNegative + trueNegative }
    /// Fraction of pixels classified correctly.
    public var globalAccuracy: Double? { Self.ratio(truePositive + trueNegative, total) }
    /// Fraction of the particle pixels found (recall of the particle class).
    public var particleAccuracy: Double? { Self.ratio(truePositive, truePositive + falseNegative) }
    public var backgroundAccuracy: Double? { Self.ratio(trueNegative, trueNegative + falsePositive) }
    public var particleIoU: Double? { Self.ratio(truePositive, truePositive + falsePositive + falseNegative) }
    public var backgroundIoU: Double? { Self.ratio(trueNegative, trueNegative + falsePositive + falseNegative) }
    public var particleDice: Double? { Self.ratio(2 * truePositive, 2 * truePositive + falsePositive + falseNegative) }
    public var backgroundDice: Double? { Self.ratio(2 * trueNegative, 2 * trueNegative + falsePositive + falseNegative) }
}

/// Particles found against true particles: a predicted particle matches a true one when their
/// intersection over union is at least `minimumIoU` (0.5; each particle matches at most once).
public struct InstanceMatch: Sendable, Codable, Equatable {
    public var truthCount = 0, predictedCount = 0, matched = 0

    public init() {}
    public init(truthCount: Int, predictedCount: Int, matched: Int) {
        self.truthCount = truthCount; self.predictedCount = predictedCount; self.matched = matched
    }

    public init(predicted: [Region], truth: [Region], width: Int, height: Int, minimumIoU: Double = 0.5) {
        truthCount = truth.count
        predictedCount = predicted.count
        var owner = [Int32](repeating: -1, count: width * height)
        for (k, r) in truth.enumerated() { for p in r.pixels { owner[p.row * width + p.col] = Int32(k) } }
        // candidate pairs with their IoU, best first; greedy one-to-one assignment
        var pairs: [(iou: Double, p: Int, t: Int)] = []
        for (k, r) in predicted.enumerated() {
            var overlap: [Int32: Int] = [:]
            for p in r.pixels { let t = owner[p.row * width + p.col]; if t >= 0 { overlap[t, default: 0] += 1 } }
            for (t, inter) in overlap {
                let iou = Double(inter) / Double(r.pixels.count + truth[Int(t)].pixels.count - inter)
                if iou >= minimumIoU { pairs.append((iou, k, Int(t))) }
            }
        }
        pairs.sort { $0.iou > $1.iou }
        var usedP = Set<Int>(), usedT = Set<Int>()
        for pair in pairs where !usedP.contains(pair.p) && !usedT.contains(pair.t) {
            usedP.insert(pair.p); usedT.insert(pair.t); matched += 1
        }
    }

    public static func + (a: InstanceMatch, b: InstanceMatch) -> InstanceMatch {
        InstanceMatch(truthCount: a.truthCount + b.truthCount, predictedCount: a.predictedCount + b.predictedCount, matched: a.matched + b.matched)
    }

    public var precision: Double? { Confusion.ratio(matched, predictedCount) }
    public var recall: Double? { Confusion.ratio(matched, truthCount) }
    public var f1: Double? { Confusion.ratio(2 * matched, predictedCount + truthCount) }
}

/// One segmenter on one image (or, summed, on a whole set): what the ANTEMA paper reports,
/// plus instance-level matching and the error of the mean equivalent diameter, both after the
/// full analysis (despeckle, separation, border clearing) of prediction and truth alike.
public struct SegmentationScore: Sendable, Codable {
    public var image: String
    public var segmenter: String
    public var confusion: Confusion
    public var instances: InstanceMatch
    /// Equivalent diameters (nm) of the analysed particles (none for an image without a calibration).
    public var truthDiametersNm: [Double]
    public var predictedDiametersNm: [Double]
    public var seconds: Double

    public init(image: String, segmenter: String, confusion: Confusion, instances: InstanceMatch,
                truthDiametersNm: [Double], predictedDiametersNm: [Double], seconds: Double) {
        self.image = image; self.segmenter = segmenter; self.confusion = confusion; self.instances = instances
        self.truthDiametersNm = truthDiametersNm; self.predictedDiametersNm = predictedDiametersNm; self.seconds = seconds
    }

    public var meanTruthDiameterNm: Double? { Summary(truthDiametersNm).mean }
    public var meanPredictedDiameterNm: Double? { Summary(predictedDiametersNm).mean }
    /// (predicted mean - true mean) / true mean.
    public var meanDiameterRelativeError: Double? {
        guard let t = meanTruthDiameterNm, let p = meanPredictedDiameterNm, t > 0 else { return nil }
        return (p - t) / t
    }

    /// Pools images: pixel counts and matches add up, diameters are pooled.
    public static func pooled(_ scores: [SegmentationScore], name: String) -> SegmentationScore {
        SegmentationScore(image: name, segmenter: scores.first?.segmenter ?? "",
                          confusion: scores.reduce(Confusion()) { $0 + $1.confusion },
                          instances: scores.reduce(InstanceMatch()) { $0 + $1.instances },
                          truthDiametersNm: scores.flatMap(\.truthDiametersNm), predictedDiametersNm: scores.flatMap(\.predictedDiametersNm),
                          seconds: scores.reduce(0) { $0 + $1.seconds })
    }

    /// Scores one segmentation. `ignore`: pixels left out of everything (a scale bar); they are
    /// cleared in both masks before the analysis.
    public static func score(image: String, segmenter: String, predicted: BinaryImage, truth: BinaryImage, ignore: BinaryImage?,
                             pixelSize: PixelSizeNm?, parameters: AnalysisParameters, seconds: Double) -> SegmentationScore {
        var p = predicted, t = truth
        if let ignore {
            for i in ignore.pixels.indices where ignore.pixels[i] { p.pixels[i] = false; t.pixels[i] = false }
        }
        let pa = ParticleAnalysis.analyze(p, pixelSize: pixelSize, parameters: parameters)
        let ta = ParticleAnalysis.analyze(t, pixelSize: pixelSize, parameters: parameters)
        return SegmentationScore(image: image, segmenter: segmenter, confusion: Confusion(predicted: predicted, truth: truth, ignore: ignore),
                                 instances: InstanceMatch(predicted: pa.regions, truth: ta.regions, width: p.width, height: p.height),
                                 truthDiametersNm: ta.particles.compactMap(\.equivalentDiameterNm), predictedDiametersNm: pa.particles.compactMap(\.equivalentDiameterNm),
                                 seconds: seconds)
    }

    /// Scores one full analysis (as a user runs it: the segmenter's own separation, clean-up
    /// and exclusions) against the truth. `truthInstances`: the labelled particles of an
    /// instance label image (EMPS-style: 0 = background, 1..N = one particle each); without
    /// them the binary truth goes through the same analysis as the prediction. Truth particles
    /// get the prediction's clean-up: those touching the border (when it is cleared) and those
    /// below the minimum size are left out, and `ignore` pixels are cleared in both.
    public static func score(image: String, segmenter: String, outcome: FrameOutcome, truth: BinaryImage, truthInstances: [Region]?,
                             ignore: BinaryImage?, pixelSize: PixelSizeNm?, parameters: AnalysisParameters, seconds: Double) -> SegmentationScore {
        let predicted = outcome.segmentation ?? BinaryImage(width: truth.width, height: truth.height)
        var t = truth
        if let ignore { for i in ignore.pixels.indices where ignore.pixels[i] { t.pixels[i] = false } }
        let truthRegions: [Region]
        // the micrograph's own edges where a data bar or an excluded band ends it (as the analysis had them)
        let frame = outcome.micrographBox
            ?? BoundingBox(minRow: 0, minCol: 0, maxRow: truth.height - 1, maxCol: truth.width - 1)
        if let instances = truthInstances {
            let minPixels = parameters.minimumPixels(pixelSizeNm: pixelSize?.geometricMeanNm)
            truthRegions = instances.compactMap { r -> Region? in
                let kept = r.pixels.filter { ignore?[$0.row, $0.col] != true && frame.contains($0) }
                guard kept.count >= max(1, minPixels) else { return nil }
                let region = Region(pixels: kept)
                if parameters.clearBorder && region.box.reachesEdge(of: frame) { return nil }
                return region
            }
        } else {
            var q = parameters
            if q.overlap == .network { q.overlap = .separate }
            for r in 0..<t.height { for c in 0..<t.width where !frame.contains(Pixel(r, c)) { t[r, c] = false } }
            truthRegions = ParticleAnalysis.analyze(t, pixelSize: pixelSize, parameters: q, frame: frame).regions
        }
        let predictedRegions = outcome.result?.regions ?? []
        return SegmentationScore(image: image, segmenter: segmenter, confusion: Confusion(predicted: predicted, truth: truth, ignore: ignore),
                                 instances: InstanceMatch(predicted: predictedRegions, truth: truthRegions, width: truth.width, height: truth.height),
                                 truthDiametersNm: truthRegions.compactMap { $0.measure(pixelSize: pixelSize).equivalentDiameterNm },
                                 predictedDiametersNm: outcome.particles.compactMap(\.equivalentDiameterNm), seconds: seconds)
    }

    /// The particles of an instance label image (one value per particle, 0 = background), or nil
    /// when the image holds a single particle value (a binary mask).
    public static func instances(labels: GrayImage) -> [Region]? {
        var pixels: [Float: [Pixel]] = [:]
        for r in 0..<labels.height { for c in 0..<labels.width {
            let v = labels.pixels[r * labels.width + c]
            if v != 0 { pixels[v, default: []].append(Pixel(r, c)) }
        } }
        guard pixels.count > 1 else { return nil }
        // one region per label value (its pixels, even if the label was drawn in pieces)
        return pixels.keys.sorted().map { Region(pixels: pixels[$0]!) }
    }

    public static let columns = [
        "image", "segmenter", "global_accuracy", "particle_accuracy", "background_accuracy", "particle_iou", "background_iou",
        "particle_dice", "background_dice", "true_positive_px", "false_positive_px", "false_negative_px", "true_negative_px",
        "truth_particles", "predicted_particles", "matched_particles", "precision", "recall", "f1",
        "mean_truth_diameter_nm", "mean_predicted_diameter_nm", "mean_diameter_relative_error", "seconds",
    ]

    public var row: [String] {
        let c = confusion, i = instances
        return [image, segmenter, CSVTable.number(c.globalAccuracy), CSVTable.number(c.particleAccuracy), CSVTable.number(c.backgroundAccuracy),
                CSVTable.number(c.particleIoU), CSVTable.number(c.backgroundIoU), CSVTable.number(c.particleDice), CSVTable.number(c.backgroundDice),
                String(c.truePositive), String(c.falsePositive), String(c.falseNegative), String(c.trueNegative),
                String(i.truthCount), String(i.predictedCount), String(i.matched),
                CSVTable.number(i.precision), CSVTable.number(i.recall), CSVTable.number(i.f1),
                CSVTable.number(meanTruthDiameterNm), CSVTable.number(meanPredictedDiameterNm), CSVTable.number(meanDiameterRelativeError),
                String(format: "%.3f", seconds)]
    }
}
