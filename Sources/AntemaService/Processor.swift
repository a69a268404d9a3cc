import Analysis
import Foundation
import GatanDM
import Pipeline
import Reports
import SafeFiles
import Store

/// Analyses one queued image frame and records the outcome in one transaction.
public struct Processor: Sendable {
    public let store: AntemaStore
    public var configuration: Configuration
    public var softwareVersion: String
    /// Built once from the configuration (`Configuration.makeSegmenter`) and shared.
    public var segmenter: Segmenter

    public init(store: AntemaStore, configuration: Configuration, softwareVersion: String, segmenter: Segmenter) {
        self.store = store
        self.configuration = configuration
        self.softwareVersion = softwareVersion
        self.segmenter = segmenter
    }

    public enum Outcome: Sendable, Equatable { case analysed(particles: Int), failed(String) }

    /// Reads the frame, segments, analyses and stores; any problem is recorded on the image.
    public func process(_ image: ImageRecord, at now: @Sendable () -> Date = { Date() }) throws -> Outcome {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let bytes: [UInt8]
            do {
                bytes = try SafeFiles.readFile(image.path, base: configuration.watchRoot(of: image.path), maxBytes: configuration.watch.maxFileBytes)
            } catch {
                throw ProcessingProblem("the file is gone or unreadable since it was queued: \((error as? SafeFiles.Failure)?.reason ?? "\(error)")")
            }
            guard sha256Hex(bytes) == image.contentSha256 else {
                throw ProcessingProblem("the file changed since it was queued (its new content is analysed as a new image)")
            }
            let frames = try Ingest.micrographFrames(DMReader.parse(bytes))
            guard image.frame < frames.count else { throw ProcessingProblem("frame \(image.frame) is not in the file") }
            let (dm, z) = frames[image.frame]
            guard dm.width * dm.height <= configuration.processing.maxImagePixels else {
                throw ProcessingProblem("image is \(dm.width) x \(dm.height) pixels, more than processing.max_image_pixels = \(configuration.processing.maxImagePixels)")
            }
            guard let pixelSize = dm.pixelSizeNm else {
                let units = dm.axes.suffix(2).map(\.unit)
                throw ProcessingProblem(units.allSatisfy(\.isEmpty)
                    ? "the image has no calibration (no pixel size in nm)"
                    : "the image is calibrated in '\(units.joined(separator: "', '"))', not a length: not a real-space micrograph")
            }
            let pixels = try dm.floatFrame(z)
            let settings = configuration.runSettings(softwareVersion: softwareVersion, segmenter: segmenter)
            let frame = InputFrame(path: image.path, frame: image.frame, image: GrayImage(width: dm.width, height: dm.height, pixels: pixels), pixelSize: pixelSize)
            let result: FrameOutcome
            do { result = try segmenter.analyze(frame, settings: settings) } catch {
                throw ProcessingProblem("segmentation failed: \(error)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = String(decoding: try encoder.encode(settings), as: UTF8.self)
            var facts = ImageFacts(widthPx: dm.width, heightPx: dm.height, pixelSizeXNm: pixelSize.x, pixelSizeYNm: pixelSize.y)
            facts.acquisitionDate = dm.metadata.acquisitionDate
            facts.acquisitionTime = dm.metadata.acquisitionTime
            facts.microscope = dm.metadata.microscope
            facts.voltageV = dm.metadata.voltageV
            facts.indicatedMagnification = dm.metadata.indicatedMagnification
            facts.exposureS = dm.metadata.exposureSeconds
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            try store.recordAnalysis(AnalysisOutcome(segmenter: segmenter.label, parametersJson: json, softwareVersion: softwareVersion,
                                                     particles: result.particles, analysisSeconds: result.seconds, totalSeconds: total),
                                     imageId: image.id!, facts: facts, at: now())
            // the image's pictures go to the sample's report folder now, so closing is quick
            if let sample = try store.sample(id: image.sampleId), let seg = result.segmentation, let analysed = result.result {
                do {
                    let dir = try openReportDirectory(configuration: configuration, sample: sample, images: true)
                    try SampleReport.writeImagePictures(stem: pictureStem(path: image.path, frame: image.frame, frames: frames.count), image: frame.image,
                                                        segmentation: seg, result: analysed, pixelSizeNm: (pixelSize.x * pixelSize.y).squareRoot(),
                                                        annotations: result.exclude, to: dir)
                } catch {
                    try? store.logEvent(level: "warning", message: "pictures of \(image.path) not written: \(error)", sampleId: image.sampleId, imageId: image.id)
                }
            }
            return .analysed(particles: result.particles.count)
        } catch let problem as ProcessingProblem {
            try store.recordProblem(imageId: image.id!, state: .failed, error: problem.message, at: now())
            try store.logEvent(level: "error", message: "\(image.path): \(problem.message)", sampleId: image.sampleId, imageId: image.id)
            return .failed(problem.message)
        } catch let error as DMError {
            try store.recordProblem(imageId: image.id!, state: .failed, error: error.description, at: now())
            try store.logEvent(level: "error", message: "\(image.path): \(error)", sampleId: image.sampleId, imageId: image.id)
            return .failed(error.description)
        }
    }
}

struct ProcessingProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
