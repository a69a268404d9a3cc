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
    let report = try SafeFiles.openDirectory(dir, base: base, create: true)
    return images ? try report.subdirectory("images", create: true) : report
}

/// The stem of an image's pictures: the file name without extension, and the frame for stacks.
public func pictureStem(path: String, frame: Int, frames: Int) -> String {
    let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return frames > 1 ? "\(stem)_frame\(frame)" : stem
}

extension AntemaStore {
    public func sample(id: Int64) throws -> SampleRecord? {
        try writer.read { db in try SampleRecord.fetchOne(db, key: id) }
    }

    /// Everything the report of a sample shows.
    public func reportInput(sampleId: Int64) throws -> SampleReportInput {
        try writer.read { db in
            guard let s = try SampleRecord.fetchOne(db, key: sampleId) else { throw StoreError.notFound("sample \(sampleId)") }
            let images = try Row.fetchAll(db, sql: """
                SELECT i.path, i.frame, i.width_px, i.height_px, i.pixel_size_x_nm, i.pixel_size_y_nm, i.state, i.error,
                       a.particle_count, a.total_seconds,
                       (SELECT AVG(p.equivalent_diameter_nm) FROM particle p WHERE p.analysis_id = a.id) AS mean_d
                FROM image i LEFT JOIN analysis a ON a.image_id = i.id AND a.is_current = 1
                WHERE i.sample_id = ? AND i.superseded_by IS NULL ORDER BY i.path, i.frame
                """, arguments: [sampleId]).map { r in
                SampleReportInput.Image(path: r["path"], frame: r["frame"], widthPx: r["width_px"], heightPx: r["height_px"],
                                        pixelSizeXNm: r["pixel_size_x_nm"], pixelSizeYNm: r["pixel_size_y_nm"], particleCount: r["particle_count"],
                                        meanEquivalentDiameterNm: r["mean_d"], state: r["state"], error: r["error"], seconds: r["total_seconds"])
            }
            let particles = try Row.fetchAll(db, sql: """
                SELECT image_path, frame, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm,
                       feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px,
                       bbox_height_px, separated, overlap_flag, confidence
                FROM current_particle WHERE sample_id = ? ORDER BY image_path, frame, particle_index
                """, arguments: [sampleId]).map { r in
                let x: Int = r["bbox_x_px"], y: Int = r["bbox_y_px"], w: Int = r["bbox_width_px"], h: Int = r["bbox_height_px"]
                return SampleReportInput.Particle(imagePath: r["image_path"], frame: r["frame"], index: r["particle_index"], m: ParticleMeasurement(
                    areaPx: r["area_px"], areaNm2: r["area_nm2"], equivalentDiameterNm: r["equivalent_diameter_nm"], perimeterNm: r["perimeter_nm"],
                    circularity: r["circularity"], feretMinNm: r["feret_min_nm"], feretMaxNm: r["feret_max_nm"], aspectRatio: r["aspect_ratio"],
                    convexity: r["convexity"], solidity: r["solidity"], centroidXPx: r["centroid_x_px"], centroidYPx: r["centroid_y_px"],
                    box: BoundingBox(minRow: y, minCol: x, maxRow: y + h - 1, maxCol: x + w - 1), separated: r["separated"], overlapFlag: r["overlap_flag"],
                    confidence: r["confidence"]))
            }
            let analysis = try Row.fetchOne(db, sql: """
                SELECT a.segmenter, a.parameters_json FROM analysis a JOIN image i ON i.id = a.image_id
                WHERE i.sample_id = ? AND a.is_current = 1 ORDER BY a.created_at DESC LIMIT 1
                """, arguments: [sampleId])
            return SampleReportInput(sample: s.name, folder: s.folder, openedAt: s.openedAt, lastImageAt: s.lastImageAt, closedAt: s.closedAt,
                                     segmenter: analysis?["segmenter"] ?? "", parametersJson: analysis?["parameters_json"] ?? "{}",
                                     images: images, particles: particles)
        }
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

    /// Returns the report folder.
    @discardableResult
    public func write(sampleId: Int64, to directory: String? = nil, pictures: Bool) throws -> String {
        guard let sample = try store.sample(id: sampleId) else { throw StoreError.notFound("sample \(sampleId)") }
        let folder = try directory.map { try SafeFiles.openUserDirectory($0, create: true) } ?? openReportDirectory(configuration: configuration, sample: sample)
        let input = try store.reportInput(sampleId: sampleId)
        try SampleReport.write(input, to: folder)
        if pictures {
            let segmenter = try self.segmenter ?? configuration.makeSegmenter()
            let images = try folder.subdirectory("images", create: true)
            for image in input.images where image.state == "done" {
                try? regeneratePictures(path: image.path, frame: image.frame, segmenter: segmenter, to: images)
            }
        }
        return folder.path
    }

    /// Re-reads one frame and writes its pictures (the analysis is deterministic for the same
    /// file and parameters).
    public func regeneratePictures(path: String, frame: Int, segmenter: Segmenter, to directory: SafeFiles.Directory) throws {
        let bytes = try SafeFiles.readFile(path, base: configuration.watchRoot(of: path), maxBytes: configuration.watch.maxFileBytes)
        let frames = try Ingest.micrographFrames(DMReader.parse(bytes))
        guard frame < frames.count else { return }
        let (dm, z) = frames[frame]
        guard let pixelSize = dm.pixelSizeNm else { return }
        let settings = configuration.runSettings(softwareVersion: antemaVersion, segmenter: segmenter)
        let input = InputFrame(path: path, frame: frame, image: GrayImage(width: dm.width, height: dm.height, pixels: try dm.floatFrame(z)), pixelSize: pixelSize)
        let outcome = try segmenter.analyze(input, settings: settings)
        guard let seg = outcome.segmentation, let result = outcome.result else { return }
        try SampleReport.writeImagePictures(stem: pictureStem(path: path, frame: frame, frames: frames.count), image: input.image, segmentation: seg,
                                            result: result, pixelSizeNm: (pixelSize.x * pixelSize.y).squareRoot(), annotations: outcome.exclude, to: directory)
    }
}
