import Foundation
import GatanDM
import Inference
import Pipeline

/// How the segmentation is obtained.
public enum SegmenterChoice: Sendable, Equatable, Codable {
    /// The inputs already are binary segmentations (non-zero = particle).
    case mask
    /// Thresholding after background flattening.
    case classical(ClassicalSegmenter)
    /// A neural network (ONNX), particle where its probability is at least `threshold`.
    case model(name: String, version: String, path: String, threshold: Double)
}

/// Everything a run used, recorded beside its results.
public struct RunSettings: Sendable, Codable {
    public var antemaVersion: String
    public var segmenter: SegmenterChoice
    public var analysis: AnalysisParameters
    public var fallbackPixelSizeNm: Double?
    /// Rectangles (x, y, width, height in pixels; x = column, y = row, 0-based) where no particle
    /// is counted and which the network's normalisation leaves out (`--exclude`,
    /// `analysis.exclude_regions`).
    public var excludeRegions: [[Int]] = []
    /// Find burned-in scale bars, labels and panel letters and leave them out the same way
    /// (`AnnotationDetector` in the image, `TextDetector` in the segmentation). Default true.
    public var detectAnnotations: Bool = true
    /// For frames without a calibration: the factor the network's input is resampled by (2: the
    /// network sees particles twice as large). nil: estimated per frame (`NetworkScale`).
    public var networkScale: Double? = nil

    public init(antemaVersion: String, segmenter: SegmenterChoice, analysis: AnalysisParameters, fallbackPixelSizeNm: Double?,
                excludeRegions: [[Int]] = [], detectAnnotations: Bool = true) {
        self.antemaVersion = antemaVersion
        self.segmenter = segmenter
        self.analysis = analysis
        self.fallbackPixelSizeNm = fallbackPixelSizeNm
        self.excludeRegions = excludeRegions
        self.detectAnnotations = detectAnnotations
    }

    /// The pixels of `image` left out: detected annotations and the excluded rectangles; nil when none.
    public func exclusion(for image: GrayImage) -> BinaryImage? {
        var mask = detectAnnotations ? AnnotationDetector.detect(image) : BinaryImage(width: image.width, height: image.height)
        let rects = excludeRegions.filter { $0.count == 4 }.map { (x: $0[0], y: $0[1], width: $0[2], height: $0[3]) }
        if !rects.isEmpty {
            let user = AnnotationDetector.rectangles(rects, width: image.width, height: image.height)
            for i in mask.pixels.indices where user.pixels[i] { mask.pixels[i] = true }
        }
        return mask.pixels.contains(true) ? mask : nil
    }
}

/// The outcome for one frame.
public struct FrameOutcome: Sendable {
    public var path: String
    public var frame: Int?
    public var width: Int = 0
    public var height: Int = 0
    public var pixelSize: PixelSizeNm?
    public var particles: [ParticleMeasurement] = []
    public var borderExcluded = 0
    /// The part of the image that holds the micrograph where an excluded band across it ends it
    /// (`BatchAnalysis.frame(within:)`); nil: the whole image.
    public var micrographBox: BoundingBox?
    /// The areas (px) of the particles and of the objects a band cut (cleared, but not by the
    /// image's own edge): what the scale estimate (`NetworkScale`) reads the frame's particle
    /// size from. A particle a data bar cuts is left out of the measurements, but its size is the frame's.
    public var objectAreasPx: [Int] {
        let image = BoundingBox(minRow: 0, minCol: 0, maxRow: height - 1, maxCol: width - 1)
        let cut = micrographBox == nil ? [] : (result?.borderRegions ?? []).filter { !$0.box.reachesEdge(of: image) }
        return particles.map(\.areaPx) + cut.map(\.area)
    }
    /// A network's particles dropped below the minimum confidence (`droppedUnsure`) and as
    /// debris beside the frame's particles (`droppedDebris`, `AnalysisParameters.relativeSpeckArea`);
    /// nil without a network (no confidence to judge by).
    public var droppedUnsure: Int?
    public var droppedDebris: Int?
    public var seconds: Double = 0
    public var problem: InputProblem?
    /// The segmentation before clean-up (for the `_mask.png` and `_overlay.png`).
    public var segmentation: BinaryImage?
    /// What was left out (burned-in annotations, excluded regions), for pictures that keep clear of it.
    public var exclude: BinaryImage?
    /// The particles' regions and the excluded border objects (for pictures).
    public var result: ParticleAnalysisResult?
    /// A network on a frame without a calibration: the factor the frame was resampled by for it
    /// (`networkInputScale`); nil otherwise.
    public var networkScale: Double? { pixelSize == nil ? networkInputScale : nil }
    /// `networkScale` was estimated (`NetworkScale`), not given.
    public var networkScaleEstimated = false
    /// A network on any frame: the factor its pixels were resampled by before the network (from
    /// the pixel size and the model's range, or `networkScale`); nil without a network.
    public var networkInputScale: Double?
    /// The network saw the frame at a smaller scale than its pixel size (or `networkScale`)
    /// asked for, to bound the memory (`SegmentationRunner.defaultMaximumEnlargedPixels`).
    public var networkScaleLimited = false
    /// The frame is a packed field of small particles repeating every this many pixels, which the
    /// network left merged: its particles were split at the image's own grey-level cores
    /// (`PackedField`), not at the network's distance map; nil otherwise.
    public var packedFieldPeriodPx: Double?
    /// What a user should be told about this frame's analysis besides its problems: no
    /// calibration, a network scale lowered to bound the memory, a packed field split at the
    /// image's cores; empty when nothing.
    public var warnings: [String] {
        var out: [String] = []
        if pixelSize == nil && problem == nil {
            out.append("no calibration: measured in pixels (the _px columns; nm columns empty)"
                       + (networkScale.map { "; the network saw it at \(String(format: "%.2f", $0)) x its pixels\(networkScaleEstimated ? " (estimated)" : "")" } ?? ""))
        }
        if networkScaleLimited {
            out.append("the network saw the frame enlarged less than " + (pixelSize == nil ? "--network-scale" : "its pixel size")
                       + " asks for, so that its input stays within \(SegmentationRunner.defaultMaximumEnlargedPixels) pixels (4096 x 4096): "
                       + "small particles may be missed")
        }
        if let period = packedFieldPeriodPx {
            out.append("a packed field of small particles (repeating every \(String(format: "%.1f", period)) px) that the network drew merged: "
                       + "split at the image's own grey-level cores, not at the network's distance map")
        }
        return out
    }

    public var status: String { problem?.status.rawValue ?? "ok" }

    public init(path: String, frame: Int?, width: Int = 0, height: Int = 0, pixelSize: PixelSizeNm? = nil, problem: InputProblem? = nil) {
        self.path = path
        self.frame = frame
        self.width = width
        self.height = height
        self.pixelSize = pixelSize
        self.problem = problem
    }

    /// Mean and sd of the equivalent diameter in nm; nil without particles or without a calibration.
    public var diameterStats: (mean: Double, sd: Double)? { Statistics.meanAndSD(particles.compactMap(\.equivalentDiameterNm)) }
}

public enum Statistics {
    /// Mean and sample standard deviation (N - 1); sd is 0 for one value; nil for none.
    public static func meanAndSD(_ v: [Double]) -> (mean: Double, sd: Double)? {
        let s = Summary(v)
        guard let mean = s.mean, let sd = s.sd else { return nil }
        return (mean, sd)
    }
}

public enum BatchAnalysis {
    /// The part of the image inside the excluded bands that cross it whole along its edges (a
    /// data bar, an `--exclude` box as wide as the image at its edge): the micrograph ends there,
    /// so a particle touching such a band is cut by it. Nil where no band crosses the image, or
    /// where the bands leave nothing.
    public static func frame(within exclude: BinaryImage) -> BoundingBox? {
        let w = exclude.width, h = exclude.height
        func fullRow(_ r: Int) -> Bool { (0..<w).allSatisfy { exclude[r, $0] } }
        func fullColumn(_ c: Int) -> Bool { (0..<h).allSatisfy { exclude[$0, c] } }
        var top = 0, bottom = h - 1, left = 0, right = w - 1
        while top < h && fullRow(top) { top += 1 }
        while bottom > top && fullRow(bottom) { bottom -= 1 }
        while left < w && fullColumn(left) { left += 1 }
        while right > left && fullColumn(right) { right -= 1 }
        guard top <= bottom, left <= right, top > 0 || left > 0 || bottom < h - 1 || right < w - 1 else { return nil }
        return BoundingBox(minRow: top, minCol: left, maxRow: bottom, maxCol: right)
    }

    /// Analyses one frame's segmentation (`Segmenter.segment`). With a network's
    /// `prediction`, separation follows its distance map (overlap mode `network`) and each
    /// particle gets its confidence, the mean particle probability over its pixels; particles
    /// below the minimum confidence (the setting, else the model's) are dropped, and so are
    /// those small against the frame's particles and not sure (`AnalysisParameters.relativeSpeckArea`).
    /// `networkScale`: the factor a frame without a calibration was resampled by for the network;
    /// below 1, letters may come out of it as blobs, and `TextDetector` looks for their strokes
    /// in the image.
    public static func analyze(_ input: InputFrame, mask: BinaryImage, prediction: Prediction?, settings: RunSettings,
                               modelMinimumConfidence: Double? = nil, networkScale: Double? = nil) -> FrameOutcome {
        let minimumConfidence = settings.analysis.minimumConfidence ?? modelMinimumConfidence ?? 0
        var mask = mask
        var outcome = FrameOutcome(path: input.path, frame: input.frame, width: input.image.width, height: input.image.height, pixelSize: input.pixelSize)
        outcome.networkInputScale = prediction?.networkScale ?? networkScale
        outcome.networkScaleLimited = prediction?.networkScaleLimited ?? false
        // excluded regions (burned-in annotations, --exclude): no particle there
        var exclude = input.exclude
        if let exclude {
            for i in mask.pixels.indices where exclude.pixels[i] { mask.pixels[i] = false }
        }
        // burned-in lettering the segmenter took for particles (TextDetector): left out the same
        // way. Only exports carry burned-in lettering: an image with more than 256 grey levels is
        // a detector's own data (a DM file's counts), where rods and branched particles in a row
        // near an edge would otherwise be taken for a line of text
        if settings.detectAnnotations && settings.segmenter != .mask && input.image.hasAtMostGreyLevels(256) {
            let shrunk = (networkScale ?? 1) < 1
            var text = TextDetector.text(in: mask, image: shrunk ? input.image : nil, ink: input.image)
            if shrunk {
                // a network that saw the frame shrunk may mark only fragments of the lettering
                // (a stroke, half a letter), too few for a line of text: the lines are looked
                // for in the image itself, and an object lying at least half on them is text
                let inImage = TextDetector.textInImage(input.image)
                if inImage.pixels.contains(true) {
                    for region in mask.regions(.eight) where 2 * region.pixels.reduce(0, { $0 + (inImage[$1.row, $1.col] ? 1 : 0) }) >= region.area {
                        for p in region.pixels { text[p.row, p.col] = true }
                    }
                }
            }
            if text.pixels.contains(true) {
                var e = exclude ?? BinaryImage(width: mask.width, height: mask.height)
                for i in mask.pixels.indices where text.pixels[i] { mask.pixels[i] = false; e.pixels[i] = true }
                exclude = e
            }
        }
        outcome.micrographBox = input.exclude.flatMap(BatchAnalysis.frame(within:))
        var result = ParticleAnalysis.analyze(mask, pixelSize: input.pixelSize, parameters: settings.analysis, distance: prediction?.distance,
                                              frame: outcome.micrographBox)
        if let probability = prediction?.probability {
            let w = input.image.width
            var particles: [ParticleMeasurement] = [], regions: [Region] = []
            for (m, r) in zip(result.particles, result.regions) {
                var m = m
                m.confidence = r.pixels.reduce(0.0) { $0 + Double(probability[$1.row * w + $1.col]) } / Double(r.area)
                if m.confidence! >= minimumConfidence {
                    particles.append(m)
                    regions.append(r)
                } else {
                    result.droppedRegions.append(r)
                }
            }
            outcome.droppedUnsure = result.droppedRegions.count
            // debris beside the frame's particles: small against them and not sure
            let kept = settings.analysis.keptBesideTheFrame(areasPx: regions.map(\.area), confidences: particles.map { $0.confidence! })
            result.particles = []
            result.regions = []
            for ((m, r), keep) in zip(zip(particles, regions), kept) {
                if keep { result.particles.append(m); result.regions.append(r) } else { result.droppedRegions.append(r) }
            }
            outcome.droppedDebris = kept.count { !$0 }
        }
        outcome.particles = result.particles
        outcome.borderExcluded = result.borderRegions.count
        outcome.result = result
        outcome.segmentation = mask
        outcome.exclude = exclude
        return outcome
    }
}
