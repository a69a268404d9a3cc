import Foundation
import GatanDM
import ImageFiles
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
    /// (`AnnotationDetector`). Default true.
    public var detectAnnotations: Bool = true

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
    public var seconds: Double = 0
    public var problem: InputProblem?
    /// The segmentation before clean-up (for the `_segmentation.png`).
    public var segmentation: BinaryImage?
    /// What was left out (burned-in annotations, excluded regions), for pictures that keep clear of it.
    public var exclude: BinaryImage?
    /// The particles' regions and the excluded border objects (for pictures).
    public var result: ParticleAnalysisResult?

    public var status: String { problem?.status.rawValue ?? "ok" }

    public init(path: String, frame: Int?, width: Int = 0, height: Int = 0, pixelSize: PixelSizeNm? = nil, problem: InputProblem? = nil) {
        self.path = path
        self.frame = frame
        self.width = width
        self.height = height
        self.pixelSize = pixelSize
        self.problem = problem
    }

    public var diameterStats: (mean: Double, sd: Double)? { Statistics.meanAndSD(particles.map(\.equivalentDiameterNm)) }
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
    /// Segments and analyses one frame. A `.model` segmenter needs `predict`, which returns the
    /// network's particle probability (and, for instance-aware models, distance) per pixel (the
    /// caller owns the network). Each particle of a network gets its confidence, the mean
    /// particle probability over its pixels; particles below `minimumConfidence` are dropped.
    public static func analyze(_ input: InputFrame, settings: RunSettings, modelMinimumConfidence: Double? = nil,
                               predict: ((InputFrame) throws -> Prediction)? = nil) throws -> FrameOutcome {
        let minimumConfidence = settings.analysis.minimumConfidence ?? modelMinimumConfidence ?? 0
        let start = DispatchTime.now().uptimeNanoseconds
        var outcome = FrameOutcome(path: input.path, frame: input.frame, width: input.image.width, height: input.image.height, pixelSize: input.pixelSize)
        var mask: BinaryImage
        var prediction: Prediction? = nil
        switch settings.segmenter {
        case .mask:
            mask = BinaryImage(width: input.image.width, height: input.image.height, pixels: input.image.pixels.map { $0 != 0 })
        case .classical(let segmenter):
            mask = segmenter.segment(input.image, pixelSizeNm: (input.pixelSize.x * input.pixelSize.y).squareRoot())
        case .model(_, _, _, let threshold):
            guard let predict else { throw ModelError.invalid("a network segmenter without its network") }
            let p = try predict(input)
            prediction = p
            mask = BinaryImage(width: input.image.width, height: input.image.height, pixels: p.probability.map { Double($0) >= threshold })
        }
        // excluded regions (burned-in annotations, --exclude): no particle there
        if let exclude = input.exclude {
            for i in mask.pixels.indices where exclude.pixels[i] { mask.pixels[i] = false }
        }
        var result = ParticleAnalysis.analyze(mask, pixelSize: input.pixelSize, parameters: settings.analysis, distance: prediction?.distance)
        if let probability = prediction?.probability {
            let w = input.image.width
            var particles: [ParticleMeasurement] = [], regions: [Region] = []
            for (m, r) in zip(result.particles, result.regions) {
                var m = m
                m.confidence = r.pixels.reduce(0.0) { $0 + Double(probability[$1.row * w + $1.col]) } / Double(r.area)
                if m.confidence! >= minimumConfidence {
                    particles.append(m)
                    regions.append(r)
                }
            }
            result.particles = particles
            result.regions = regions
        }
        outcome.particles = result.particles
        outcome.borderExcluded = result.borderRegions.count
        outcome.result = result
        outcome.segmentation = mask
        outcome.exclude = input.exclude
        outcome.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return outcome
    }

    public static let particleColumns = [
        "image", "frame", "particle", "area_px", "area_nm2", "equivalent_diameter_nm", "perimeter_nm", "circularity",
        "feret_min_nm", "feret_max_nm", "aspect_ratio", "convexity", "solidity", "centroid_x_px", "centroid_y_px",
        "bbox_x_px", "bbox_y_px", "bbox_width_px", "bbox_height_px", "separated", "overlap_flag", "confidence",
    ]

    public static let imageColumns = [
        "image", "frame", "width_px", "height_px", "pixel_size_x_nm", "pixel_size_y_nm", "particles", "separated",
        "border_excluded", "mean_equivalent_diameter_nm", "sd_equivalent_diameter_nm", "seconds", "status", "error",
    ]

    /// `particles.csv`: one row per particle (x = column, y = row, 0-based; bbox inclusive start,
    /// width and height in pixels; flags 0/1).
    public static func particleTable(_ outcomes: [FrameOutcome]) -> CSVTable {
        var t = CSVTable(header: particleColumns)
        for o in outcomes {
            for (i, m) in o.particles.enumerated() {
                t.append([o.path, o.frame.map(String.init) ?? "", String(i + 1), String(m.areaPx),
                          CSVTable.number(m.areaNm2), CSVTable.number(m.equivalentDiameterNm), CSVTable.number(m.perimeterNm),
                          CSVTable.number(m.circularity), CSVTable.number(m.feretMinNm), CSVTable.number(m.feretMaxNm),
                          CSVTable.number(m.aspectRatio), CSVTable.number(m.convexity), CSVTable.number(m.solidity),
                          CSVTable.number(m.centroidXPx), CSVTable.number(m.centroidYPx),
                          String(m.box.minCol), String(m.box.minRow), String(m.box.width), String(m.box.height),
                          m.separated ? "1" : "0", m.overlapFlag ? "1" : "0", CSVTable.number(m.confidence)])
            }
        }
        return t
    }

    /// `images.csv`: one row per input image or frame, including those that failed.
    public static func imageTable(_ outcomes: [FrameOutcome]) -> CSVTable {
        var t = CSVTable(header: imageColumns)
        for o in outcomes {
            let stats = o.diameterStats
            let ok = o.problem == nil
            t.append([o.path, o.frame.map(String.init) ?? "", ok ? String(o.width) : "", ok ? String(o.height) : "",
                      CSVTable.number(o.pixelSize?.x), CSVTable.number(o.pixelSize?.y),
                      ok ? String(o.particles.count) : "", ok ? String(o.particles.filter(\.separated).count) : "",
                      ok ? String(o.borderExcluded) : "", CSVTable.number(stats?.mean), CSVTable.number(stats?.sd),
                      ok ? String(format: "%.3f", o.seconds) : "", o.status, o.problem?.message ?? ""])
        }
        return t
    }

    /// A file name for an input's pictures: the file's stem, the frame for stacks, and a number
    /// when two inputs share a stem. Characters other than letters, digits, `-`, `_` and `.`
    /// become `_`, so a name never leaves the output folder.
    public static func outputStem(path: String, frame: Int?, taken: inout Set<String>) -> String {
        var stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        stem = String(stem.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        if stem.isEmpty || stem.hasPrefix(".") { stem = "image" + stem }
        if let frame { stem += "_frame\(frame)" }
        var candidate = stem, k = 2
        while taken.contains(candidate) { candidate = "\(stem)_\(k)"; k += 1 }
        taken.insert(candidate)
        return candidate
    }

    /// Writes the segmentation as an 8-bit PNG, 255 = particle.
    public static func writeSegmentation(_ mask: BinaryImage, to path: String) throws {
        try PNGFile.write(gray8: mask.pixels.map { $0 ? 255 : 0 }, width: mask.width, height: mask.height, to: path)
    }
}
