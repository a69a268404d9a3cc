import Analysis
import Foundation
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
        public var meanEquivalentDiameterNm: Double?
        public var state: String
        public var error: String?
        public var seconds: Double?
        public init(path: String, frame: Int, widthPx: Int?, heightPx: Int?, pixelSizeXNm: Double?, pixelSizeYNm: Double?, particleCount: Int?,
                    meanEquivalentDiameterNm: Double?, state: String, error: String?, seconds: Double?) {
            self.path = path; self.frame = frame; self.widthPx = widthPx; self.heightPx = heightPx; self.pixelSizeXNm = pixelSizeXNm
            self.pixelSizeYNm = pixelSizeYNm; self.particleCount = particleCount; self.meanEquivalentDiameterNm = meanEquivalentDiameterNm
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

/// Writes a sample's workbook, CSV files, histograms and README into its report folder. Each
/// file is written under a temporary name and renamed into place, so a reader never sees half a
/// file, and writing again replaces the same files.
public enum SampleReport {
    /// The measurements, their column names (as in the database) and their workbook headers.
    public static let measurements: [(column: String, header: String, value: @Sendable (ParticleMeasurement) -> Double)] = [
        ("area_nm2", "Area [nm²]", { $0.areaNm2 }),
        ("equivalent_diameter_nm", "Equivalent diameter [nm]", { $0.equivalentDiameterNm }),
        ("perimeter_nm", "Perimeter [nm]", { $0.perimeterNm }),
        ("circularity", "Circularity [-]", { $0.circularity }),
        ("feret_min_nm", "Min. Feret diameter [nm]", { $0.feretMinNm }),
        ("feret_max_nm", "Max. Feret diameter [nm]", { $0.feretMaxNm }),
        ("aspect_ratio", "Aspect ratio [-]", { $0.aspectRatio }),
        ("convexity", "Convexity [-]", { $0.convexity }),
        ("solidity", "Solidity [-]", { $0.solidity }),
    ]

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
        let stats = measurements.map { m in (m, Summary(input.particles.map { m.value($0.m) })) }
        let date = ISO8601DateFormatter()
        // histograms
        var histograms: [(String, [UInt8])] = []
        for (column, title, unit) in [("equivalent_diameter_nm", "Equivalent diameter", "nm"), ("feret_max_nm", "Max. Feret diameter", "nm"), ("circularity", "Circularity", "")] {
            let m = measurements.first { $0.column == column }!
            let png = try Pictures.histogram(input.particles.map { m.value($0.m) }, title: title, unit: unit).pngData()
            histograms.append((column, png))
            try put("histogram_\(column).png", Data(png))
        }
        // CSV
        var particlesCSV = CSVTable(header: ["image", "frame", "particle"] + measurements.map(\.column) + [
            "area_px", "centroid_x_px", "centroid_y_px", "bbox_x_px", "bbox_y_px", "bbox_width_px", "bbox_height_px", "separated", "overlap_flag", "confidence"])
        for p in input.particles {
            particlesCSV.append([p.imagePath, String(p.frame), String(p.index)] + measurements.map { CSVTable.number($0.value(p.m)) } + [
                String(p.m.areaPx), CSVTable.number(p.m.centroidXPx), CSVTable.number(p.m.centroidYPx), String(p.m.box.minCol), String(p.m.box.minRow),
                String(p.m.box.width), String(p.m.box.height), p.m.separated ? "1" : "0", p.m.overlapFlag ? "1" : "0", CSVTable.number(p.m.confidence)])
        }
        try put("\(base)_particles.csv", Data(particlesCSV.text.utf8))
        var imagesCSV = CSVTable(header: ["image", "frame", "width_px", "height_px", "pixel_size_x_nm", "pixel_size_y_nm", "particles",
                                          "mean_equivalent_diameter_nm", "state", "error", "seconds"])
        for i in input.images {
            imagesCSV.append([i.path, String(i.frame), i.widthPx.map(String.init) ?? "", i.heightPx.map(String.init) ?? "", CSVTable.number(i.pixelSizeXNm),
                              CSVTable.number(i.pixelSizeYNm), i.particleCount.map(String.init) ?? "", CSVTable.number(i.meanEquivalentDiameterNm),
                              i.state, i.error ?? "", CSVTable.number(i.seconds)])
        }
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
        var particleRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Particle")] + measurements.map { .text($0.header) } + [
            .text("Area [px]"), .text("Centroid x [px]"), .text("Centroid y [px]"), .text("Bounding box x [px]"), .text("Bounding box y [px]"),
            .text("Bounding box width [px]"), .text("Bounding box height [px]"), .text("Separated (1 = yes)"), .text("Overlap kept whole (1 = yes)"),
            .text("Confidence (mean network probability)")]]
        for p in input.particles {
            particleRows.append([.text((p.imagePath as NSString).lastPathComponent), .int(p.frame), .int(p.index)] + measurements.map { .num($0.value(p.m)) } + [
                .int(p.m.areaPx), .num(p.m.centroidXPx), .num(p.m.centroidYPx), .int(p.m.box.minCol), .int(p.m.box.minRow), .int(p.m.box.width),
                .int(p.m.box.height), .int(p.m.separated ? 1 : 0), .int(p.m.overlapFlag ? 1 : 0), p.m.confidence.map { .num($0) } ?? .empty])
        }
        var imageRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Pixel size x [nm]"), .text("Pixel size y [nm]"), .text("Width [px]"),
                                    .text("Height [px]"), .text("Particles"), .text("Mean equivalent diameter [nm]"), .text("State"), .text("Error"),
                                    .text("Processing time [s]"), .text("Path")]]
        for i in input.images {
            imageRows.append([.text((i.path as NSString).lastPathComponent), .int(i.frame), .num(i.pixelSizeXNm), .num(i.pixelSizeYNm), .int(i.widthPx),
                              .int(i.heightPx), .int(i.particleCount), .num(i.meanEquivalentDiameterNm), .text(i.state), .text(i.error ?? ""),
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
            images/                      per image: <name>_micrograph.png (scale bar), <name>_segmentation.png
                                         (segmentation overlay), <name>_particles.png (particles outlined and
                                         numbered as in the workbook; separated purple, kept-whole overlaps orange,
                                         border particles grey and excluded)

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

    /// Writes the three pictures of one image into a folder the invoking user named.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double, annotations: BinaryImage? = nil, to directory: String) throws {
        try writeImagePictures(stem: stem, image: image, segmentation: segmentation, result: result, pixelSizeNm: pixelSizeNm,
                               annotations: annotations, to: SafeFiles.openUserDirectory(directory, create: true))
    }

    /// Writes the three pictures of one image into an open folder (atomically, replacing).
    /// `annotations`: the micrograph's burned-in annotations (and excluded regions), which
    /// antema's own scale bar does not cover.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double, annotations: BinaryImage? = nil, to directory: SafeFiles.Directory) throws {
        let name = safeName(stem)
        let pictures: [(String, Canvas)] = [
            ("\(name)_micrograph.png", Pictures.micrograph(image, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            ("\(name)_segmentation.png", Pictures.segmentationOverlay(image, mask: segmentation, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            ("\(name)_particles.png", Pictures.particleMap(image, particles: Array(zip(result.regions, result.particles)), borderExcluded: result.borderRegions,
                                                           pixelSizeNm: pixelSizeNm, annotations: annotations)),
        ]
        for (file, canvas) in pictures {
            try directory.write(canvas.pngData(), to: file)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
