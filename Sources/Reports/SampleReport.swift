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
        /// The factor the frame was resampled by before the network; nil without a network.
        public var networkScale: Double?
        /// A network's particles dropped below the minimum confidence and as debris; nil without
        /// a network (and for analyses recorded before the database kept them).
        public var droppedUnsure: Int?
        public var droppedDebris: Int?
        public init(path: String, frame: Int, widthPx: Int?, heightPx: Int?, pixelSizeXNm: Double?, pixelSizeYNm: Double?, particleCount: Int?,
                    state: String, error: String?, seconds: Double?, networkScale: Double? = nil, droppedUnsure: Int? = nil, droppedDebris: Int? = nil) {
            self.path = path; self.frame = frame; self.widthPx = widthPx; self.heightPx = heightPx; self.pixelSizeXNm = pixelSizeXNm
            self.pixelSizeYNm = pixelSizeYNm; self.particleCount = particleCount
            self.state = state; self.error = error; self.seconds = seconds; self.networkScale = networkScale
            self.droppedUnsure = droppedUnsure; self.droppedDebris = droppedDebris
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
    /// The instrument whose antemad analysed the sample (nil for `antemactl analyze`).
    public var instrument: String? = nil

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
    /// Sizes: summarised with a log-normal fit as well.
    static let sizeMeasurements: Set<String> = ["equivalent_diameter_nm", "feret_max_nm", "feret_min_nm", "area_nm2", "perimeter_nm",
                                                "equivalent_diameter_px", "feret_max_px", "feret_min_px", "perimeter_px"]
    /// The histograms of a report, in nm (over the particles of calibrated images) when it has
    /// any, else in px (no image had a calibration).
    static func histogramMeasurements(unit: String) -> [(String, String, String)] {
        [("equivalent_diameter_\(unit)", "Equivalent diameter", unit), ("feret_max_\(unit)", "Max. Feret diameter", unit), ("circularity", "Circularity", "")]
    }

    /// The length unit of a report's size statistics: nm when a particle was measured in nm,
    /// px when none was (no image had a calibration).
    static func lengthUnit(_ particles: [SampleReportInput.Particle]) -> String {
        particles.isEmpty || particles.contains { $0.m.isCalibrated } ? "nm" : "px"
    }


    /// The particle CSV's header: where the particle is, then the catalog's columns.
    public static let particleColumns = ["image", "frame", "particle"] + MeasurementCatalog.particleColumns.map(\.column)
    /// The image CSV's header.
    public static let imageColumns = [
        "image", "frame", "width_px", "height_px", "pixel_size_x_nm", "pixel_size_y_nm", "network_scale", "state", "particles", "separated",
        "dropped_unsure", "dropped_debris",
        "mean_equivalent_diameter_nm", "sd_equivalent_diameter_nm", "mean_equivalent_diameter_px", "sd_equivalent_diameter_px", "seconds", "error",
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
            let stats = Statistics.meanAndSD(particles.compactMap(\.m.equivalentDiameterNm))
            let statsPx = Statistics.meanAndSD(particles.map(\.m.equivalentDiameterPx))
            t.append([i.path, String(i.frame), i.widthPx.map(String.init) ?? "", i.heightPx.map(String.init) ?? "", CSVTable.number(i.pixelSizeXNm),
                      CSVTable.number(i.pixelSizeYNm), CSVTable.number(i.networkScale), i.state, done ? String(i.particleCount ?? particles.count) : "",
                      done ? String(particles.filter(\.m.separated).count) : "",
                      done ? i.droppedUnsure.map(String.init) ?? "" : "", done ? i.droppedDebris.map(String.init) ?? "" : "",
                      CSVTable.number(stats?.mean), CSVTable.number(stats?.sd),
                      CSVTable.number(statsPx?.mean), CSVTable.number(statsPx?.sd),
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
        let values = { (m: ParticleColumn) in input.particles.compactMap { m.value($0.m).double } }
        let unit = lengthUnit(input.particles)
        let uncalibrated = input.particles.filter { !$0.m.isCalibrated }.count
        // the statistics shown: the px lengths only when some particle has no calibration (over
        // several pixel sizes they mean little), the nm ones only when some particle has one
        let shown = MeasurementCatalog.summarised.filter { m in
            let px = m.column.hasSuffix("_px"), nm = m.column.hasSuffix("_nm") || m.column.hasSuffix("_nm2")
            return (!px || uncalibrated > 0) && (!nm || unit == "nm")
        }
        let stats = shown.map { m in (m, Summary(values(m))) }
        let fits = Dictionary(uniqueKeysWithValues: shown.map { ($0.column, sizeMeasurements.contains($0.column) ? SizeStatistics.logNormal(values($0)) : nil) })
        // histograms: PNG (300 dpi), SVG and PDF
        for (column, title, unit) in histogramMeasurements(unit: unit) {
            let m = MeasurementCatalog.column(column)!
            let figure = Charts.histogram(values(m), title: title, unit: unit, fit: sizeMeasurements.contains(column))
            for format in FigureFormat.allCases {
                try put("histogram_\(column).\(format.rawValue)", Data(try figure.render(format)))
            }
        }
        // CSV
        try put("\(base)_particles.csv", Data(particleTable(input.particles).text.utf8))
        let imagesCSV = imageTable(input)
        try put("\(base)_images.csv", Data(imagesCSV.text.utf8))
        var summaryCSV = CSVTable(header: ["measurement", "n", "mean", "sd", "min", "p10", "median", "p90", "max", "geometric_mean", "geometric_mean_ci95_low",
                                           "geometric_mean_ci95_high", "geometric_sd", "geometric_sd_ci95_low", "geometric_sd_ci95_high"])
        for (m, s) in stats {
            let f = fits[m.column] ?? nil
            summaryCSV.append([m.column, String(s.n)] + [s.mean, s.sd, s.min, s.p10, s.median, s.p90, s.max].map(CSVTable.number)
                              + [f?.geometricMean, f?.geometricMeanCI95.low, f?.geometricMeanCI95.high, f?.geometricSD, f?.geometricSDCI95.low,
                                 f?.geometricSDCI95.high].map(CSVTable.number))
        }
        try put("\(base)_summary.csv", Data(summaryCSV.text.utf8))
        // workbook
        let pixelSizes = Set(input.images.compactMap { $0.pixelSizeXNm.map(CSVTable.number) }).sorted()
        var summary: [[Cell]] = [[.text("Sample"), .text(input.sample)],
                                 [.text("Folder"), .text(input.folder)],
                                 [.text("First image (UTC)"), .date(input.openedAt)],
                                 [.text("Last image (UTC)"), input.lastImageAt.map { .date($0) } ?? .empty],
                                 [.text("Closed (UTC)"), input.closedAt.map { .date($0) } ?? .empty],
                                 [.text("Instrument"), input.instrument.map { .text($0) } ?? .empty],
                                 [.text("Images"), .int(input.images.count)],
                                 [.text("Images analysed"), .int(input.images.filter { $0.state == "done" }.count)],
                                 [.text("Particles"), .int(input.particles.count)],
                                 [.text("Particles measured in pixels only (no calibration)"), .int(uncalibrated)],
                                 [.text("Pixel sizes [nm]"), .text((pixelSizes + (uncalibrated > 0 || input.images.contains {
                                     $0.state == "done" && $0.pixelSizeXNm == nil } ? ["none (measured in pixels)"] : [])).joined(separator: ", "))],
                                 [.text("Segmenter"), .text(input.segmenter)],
                                 [.text("Parameters"), .text(input.parametersJson)],
                                 [.empty]]
        summary.append(["Measurement", "n", "mean", "standard deviation", "min", "p10", "median", "p90", "max", "geometric mean (log-normal fit)",
                        "GM 95 % CI low", "GM 95 % CI high", "geometric SD", "GSD 95 % CI low", "GSD 95 % CI high"].map { .text($0) })
        for (m, s) in stats {
            let f = fits[m.column] ?? nil
            summary.append([.text(m.header), .int(s.n), .num(s.mean), .num(s.sd), .num(s.min), .num(s.p10), .num(s.median), .num(s.p90), .num(s.max),
                            .num(f?.geometricMean), .num(f?.geometricMeanCI95.low), .num(f?.geometricMeanCI95.high), .num(f?.geometricSD),
                            .num(f?.geometricSDCI95.low), .num(f?.geometricSDCI95.high)])
        }
        var summarySheet = Worksheet(name: "Summary", rows: summary)
        summarySheet.freezeHeader = false
        summarySheet.autofilter = false
        summarySheet.columnWidths = [30, 10, 12, 18, 12, 12, 12, 12, 12, 16, 14, 14, 14, 14, 14]
        summarySheet.numberFormats = [nil, "0"] + Array(repeating: "0.0000", count: 13)
        // the histogram of the equivalent diameter as data and as a native chart
        let diameters = values(MeasurementCatalog.column("equivalent_diameter_\(unit)")!)
        let edges = SizeStatistics.binEdges(diameters)
        let counts = SizeStatistics.counts(diameters, edges: edges)
        var histogramRows: [[Cell]] = [["Bin from [\(unit)]", "Bin to [\(unit)]", "Bin", "Count"].map { .text($0) }]
        for (k, c) in counts.enumerated() {
            histogramRows.append([.num(edges[k]), .num(edges[k + 1]), .text(CSVTable.number(edges[k]) + "–" + CSVTable.number(edges[k + 1])), .int(c)])
        }
        var histogramSheet = Worksheet(name: "Histogram", rows: histogramRows)
        histogramSheet.numberFormats = ["0.000", "0.000", nil, "0"]
        histogramSheet.autofilter = false
        if !counts.isEmpty {
            summarySheet.charts = [ChartSpec(kind: .column, title: "Equivalent diameter (n = \(diameters.count))", xTitle: "Equivalent diameter (\(unit))",
                                             yTitle: "Count", dataSheet: "Histogram", firstRow: 1, lastRow: counts.count, categoryColumn: 2, valueColumn: 3,
                                             anchorRow: summary.count + 2, anchorColumn: 0)]
        }
        var particleRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Particle")] + MeasurementCatalog.particleColumns.map { .text($0.header) }]
        for p in input.particles {
            particleRows.append([.text((p.imagePath as NSString).lastPathComponent), .int(p.frame), .int(p.index)] + MeasurementCatalog.values(p.m).map(cell))
        }
        var particleSheet = Worksheet(name: "Particles", rows: particleRows)
        particleSheet.numberFormats = [nil, "0", "0"] + MeasurementCatalog.particleColumns.map { $0.decimals == 0 ? "0" : "0." + String(repeating: "0", count: $0.decimals) }
        let byImage = Dictionary(grouping: input.particles) { ImageKey(path: $0.imagePath, frame: $0.frame) }
        let meanDiameter = byImage.compactMapValues { Statistics.meanAndSD($0.compactMap(\.m.equivalentDiameterNm))?.mean }
        let meanDiameterPx = byImage.compactMapValues { Statistics.meanAndSD($0.map(\.m.equivalentDiameterPx))?.mean }
        var imageRows: [[Cell]] = [[.text("Image"), .text("Frame"), .text("Pixel size x [nm]"), .text("Pixel size y [nm]"), .text("Width [px]"),
                                    .text("Height [px]"), .text("Particles"), .text("Dropped, unsure"), .text("Dropped as debris"), .text("Mean equivalent diameter [nm]"), .text("Mean equivalent diameter [px]"),
                                    .text("State"), .text("Error"), .text("Processing time [s]"), .text("Network scale"), .text("Path")]]
        for i in input.images {
            let key = ImageKey(path: i.path, frame: i.frame)
            imageRows.append([.text((i.path as NSString).lastPathComponent), .int(i.frame), .num(i.pixelSizeXNm), .num(i.pixelSizeYNm), .int(i.widthPx),
                              .int(i.heightPx), .int(i.particleCount), .int(i.droppedUnsure), .int(i.droppedDebris), .num(meanDiameter[key]), .num(meanDiameterPx[key]), .text(i.state), .text(i.error ?? ""),
                              .num(i.seconds), .num(i.networkScale), .text(i.path)])
        }
        var imageSheet = Worksheet(name: "Images", rows: imageRows)
        imageSheet.numberFormats = [nil, "0", "0.0000000", "0.0000000", "0", "0", "0", "0", "0", "0.000", "0.000", nil, nil, "0.00", "0.000", nil]
        let workbook = try XLSXWriter.data([summarySheet, particleSheet, imageSheet, histogramSheet])
        try put("\(base).xlsx", workbook)
        var readme = """
            antema report for sample \(input.sample)
            folder: \(input.folder)\(input.instrument.map { "\ninstrument: \($0)" } ?? "")
            images: \(input.images.count), particles: \(input.particles.count)

            \(base).xlsx                  workbook: Summary (statistics, log-normal fits, a native histogram chart),
                                         Particles, Images, Histogram (the chart's bins)
            \(base)_particles.csv         one row per particle (columns as in the antema database, units in the names)
            \(base)_images.csv            one row per image (state, error, pixel size, timing)
            \(base)_summary.csv           n, mean, sd (N-1), min, p10, median, p90, max per measurement; for sizes the
                                         log-normal fit: geometric mean and geometric sd with 95 % confidence intervals
            histogram_*.png/.svg/.pdf    size and shape distributions (PNG at 300 dpi; Freedman-Diaconis bins;
                                         sizes with their log-normal fit)
            images/                      per image: <name>_mask.png (the segmentation, 255 = particle, before
                                         clean-up), <name>_overlay.png (the segmentation over the micrograph),
                                         <name>_particles.png (particles outlined and numbered as in the workbook;
                                         separated purple, kept-whole overlaps orange, border particles grey and
                                         excluded; <name>_particles.svg keeps every number, zoom in),
                                         <name>_micrograph.png (scale bar)

            """
        if uncalibrated > 0 {
            readme += """
                \(uncalibrated) of the particles come from images without a calibration: they are measured in pixels only
                (the _px columns; their nm columns are empty)\(unit == "nm" ? " and are not in the nm statistics and histograms" : "").

                """
        }
        readme += "Statistics of the equivalent diameter\(unit == "px" ? " in pixels (no image had a calibration)" : ""): "
        if let s = stats.first(where: { $0.0.column == "equivalent_diameter_\(unit)" })?.1, let mean = s.mean {
            readme += "n = \(s.n), mean ± sd = \(SizeStatistics.meanSD(mean, s.sd ?? 0, unit: unit))"
            if let f = fits["equivalent_diameter_\(unit)"] ?? nil {
                readme += ", log-normal GM = \(SizeStatistics.withInterval(f.geometricMean, f.geometricMeanCI95.low, f.geometricMeanCI95.high)) \(unit), GSD = "
                    + SizeStatistics.withInterval(f.geometricSD, f.geometricSDCI95.low, f.geometricSDCI95.high) + " (95 % CI)"
            }
            readme += "\n"
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
        public func fileName(stem: String, extension ext: String = "png") -> String { "\(safeName(stem))_\(rawValue).\(ext)" }
    }

    /// Writes one image's mask and (with `pictures`) its three pictures into a folder the
    /// invoking user named.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double?, annotations: BinaryImage? = nil, pictures: Bool = true, to directory: String) throws {
        try writeImagePictures(stem: stem, image: image, segmentation: segmentation, result: result, pixelSizeNm: pixelSizeNm,
                               annotations: annotations, pictures: pictures, to: SafeFiles.openUserDirectory(directory, create: true))
    }

    /// Writes one image's mask and (with `pictures`) its three pictures into an open folder
    /// (atomically, replacing). `annotations`: the micrograph's burned-in annotations (and
    /// excluded regions), which antema's own scale bar does not cover. `pixelSizeNm` nil: no
    /// calibration, no scale bar.
    public static func writeImagePictures(stem: String, image: GrayImage, segmentation: BinaryImage, result: ParticleAnalysisResult,
                                          pixelSizeNm: Double?, annotations: BinaryImage? = nil, pictures: Bool = true,
                                          to directory: SafeFiles.Directory) throws {
        let mask = try PNGFile.encode(gray8: segmentation.pixels.map { $0 ? 255 : 0 }, width: segmentation.width, height: segmentation.height)
        try directory.write(Data(mask), to: PictureKind.mask.fileName(stem: stem))
        guard pictures else { return }
        let particles = Array(zip(result.regions, result.particles))
        let drawn: [(PictureKind, Figure)] = [
            (.micrograph, Pictures.micrograph(image, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            (.overlay, Pictures.segmentationOverlay(image, mask: segmentation, pixelSizeNm: pixelSizeNm, annotations: annotations)),
            (.particles, Pictures.particleMap(image, particles: particles, borderExcluded: result.borderRegions, pixelSizeNm: pixelSizeNm,
                                                 annotations: annotations, dropped: result.droppedRegions)),
        ]
        for (kind, figure) in drawn {
            try directory.write(figure.picturePNG(), to: kind.fileName(stem: stem))
        }
        // the particle map as SVG over the micrograph picture: every number, zoomable
        let svg = Pictures.particleMapSVG(width: image.width, height: image.height, micrographFile: PictureKind.micrograph.fileName(stem: stem),
                                          particles: particles, borderExcluded: result.borderRegions, dropped: result.droppedRegions)
        try directory.write(Array(svg.utf8), to: PictureKind.particles.fileName(stem: stem, extension: "svg"))
    }
}

#if canImport(Glibc)
import Glibc
#endif
