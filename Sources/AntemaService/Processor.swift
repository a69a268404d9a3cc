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
    /// `stage` is told each step as it begins (for `antemactl status`).
    public func process(_ image: ImageRecord, at now: @Sendable () -> Date = { Date() }, stage: (Activity.Stage) -> Void = { _ in }) throws -> Outcome {
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
            let opened = configuration.frameLoader.open(image.path, dmBytes: bytes)
            guard image.frame < opened.frames.count else {
                throw ProcessingProblem(opened.problems.first?.message ?? "frame \(image.frame) is not in the file")
            }
            let source = opened.frames[image.frame]
            let frame: InputFrame
            do { frame = try source.load() } catch let problem as InputProblem { throw ProcessingProblem(problem.message) }
            let settings = configuration.runSettings(softwareVersion: softwareVersion, segmenter: segmenter)
            stage(.analysis)
            let result: FrameOutcome
            do { result = try segmenter.analyze(frame, settings: settings) } catch {
                throw ProcessingProblem("segmentation failed: \(error)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = String(decoding: try encoder.encode(settings), as: UTF8.self)
            var facts = ImageFacts(widthPx: source.widthPx, heightPx: source.heightPx, pixelSizeXNm: frame.pixelSize?.x, pixelSizeYNm: frame.pixelSize?.y)
            facts.acquisitionDate = source.metadata?.acquisitionDate
            facts.acquisitionTime = source.metadata?.acquisitionTime
            facts.microscope = source.metadata?.microscope
            facts.voltageV = source.metadata?.voltageV
            facts.indicatedMagnification = source.metadata?.indicatedMagnification
            facts.exposureS = source.metadata?.exposureSeconds
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            stage(.storing)
            let model = try? ModelProvenance.of(segmenter)
            try store.recordAnalysis(AnalysisOutcome(segmenter: segmenter.label, parametersJson: json, softwareVersion: softwareVersion,
                                                     particles: result.particles, modelName: model?.name, modelVersion: model?.version,
                                                     modelSha256: model?.sha256, analysisSeconds: result.seconds, totalSeconds: total,
                                                     networkScale: result.networkInputScale, droppedUnsureCount: result.droppedUnsure,
                                                     droppedDebrisCount: result.droppedDebris),
                                     imageId: image.id!, facts: facts, at: now())
            // the image's pictures go to the sample's report folder now, so closing is quick
            stage(.pictures)
            if let sample = try store.sample(id: image.sampleId), let seg = result.segmentation, let analysed = result.result {
                do {
                    let dir = try openReportDirectory(configuration: configuration, sample: sample, images: true)
                    try SampleReport.writeImagePictures(stem: pictureStem(path: image.path, frame: image.frame, frames: source.frameCount), image: frame.image,
                                                        segmentation: seg, result: analysed, pixelSizeNm: frame.pixelSize?.geometricMeanNm,
                                                        annotations: result.exclude, to: dir)
                } catch {
                    try? store.logEvent(level: "warning", message: "pictures of \(image.path) not written: \(error)", sampleId: image.sampleId, imageId: image.id)
                }
            }
            for warning in result.warnings {
                try? store.logEvent(level: "warning", message: "\(image.path): \(warning)", sampleId: image.sampleId, imageId: image.id)
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
