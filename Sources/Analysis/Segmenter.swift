import DefaultModel
import Foundation
import Inference
import Pipeline

/// The segmenters a user picks by name (`analysis.segmenter`, `antemactl analyze --segmenter`).
public enum SegmenterKind: String, Sendable, Codable, CaseIterable {
    /// The bundled network (or the model given).
    case model
    /// The bundled instance-aware network (or the model given).
    case instance
    /// Thresholding after background flattening.
    case classical
}

/// Why a segmenter cannot be made.
public struct SegmenterUnavailable: Error, CustomStringConvertible {
    public let what: String
    public let reason: String
    public var description: String { "\(what) cannot be used: \(reason)" }
}

/// A ready-to-use segmenter: what it is (recorded with every result) and, for a network, the
/// loaded model. Built once per run (loading a model takes a moment) and shared by all images.
public struct Segmenter: Sendable {
    public let choice: SegmenterChoice
    public let runner: SegmentationRunner?
    public let contrast: Contrast

    /// The inputs are binary masks already.
    public static let mask = Segmenter(choice: .mask, runner: nil, contrast: .darkParticles)

    public static func classical(contrast: Contrast = .auto) -> Segmenter {
        var c = ClassicalSegmenter()
        c.contrast = contrast
        return Segmenter(choice: .classical(c), runner: nil, contrast: contrast)
    }

    /// The segmenter of a kind: `modelPath` (a network) when given, whatever the kind except
    /// classical; else the bundled model of the kind. The one place the choice is made.
    public static func make(_ kind: SegmenterKind, modelPath: String?, threshold: Double, contrast: Contrast) throws -> Segmenter {
        if kind == .classical { return .classical(contrast: contrast) }
        if kind == .instance && modelPath == nil {
            do { return try .instanceModel(threshold: threshold, contrast: contrast) } catch {
                throw SegmenterUnavailable(what: "the bundled instance model", reason: "\(error)")
            }
        }
        do { return try .model(path: modelPath, threshold: threshold, contrast: contrast) } catch {
            throw SegmenterUnavailable(what: modelPath.map { "the model \($0)" } ?? "the bundled model", reason: "\(error)")
        }
    }

    /// The network at `path` (metadata in `<path>.json`), or the bundled model when `path` is nil.
    public static func model(path: String? = nil, threshold: Double = 0.5, contrast: Contrast = .auto) throws -> Segmenter {
        let modelPath = try path ?? DefaultModel.path()
        return try model(resolvedPath: modelPath, threshold: threshold, contrast: contrast)
    }

    /// The bundled instance-aware network (`DefaultModel.instanceFileName`).
    public static func instanceModel(threshold: Double = 0.5, contrast: Contrast = .auto) throws -> Segmenter {
        try model(resolvedPath: DefaultModel.path(fileName: DefaultModel.instanceFileName), threshold: threshold, contrast: contrast)
    }

    static func model(resolvedPath modelPath: String, threshold: Double, contrast: Contrast) throws -> Segmenter {
        let runner = try SegmentationRunner(modelPath: modelPath)
        return Segmenter(choice: .model(name: runner.metadata.name, version: runner.metadata.version, path: modelPath, threshold: threshold),
                         runner: runner, contrast: contrast)
    }

    /// "classical", "mask" or "model <name> <version>": the short name stored with each analysis.
    public var label: String {
        switch choice {
        case .mask: return "mask"
        case .classical: return "classical"
        case .model(let name, let version, _, _): return "model \(name) \(version)"
        }
    }

    /// The network's prediction: particle probability and, for instance-aware models, distance.
    /// `networkScale` (nil: 1): for a frame without a calibration, the factor its pixels are
    /// resampled by before the network; for a calibrated one, the zoom on the model's choice
    /// (`SegmentationRunner.predict`'s `calibratedZoom`).
    public func predict(_ input: InputFrame, networkScale: Double? = nil) throws -> Prediction {
        guard let runner else { throw ModelError.invalid("the \(label) segmenter has no probabilities") }
        return try runner.predict(input.image.pixels, width: input.image.width, height: input.image.height,
                                  pixelSizeNm: input.pixelSize?.geometricMeanNm,
                                  uncalibratedScale: input.pixelSize == nil ? networkScale ?? 1 : 1,
                                  calibratedZoom: input.pixelSize != nil ? networkScale ?? 1 : 1,
                                  brightParticles: contrast == .brightParticles, exclude: input.exclude?.pixels)
    }

    /// The binary segmentation before any clean-up, and the network's prediction it came from
    /// (nil for masks and the classical segmenter): the one place the segmenters differ.
    public func segment(_ input: InputFrame, networkScale: Double? = nil) throws -> (mask: BinaryImage, prediction: Prediction?) {
        switch choice {
        case .mask:
            return (BinaryImage(width: input.image.width, height: input.image.height, pixels: input.image.pixels.map { $0 != 0 }), nil)
        case .classical(let c):
            return (c.segment(input.image, pixelSizeNm: input.pixelSize?.geometricMeanNm, exclude: input.exclude), nil)
        case .model(_, _, _, let threshold):
            let p = try predict(input, networkScale: networkScale)
            return (BinaryImage(width: input.image.width, height: input.image.height, pixels: p.probability.map { Double($0) >= threshold }), p)
        }
    }

    /// One pass of the network (or the segmenter) over a frame: its analysis, and the
    /// segmentation and prediction it came from (for the packed-field split).
    struct Pass {
        var outcome: FrameOutcome
        let scale: Double?
        let mask: BinaryImage
        let prediction: Prediction?
    }

    /// Segments and analyses one frame with `settings` (whose segmenter is this one's choice).
    /// A network on a frame without a calibration sees it at `settings.networkScale`, else at the
    /// scale `NetworkScale` estimates (a first pass, and a second where the estimate differs).
    /// A packed field of small particles that the network left merged is split at the image's
    /// own grey-level cores (`PackedField`).
    public func analyze(_ input: InputFrame, settings: RunSettings) throws -> FrameOutcome {
        var s = settings
        s.segmenter = choice
        var input = input
        if input.exclude == nil && choice != .mask { input.exclude = settings.exclusion(for: input.image) }
        let start = DispatchTime.now().uptimeNanoseconds
        // the analysis of a segmentation made at `scale` (nil: the frame's own or the model's)
        func analysis(_ mask: BinaryImage, _ prediction: Prediction?, scale: Double?, settings: RunSettings, modelMinimumConfidence: Double?) -> FrameOutcome {
            BatchAnalysis.analyze(input, mask: mask, prediction: prediction, settings: settings, modelMinimumConfidence: modelMinimumConfidence,
                                  networkScale: runner != nil && input.pixelSize == nil ? scale ?? 1 : nil)
        }
        func pass(_ scale: Double?) throws -> Pass {
            let (mask, prediction) = try segment(input, networkScale: scale)
            return Pass(outcome: analysis(mask, prediction, scale: scale, settings: s, modelMinimumConfidence: runner?.metadata.minimumConfidence),
                        scale: scale, mask: mask, prediction: prediction)
        }
        // the spectrum's peak at a small period, and the Laplacian's small blobs, computed once
        // where asked for
        lazy var packingPeak = NetworkScale.packingPeak(input.image)
        lazy var smallBlobs = NetworkScale.smallBlobs(input.image)
        // the period of a packed field in the image (its spectrum)
        func packingPeriodPx() -> Double? { NetworkScale.packingPeriodPx(peak: packingPeak) }
        // whether the kept pass is one that small blobs or a packed field's period asked for
        var keptSmallParticlePass = false
        var chosen: Pass
        if runner != nil && input.pixelSize == nil && settings.networkScale == nil {
            chosen = try pass(NetworkScale.firstPassScale)
            // a field of small blobs in the image calls for a pass at their scale: taken at once
            // where the first pass left its foreground unresolved and the blobs dominate the image
            // (a dense monolayer seen as merged patches), else tried and kept when it finds them
            // (the first pass may have seen nothing there, or the support between monolayer
            // islands as large particles) or draws the field far more sharply than the first
            // pass; otherwise the first pass's typical particle sets the scale. A packed field
            // whose particles the Laplacian does not see (3-5 px, touching) is found by its
            // spectrum's peak and tried the same way.
            let blobs = smallBlobs
                ?? packingPeriodPx().map { NetworkScale.SmallBlobs(diameterPx: $0, dominant: false) }
            let smallScale = blobs.flatMap { NetworkScale.smallParticleScale(blobDiameterPx: $0.diameterPx, current: NetworkScale.firstPassScale) }
            // passes already made, by scale (the packed-field rule may ask for the tried one again)
            var tried: [Double: Pass] = [:]
            func triedPass(_ scale: Double) throws -> Pass {
                if let p = tried[scale] { return p }
                let p = try pass(scale)
                tried[scale] = p
                return p
            }
            if let blobs, let smallScale, blobs.dominant && NetworkScale.leftUnresolved(chosen.outcome) {
                chosen = try triedPass(smallScale)
                keptSmallParticlePass = true
            } else if let blobs, let smallScale, case let candidate = try triedPass(smallScale),
                      NetworkScale.confirmsSmallParticles(candidate.outcome, blobDiameterPx: blobs.diameterPx, previous: chosen.outcome, image: input.image)
                        || NetworkScale.sharpensSegmentation(candidate.outcome, previous: chosen.outcome, image: input.image) {
                chosen = candidate
                keptSmallParticlePass = true
            } else if let period = packingPeriodPx(),
                      let packedScale = NetworkScale.smallParticleScale(blobDiameterPx: period, current: NetworkScale.firstPassScale),
                      !NetworkScale.resolvesPackedField(chosen.outcome, periodPx: period),
                      case let candidate = try triedPass(packedScale),
                      NetworkScale.takesPackedFieldPass(candidate.outcome, first: chosen.outcome, periodPx: period, image: input.image) {
                // a packed field (its spectrum's peak) whose bare support the first pass took for
                // particles is seen at the scale its period calls for where that pass covers the
                // field and stands out more sharply, even where it stands out little from the
                // field's own texture (the contrast floor above); the field is then split at its
                // own cores
                chosen = candidate
                keptSmallParticlePass = true
            } else if let scale = NetworkScale.secondPassScale(after: chosen.outcome) {
                chosen = try pass(scale)
            }
            chosen.outcome.networkScaleEstimated = true
        } else if runner != nil && input.pixelSize != nil {
            // a calibrated frame of small particles the network did not resolve is seen again
            // enlarged (no try where it did: on noisy support around a few particles, an
            // enlarged pass finds a field of noise blobs, training/README.md); a packed field
            // (its spectrum's peak, which such noise does not make) that the first pass did not
            // resolve is tried zoomed as an uncalibrated one is, and the zoomed pass kept where it
            // confirms or sharpens it
            chosen = try pass(nil)
            if NetworkScale.leftUnresolved(chosen.outcome), let d = NetworkScale.smallBlobDiameterPx(input.image),
               let zoom = NetworkScale.calibratedZoom(after: chosen.outcome, blobDiameterPx: d) {
                chosen = try pass(zoom)
                chosen.outcome.networkScaleEstimated = true
                keptSmallParticlePass = true
            } else if let period = packingPeriodPx(), !NetworkScale.resolvesPackedField(chosen.outcome, periodPx: period),
                      let zoom = NetworkScale.calibratedZoom(after: chosen.outcome, blobDiameterPx: period),
                      case let candidate = try pass(zoom),
                      NetworkScale.confirmsSmallParticles(candidate.outcome, blobDiameterPx: period, previous: chosen.outcome, image: input.image)
                        || NetworkScale.sharpensSegmentation(candidate.outcome, previous: chosen.outcome, image: input.image)
                        || NetworkScale.takesPackedFieldPass(candidate.outcome, first: chosen.outcome, periodPx: period, image: input.image) {
                chosen = candidate
                chosen.outcome.networkScaleEstimated = true
                keptSmallParticlePass = true
            }
        } else {
            chosen = try pass(settings.networkScale)
        }
        var outcome = chosen.outcome
        // a packed field the network left merged (its own separation included) is split at the
        // image's own cores instead; not in the modes that reproduce ANTEMA (separate, flag) or
        // the watershed
        if runner != nil, s.analysis.overlap == .network, let prediction = chosen.prediction, let segmentation = outcome.segmentation,
           NetworkScale.mayBePackedField(segmentation),
           let period = packingPeriodPx()
            ?? (keptSmallParticlePass ? NetworkScale.agreeingPackingPeriodPx(peak: packingPeak, blobDiameterPx: smallBlobs?.diameterPx, keptPass: outcome) : nil),
           NetworkScale.leftPackedFieldMerged(segmentation, periodPx: period) {
            var split = s
            split.analysis.markerSmoothingPx = PackedField.smoothingSigmaPx(periodPx: period)
            split.analysis.markerPeakHeight = PackedField.peakHeight
            var cores = prediction
            let dark = PackedField.darkParticles(input.image, mask: segmentation)
            cores.distance = PackedField.coreMap(input.image, mask: segmentation, darkParticles: dark)
            // the support between the particles, where the field's patch covers it, is left out
            let field = PackedField.trimmedToParticles(input.image, mask: chosen.mask, segmentation: segmentation, excluded: input.exclude, darkParticles: dark)
            // the model's own minimum confidence (chosen on particles its distance map parted) is
            // not applied: a packed field's pieces are as sure as the field, but the network's
            // probability over merged particles of a few pixels stays near its threshold; a
            // minimum the user set still is
            outcome = analysis(field ?? chosen.mask, cores, scale: chosen.scale, settings: split, modelMinimumConfidence: nil)
            outcome.networkScaleEstimated = chosen.outcome.networkScaleEstimated
            outcome.packedFieldPeriodPx = period
        }
        outcome.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return outcome
    }
}
