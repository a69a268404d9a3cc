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

    /// Segments and analyses one frame with `settings` (whose segmenter is this one's choice).
    /// A network on a frame without a calibration sees it at `settings.networkScale`, else at the
    /// scale `NetworkScale` estimates (a first pass, and a second where the estimate differs).
    public func analyze(_ input: InputFrame, settings: RunSettings) throws -> FrameOutcome {
        var s = settings
        s.segmenter = choice
        var input = input
        if input.exclude == nil && choice != .mask { input.exclude = settings.exclusion(for: input.image) }
        let start = DispatchTime.now().uptimeNanoseconds
        func pass(_ scale: Double?) throws -> FrameOutcome {
            let (mask, prediction) = try segment(input, networkScale: scale)
            return BatchAnalysis.analyze(input, mask: mask, prediction: prediction, settings: s, modelMinimumConfidence: runner?.metadata.minimumConfidence,
                                         networkScale: runner != nil && input.pixelSize == nil ? scale ?? 1 : nil)
        }
        var outcome: FrameOutcome
        if runner != nil && input.pixelSize == nil && settings.networkScale == nil {
            outcome = try pass(NetworkScale.firstPassScale)
            // a field of small blobs in the image calls for a pass at their scale: taken at once
            // where the first pass left its foreground unresolved and the blobs dominate the image
            // (a dense monolayer seen as merged patches), else tried and kept when it finds them
            // (the first pass may have seen nothing there, or the support between monolayer
            // islands as large particles); otherwise the first pass's typical particle sets the scale
            let blobs = NetworkScale.smallBlobs(input.image)
            let smallScale = blobs.flatMap { NetworkScale.smallParticleScale(blobDiameterPx: $0.diameterPx, current: NetworkScale.firstPassScale) }
            if let blobs, let smallScale, blobs.dominant && NetworkScale.leftUnresolved(outcome) {
                outcome = try pass(smallScale)
            } else if let blobs, let smallScale, case let candidate = try pass(smallScale),
                      NetworkScale.confirmsSmallParticles(candidate, blobDiameterPx: blobs.diameterPx, previous: outcome, image: input.image) {
                outcome = candidate
            } else if let scale = NetworkScale.secondPassScale(after: outcome) {
                outcome = try pass(scale)
            }
            outcome.networkScaleEstimated = true
        } else if runner != nil && input.pixelSize != nil {
            // a calibrated frame of small particles the network did not resolve is seen again
            // enlarged (no try where it did: on noisy support around a few particles, an
            // enlarged pass finds a field of noise blobs, training/README.md)
            outcome = try pass(nil)
            if NetworkScale.leftUnresolved(outcome), let d = NetworkScale.smallBlobDiameterPx(input.image),
               let zoom = NetworkScale.calibratedZoom(after: outcome, blobDiameterPx: d) {
                outcome = try pass(zoom)
                outcome.networkScaleEstimated = true
            }
        } else {
            outcome = try pass(settings.networkScale)
        }
        outcome.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return outcome
    }
}
