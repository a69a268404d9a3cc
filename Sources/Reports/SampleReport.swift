import Analysis
import Foundation
import ImageFiles
import Pipeline
import SafeFiles

/// Everything a sample's report shows, as plain values (the daemon fills it from the store).
public struct SampleReportInput: Sendable {
    public struct Image: Sendable {
        public var path: String
        public var frame: Int
        public var widthPx: Int?
        public var heightPx: Int?
        public var pixelSizeXNm: Double?
        public var pixelSizeYNm: Double?
        public var particleCount: Int?
        public var state: String
        public var error: String?
        public var seconds: Double?
        public init(path: String, frame: Int, widthPx: Int?, heightPx: Int?, pixelSizeXNm: Double?, pixelSizeYNm: Double?, particleCount: Int?,
                    state: String, error: String?, seconds: Double?) {
            self.path = path; self.frame = frame; self.widthPx = widthPx; self.heightPx = heightPx; self.pixelSizeXNm = pixelSizeXNm
            self.pixelSizeYNm = pixelSizeYNm; self.particleCount = particleCount
            self.state = state; self.error = error; self.seconds = seconds
        }
    }
    public struct Particle: Sendable {
        public var imagePath: String
        public var frame: Int
        public var index: Int
        public var m: ParticleMeasurement
        public init(imagePath: String, frame: Int, index: Int, m: ParticleMeasurement) {
            self.imagePath = imagePath; self.frame = frame; self.index = index; self.m = m
        }
    }
    public var sample: String
    public var folder: String
    public var openedAt: Date
    public var lastImageAt: Date?
    public var closedAt: Date?
    public var segmenter: String
    public var parametersJson: String
    public var images: [Image]
    public var particles: [Particle]

    public init(sample: String, folder: String, openedAt: Date, lastImageAt: Date?, closedAt: Date?, segmenter: String, parametersJson: String,
                images: [Image], particles: [Particle]) {
        self.sample = sample; self.folder = folder; self.openedAt = openedAt; self.lastImageAt = lastImageAt; self.closedAt = closedAt
        self.segmenter = segmenter; self.parametersJson = parametersJson; self.images = images; self.particles = particles
    }
}

/// The stem of an image's file names: the file name without extension, and the frame for
/// files of several frames (`SampleReport.PictureKind` adds the kind).
public func pictureStem(path: String, frame: Int, frames: Int) -> String {
    let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    return frames > 1 ? "\(stem)_frame\(frame)" : stem
}

/// Writes a sample's workbook, CSV files, histograms and README into its report folder. Each
/// file is written under a temporary name and renamed into place, so a reader never sees half a
/// file, and writing again replaces the same files.
public enum SampleReport {
    /// The measurements summarised per sample (statistics, histograms), from the catalog.
    public static var measurements: [ParticleColumn] { MeasurementCatalog.summarised }

    /// The particle CSV's header: where the particle is, then the catalog's columns.
    public static let particleColumns = ["image", "frame", "particle"] + MeasurementCatalog.particleColumns.map(\.column)
    /// The image CSV's header.
    public static let imageColumns = [
        "image", "frame", "width_px", "height_px", "pixel_size_x_nm", "pixel_size_y_nm", "state", "particles", "separated",
        "mean_equivalent_diameter_nm", "sd_equivalent_diameter_nm", "seconds", "error",
    ]

    /// A catalog value as a CSV field (flags 0/1, nothing for a missing value).
    static func field(_ v: ParticleValue) -> String {
        switch v {
        case .integer(let i): String(i)
        case .real(let d): CSVTable.number(d)
        case .flag(let f): f ? "1" : "0"
        case .missing: ""
        }
    }

    /// A catalog value as a workbook cell.
    static func cell(_ v: ParticleValue) -> Cell {
        switch v {
        case .integer(let i): .int(i)
        case .real(let d): .num(d)
        case .flag(let f): .int(f ? 1 : 0)
        case .missing: .empty
        }
    }

    /// The particle table (one row per particle; x = column, y = row, 0-based; bounding boxes
    /// from their first pixel, width and height in pixels; flags 0/1).
    public static func particleTable(_ particles: [SampleReportInput.Particle]) -> CSVTable {
        var t = CSVTable(header: particleColumns)
        for p in particles {
            t.append([p.imagePath, String(p.frame), String(p.index)] + MeasurementCatalog.values(p.m).map(field))
        }
        return t
    }

    /// The image table: one row per image or frame, also those not analysed (state and error).
    public static func imageTable(_ input: SampleReportInput) -> CSVTable {
        var t = CSVTable(header: imageColumns)
        let byImage = Dictionary(grouping: input.particles) { ImageKey(path: $0.imagePath, frame: $0.frame) }
        for i in input.images {
            let particles = byImage[ImageKey(path: i.path, frame: i.frame)] ?? []
            let done = i.state == "done"
            let stats = Statistics.meanAndSD(particles.map(\.m.equivalentDiameterNm))
            t.append([i.path, String(i.frame), i.widthPx.map(String.init) ?? "", i.heightPx.map(String.init) ?? "", CSVTable.number(i.pixelSizeXNm),
                      CSVTable.number(i.pixelSizeYNm), i.state, done ? String(i.particleCount ?? particles.count) : "",
                      done ? String(particles.filter(\.m.separated).count) : "", CSVTable.number(stats?.mean), CSVTable.number(stats?.sd),
                      i.seconds.map { String(format: "%.3f", $0) } ?? "", i.error ?? ""])
        }
        return t
    }

    struct ImageKey: Hashable { var path: String; var frame: Int }

    /// Characters replaced in file names: the path separator, and what Windows refuses (report
    /// folders are often read over SMB), besides control and format characters.
    static let unsafeInFileNames: Set<Character> = ["/", "\\", ":", "*", "?", "\"", "<", ">", "|"]

    /// A name that is safe as a file name: every character kept except the path separator,
    /// characters Windows refuses (`\ : * ? " < > |`), control and format characters, which
    /// become `_`; no leading dot (no hidden file, no `..`), no trailing dot or space; at most
    /// 100 bytes of UTF-8 (file systems count bytes, 255 at most, and report files add a
    /// suffix). When this changes the name, 8 hexadecimal digits of the name's FNV-1a hash are
    /// appended, so that two names that differ only in replaced characters ("Au:1", "Au?1") or
    /// beyond the cut never share a report folder or file.
    public static func safeName(_ s: String) -> String {
        var out = String(s.unicodeScalars.map { u -> Character in
            let c = Character(u)
            let control = u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.properties.generalCategory == .format
            return control || unsafeInFileNames.contains(c) ? "_" : c
        })
        while out.hasPrefix(".") { out = "_" + out.dropFirst() }
        while out.hasSuffix(".") || out.hasSuffix(" ") { out = String(out.dropLast()) }
        var cut = ""
        for c in out {
            if cut.utf8.count + String(c).utf8.count > 100 { break }
            cut.append(c)
        }
        out = cut.trimmingCharacters(in: .whitespaces)
        if out.isEmpty { out = "sample" }
        if out != s { out += "-" + fnv1a(s) }
        return out
    }

    /// FNV-1a, 32 bits, of the UTF-8 bytes, as 8 hexadecimal digits.
    static func fnv1a(_ s: String) -> String {
        var h: UInt32 = 2166136261
        for b in s.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Writes the report into a folder the invoking user named (created if missing); returns the
    /// files written (names inside `directory`).
    @discardableResult
    public static func write(_ input: SampleReportInput, to directory: String) throws -> [String] {
        try write(input, to: SafeFiles.openUserDirectory(directory, create: true))
    }

    /// Writes the report into an open folder; every file goes through `SafeFiles.Directory.write`
    /// (a random temporary name created exclusively, renamed into place). Returns the files written.
    @discardableResult
    public static func write(_ input: SampleReportInput, to directory: SafeFiles.Directory) throws -> [String] {
        let base = safeName(input.sample)
        var written: [String] = []
        func put(_ name: String, _ data: Data) throws {
            try directory.write(data, to: name)
            written.append(name)
        }
        let stats = measurements.map { m in (m, Summary(input.particles.compactMap { m.value($0.m).double })) }
        let date = ISO8601DateFormatter()
        // histograms
        var histograms: [(String, [UInt8])] = []
        for (column, title, unit) in [("equivalent_diameter_nm", "Equivalent diameter", "nm"), ("feret_max_nm", "Max. Feret diameter", "nm"), ("circularity", "Circularity", "")] {
            let m = MeasurementCatalog.column(column)!
            let png = try Pictures.histogram(input.particles.compactMap { m.value($0.m).double }, title: title, unit: unit).pngData()
            histograms.append((column, png))
            try put("histogram_\(column).png", Data(png))
        }
        // CSV
        try put("\(base)_particles.csv", Data(particleTable(input.particles).text.utf8))
        let imagesCSV = imageTable(input)
        try put("\(base)_images.csv", Data(imagesCSV.text.utf8))
        var summaryCSV = CSVTable(header: ["measurement", "n", "mean", "sd", "min", "p10", "median", "p90", "max"])
        for (m, s) in stats {
            summaryCSV.append([m.column, String(s.n)] + [s.mean, s.sd, s.min, s.p10, s.median, s.p90, s.max].map(CSVTable.number))
        }
        try put("\(base)_summary.csv", Data(summaryCSV.text.utf8))
        // workbook
        let pixelSizes = Set(input.images.compactMap { $0.pixelSizeXNm.map { String(format: "%.6g", $0) } }).sorted()
        var summary: [[Cell]] = [[.text("Sample"), .text(input.sample)],
                                 [.text("Folder"), .text(input.folder)],
                                 [.text("First image"), .text(date.string(from: input.openedAt))],
                                 [.text("Last image"), .text(input.lastImageAt.map(date.string) ?? "")],
                                 [.text("Closed"), .text(input.closedAt.map(date.string) ?? "")],
                                 [.text("Images"), .int(input.images.count)],
                                 [.text("Images analysed"), .int(input.images.filter { $0.state == "done" }.count)],
                                 [.text("Particles"), .int(input.particles.count)],
                                 [.text("Pixel sizes [nm]"), .text(pixelSizes.joined(separator: ", "))],
                                 [.text("Segmenter"), .text(input.segmenter)],
                                 [.text("Parameters"), .text(input.parametersJson)],
                                 [.empty],
                                 [.text("Measurement"), .text("n"), .text("mean"), .text("standard deviation"), .text("min"), .text("p10"), .text("median"), .text("p90"), .text("max")]]
        for (m, s) in stats {
            summary.append([.text(m.header), .int(s.n), .num(s.mean), .num(s.sd), .num(s.min), .num(s.p10), .num(s.median), .num(s.p90), .num(s.max)])
        }
        var summarySheet = Worksheet(name: "Summary", rows: summary)
        summarySheet.freezeHeader = false
        summarySheet.columnWidths = [28, 14, 14, 18, 12, 12, 12, 12, 12]
        summarySheet.picture = (histograms[0].1, 0, summary.count + 2, 900, 560)
        var particleRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Particle")] + MeasurementCatalog.particleColumns.map { .text($0.header) }]
        for p in input.particles {
            particleRows.append([.text((p.imagePath as NSString).lastPathComponent), .int(p.frame), .int(p.index)] + MeasurementCatalog.values(p.m).map(cell))
        }
        let meanDiameter = Dictionary(grouping: input.particles) { ImageKey(path: $0.imagePath, frame: $0.frame) }
            .compactMapValues { Statistics.meanAndSD($0.map(\.m.equivalentDiameterNm))?.mean }
        var imageRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Pixel size x [nm]"), .text("Pixel size y [nm]"), .text("Width [px]"),
                                    .text("Height [px]"), .text("Particles"), .text("Mean equivalent diameter [nm]"), .text("State"), .text("Error"),
                                    .text("Processing time [s]"), .text("Path")]]
        for i in input.images {
            imageRows.append([.text((i.path as NSString).lastPathComponent), .int(i.frame), .num(i.pixelSizeXNm), .num(i.pixelSizeYNm), .int(i.widthPx),
                              .int(i.heightPx), .int(i.particleCount), .num(meanDiameter[ImageKey(path: i.path, frame: i.frame)]), .text(i.state), .text(i.error ?? ""),
                              .num(i.seconds), .text(i.path)])
        }
        let workbook = try XLSXWriter.data([summarySheet, Worksheet(name: "Particles", rows: particleRows), Worksheet(name: "Images", rows: imageRows)])
        try put("\(base).xlsx", workbook)
        var readme = """
            antema report for sample \(input.sample)
            folder: \(input.folder)
            images: \(input.images.count), particles: \(input.particles.count)

            \(base).xlsx                  workbook: Summary (statistics and histogram), Particles, Images
            \(base)_particles.csv         one row per particle (columns as in the antema database, units in the names)
            \(base)_images.csv            one row per image (state, error, pixel size, timing)
            \(base)_summary.csv           n, mean, sd (N-1), min, p10, median, p90, max per measurement
            histogram_*.png              size and shape distributions
            images/                      per image: <name>_mask.png (the segmentation, 255 = particle, before
                                         clean-up), <name>_overlay.png (the segmentation over the micrograph),
                                         <name>_particles.png (particles outlined and numbered as in the workbook;
                                         separated purple, kept-whole overlaps orange, border particles grey and
                                         excluded), <name>_micrograph.png (scale bar)

            """
        readme += "Statistics of the equivalent diameter: "
        if let s = stats.first(where: { $0.0.column == "equivalent_diameter_nm" })?.1, let mean = s.mean {
            readme += String(format: "n = %d, mean = %.4f nm, sd = %.4f nm\n", s.n, mean, s.sd ?? 0)
        } else {
            readme += "no particles\n"
        }
        try put("README.txt", Data(readme.utf8))
        return written
    }

    /// The files written per image, by kind: `<stem>_mask.png` is the segmentation itself (8-bit,
    /// 255 = particle, before clean-up; usable as a label for `training/finetune.py`),
    /// `<stem>_overlay.png` the segmentation drawn over the micrograph, `<stem>_particles.png`
    /// the particles outlined and numbered as in the tables, `<stem>_micrograph.png` the
    /// micrograph with a scale bar.
    public enum PictureKind: String, CaseIterable, Sendable {
        case micrograph, mask, overlay, particles
        public func fileName(stem: String) -> String { "\(safeName(stem))_\(rawValue).png" }
    }

    /// Writes one image's mask and (with `pictures`) its three pictures into a folder the
    /// invoking user named.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double, annotations: BinaryImage? = nil, pictures: Bool = true, to directory: String) throws {
        try writeImagePictures(stem: stem, image: image, segmentation: segmentation, result: result, pixelSizeNm: pixelSizeNm,
                               annotations: annotations, pictures: pictures, to: SafeFiles.openUserDirectory(directory, create: true))
    }

    /// Writes one image's mask and (with `pictures`) its three pictures into an open folder
    /// (atomically, replacing). `annotations`: the micrograph's burned-in annotations (and
    /// excluded regions), which antema's own scale bar does not cover.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double, annotations: BinaryImage? = nil, pictures: Bool = true,
                                          to directory: SafeFiles.Directory) throws {
        let mask = try PNGFile.encode(gray8: segmentation.pixels.map { $0 ? 255 : 0 }, width: segmentation.width, height: segmentation.height)
        try directory.write(Data(mask), to: PictureKind.mask.fileName(stem: stem))
        guard pictures else { return }
        let drawn: [(PictureKind, Canvas)] = [
            (.micrograph, Pictures.micrograph(image, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            (.overlay, Pictures.segmentationOverlay(image, mask: segmentation, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            (.particles, Pictures.particleMap(image, particles: Array(zip(result.regions, result.particles)), borderExcluded: result.borderRegions,
                                              pixelSizeNm: pixelSizeNm, annotations: annotations)),
        ]
        for (kind, canvas) in drawn {
            try directory.write(canvas.pngData(), to: kind.fileName(stem: stem))
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
