import Analysis
import Foundation
import GatanDM
import GRDB
import Pipeline
import Reports
import SafeFiles
import Store

/// Where a sample's reports go: `reports.directory` with `{sample_folder}` and `{sample}`
/// replaced (the sample name made safe for a file name).
public func reportDirectory(template: String, sample: SampleRecord) -> String {
    template.replacingOccurrences(of: "{sample_folder}", with: sample.folder)
        .replacingOccurrences(of: "{sample}", with: SampleReport.safeName(sample.name))
}

/// The folder below which a report folder is opened without following links: the watch root
/// holding it, or else the part of the template before its first placeholder (configured by the
/// administrator), or the folder itself for a template without placeholders.
public func reportBase(template: String, directory: String, roots: [String]) -> String {
    if let root = roots.filter({ SafeFiles.components(of: directory, below: $0) != nil }).max(by: { $0.count < $1.count }) {
        return root
    }
    guard let brace = template.firstIndex(of: "{") else { return directory }
    let fixed = String(template[..<brace])
    let base = fixed.hasSuffix("/") ? String(fixed.dropLast()) : (fixed as NSString).deletingLastPathComponent
    return base.isEmpty ? "/" : base
}

/// Opens (creating) a sample's report folder, or its `images` subfolder, refusing links below its base.
public func openReportDirectory(configuration: Configuration, sample: SampleRecord, images: Bool = false) throws -> SafeFiles.Directory {
    let dir = reportDirectory(template: configuration.reports.directory, sample: sample)
    let base = reportBase(template: configuration.reports.directory, directory: dir, roots: configuration.watch.roots)
    let report = try SafeFiles.openDirectory(dir, base: base, create: true).sharing(try configuration.reports.sharing())
    return images ? try report.subdirectory("images", create: true) : report
}

extension SampleReportInput {
    /// A sample's report from what the store holds.
    public init(_ c: SampleContents) {
        self.init(sample: c.sample.name, folder: c.sample.folder, openedAt: c.sample.openedAt, lastImageAt: c.sample.lastImageAt,
                  closedAt: c.sample.closedAt, segmenter: c.segmenter, parametersJson: c.parametersJson,
                  images: c.images.map { i in
                      SampleReportInput.Image(path: i.path, frame: i.frame, widthPx: i.widthPx, heightPx: i.heightPx, pixelSizeXNm: i.pixelSizeXNm,
                                              pixelSizeYNm: i.pixelSizeYNm, particleCount: i.particleCount, state: i.state, error: i.error, seconds: i.seconds,
                                              networkScale: i.networkScale, droppedUnsure: i.droppedUnsureCount, droppedDebris: i.droppedDebrisCount)
                  },
                  particles: c.particles.map { SampleReportInput.Particle(imagePath: $0.imagePath, frame: $0.frame, index: $0.index, m: $0.measurement) })
        instrument = c.sample.instrument
    }
}

/// Writes a sample's reports: the workbook, CSV files, histograms and README, and (with
/// `pictures`) every image's pictures, re-analysing the images from their files.
public struct ReportWriter: Sendable {
    public let store: AntemaStore
    public var configuration: Configuration
    /// For re-analysing images (pictures); built from the configuration when nil.
    public var segmenter: Segmenter?

    public init(store: AntemaStore, configuration: Configuration, segmenter: Segmenter? = nil) {
        self.store = store
        self.configuration = configuration
        self.segmenter = segmenter
    }

    /// The report folder, and the images whose pictures could not be made (each with the reason).
    public struct Written: Sendable {
        public var directory: String
        public var pictureProblems: [String]
    }

    @discardableResult
    public func write(sampleId: Int64, to directory: String? = nil, pictures: Bool) throws -> Written {
        guard let sample = try store.sample(id: sampleId) else { throw StoreError.notFound("sample \(sampleId)") }
        let folder = try directory.map { try SafeFiles.openUserDirectory($0, create: true) } ?? openReportDirectory(configuration: configuration, sample: sample)
        let input = SampleReportInput(try store.contents(sampleId: sampleId))
        try SampleReport.write(input, to: folder)
        var problems: [String] = []
        if pictures {
            let segmenter = try self.segmenter ?? configuration.makeSegmenter()
            let images = try folder.subdirectory("images", create: true)
            for image in input.images where image.state == "done" {
                do { try regeneratePictures(path: image.path, frame: image.frame, segmenter: segmenter, to: images) } catch {
                    problems.append("\(image.path) frame \(image.frame): pictures not written: \(error)")
                }
            }
        }
        return Written(directory: folder.path, pictureProblems: problems)
    }

    /// Re-reads one frame and writes its pictures (the analysis is deterministic for the same
    /// file and parameters).
    public func regeneratePictures(path: String, frame: Int, segmenter: Segmenter, to directory: SafeFiles.Directory) throws {
        let bytes = try SafeFiles.readFile(path, base: configuration.watchRoot(of: path), maxBytes: configuration.watch.maxFileBytes)
        let opened = configuration.frameLoader.open(path, dmBytes: bytes)
        guard frame < opened.frames.count else {
            throw InputProblem(path: path, frame: frame, status: .failed, message: opened.problems.first?.message ?? "frame \(frame) is not in the file")
        }
        let input = try opened.frames[frame].load()
        let settings = configuration.runSettings(softwareVersion: antemaVersion, segmenter: segmenter)
        let outcome = try segmenter.analyze(input, settings: settings)
        guard let seg = outcome.segmentation, let result = outcome.result else {
            throw InputProblem(path: path, frame: frame, status: .failed, message: "the analysis gave no segmentation")
        }
        try SampleReport.writeImagePictures(stem: pictureStem(path: path, frame: frame, frames: opened.frames[frame].frameCount), image: input.image,
                                            segmentation: seg, result: result, pixelSizeNm: input.pixelSize?.geometricMeanNm,
                                            annotations: outcome.exclude, to: directory)
    }
}
