import Analysis
import ArgumentParser
import Foundation
import GatanDM
import Inference
import Pipeline
import Reports
import SafeFiles

extension OverlapMode: ExpressibleByArgument {}
extension Contrast: ExpressibleByArgument {}

extension SegmenterKind: ExpressibleByArgument {}

/// The segmenter asked for: `--mask`, else `Segmenter.make` (`--model PATH`, else `--segmenter`).
func makeSegmenter(name: SegmenterKind, modelPath: String?, threshold: Double, contrast: Contrast, mask: Bool = false) throws -> Segmenter {
    if mask { return .mask }
    do { return try Segmenter.make(name, modelPath: modelPath, threshold: threshold, contrast: contrast) } catch {
        throw Failure(.unavailable, "\(error)")
    }
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segment micrographs and measure every particle.",
        discussion: """
            INPUT: DM3/DM4 files (pixel size from the file), 8/16-bit PNG or TIFF (pixel size from an \
            ImageJ calibration or --pixel-size), or folders (the supported files directly inside). A \
            3-D stack is analysed frame by frame. An image without a calibration (and no --pixel-size) \
            is analysed at its own pixels and measured in pixels: its particles' _px columns are \
            filled and their nm columns left empty, and the report's statistics and histograms are \
            in px when no image has a calibration.

            Writes the same files the daemon writes for a sample (NAME is --name, "analysis" by \
            default): NAME_particles.csv (one row per particle), NAME_images.csv (one row per image \
            or frame, with its state and error), NAME_summary.csv, NAME.xlsx, histograms, \
            README.txt, parameters.json (everything the run used), and per image in DIR/images: \
            <image>_mask.png (the segmentation, 255 = particle, before clean-up) and, unless \
            --no-pictures, <image>_overlay.png, <image>_particles.png and <image>_micrograph.png. \
            Frames are numbered from 0 in file order, 2-D images are frame 0.

            Exits with status 2 when some inputs could not be analysed; the others still are.
            """)

    @Argument(help: "Files or folders.")
    var inputs: [String]

    @Option(name: .long, help: "Output folder (created if needed).")
    var out: String

    @Option(name: .customLong("pixel-size"), parsing: .unconditional,
            help: "Pixel size in nm (0.001 to 1000) for inputs without one (PNG, TIFF, uncalibrated DM); files with their own calibration keep it.")
    var pixelSizeNm: Double?

    @Flag(help: "The inputs are binary segmentations (non-zero = particle).")
    var mask = false

    @Option(help: "Touching particles: network (split where the network's distance map says, the default; UECS for segmenters without one), separate (UECS, the reference's), flag (keep whole, mark) or watershed.")
    var overlap: OverlapMode = .network

    @Option(name: .customLong("convexity-threshold"), help: "Objects with convexity at or below this go to UECS separation (or are flagged); ANTEMA's 0.95.")
    var convexityThreshold = AnalysisParameters().convexityThreshold

    @Option(name: .customLong("min-confidence"), help: "With a model: drop particles whose mean network probability is below this (0-1; default: the model's own minimum: 0.7 for the default segmenter \"instance\", none for \"model\").")
    var minimumConfidence: Double?

    @Option(name: .customLong("relative-speck-area"), help: "With a model: drop particles smaller than this fraction of the image's median particle area unless the network is sure of them (confidence 0.85 or more); 0 keeps them (a sample with a minority of much smaller particles).")
    var relativeSpeckArea = AnalysisParameters().relativeSpeckArea

    @Option(name: .customLong("exclude"), help: "x,y,width,height in pixels (x = column, y = row, from the top left): no particle counted there, left out of the normalisation. Repeatable.")
    var exclude: [String] = []

    @Flag(name: .customLong("no-annotation-detection"), help: "Do not look for burned-in scale bars, labels and panel letters.")
    var noAnnotationDetection = false

    @Option(name: .customLong("network-scale"), help: "For images without a calibration: resample them by this (0.125 to 4) before the network (2: particles look twice as large to it); measurements stay in the image's own pixels. Default: estimated per image from a first pass.")
    var networkScale: Double?

    @Option(help: "Particles darker (bright-field TEM), brighter (HAADF-STEM, SEM) than the background, or auto (decided per image, the default).")
    var contrast: Contrast = .auto

    @Option(name: .customLong("min-diameter-px"), help: "The same in pixels, for images without a calibration.")
    var minimumDiameterPx = AnalysisParameters().minimumDiameterPx

    @Option(name: .customLong("min-diameter"), help: "Remove objects whose equivalent diameter is below this (nm).")
    var minimumDiameterNm = AnalysisParameters().minimumDiameterNm

    @Flag(name: .customLong("keep-border"), help: "Keep particles that touch the image border.")
    var keepBorder = false

    @Flag(name: .customLong("keep-holes"), help: "Do not fill holes in particles.")
    var keepHoles = false

    @Option(help: "instance (the bundled instance-aware network, the default), model (the bundled network 2.1, without a distance map) or classical (thresholding after background flattening).")
    var segmenter: SegmenterKind = .instance

    @Option(help: "Segment with this ONNX model (metadata in MODEL.json beside it) instead of the bundled one.")
    var model: String?

    @Option(help: "With a model: particle where its probability is at least this.")
    var threshold = 0.5

    @Option(help: "Name of the workbook and report files (default: analysis).")
    var name = "analysis"

    @Flag(name: .customLong("no-pictures"), help: "Skip the per-image pictures (micrograph, overlay, particle map).")
    var noPictures = false

    @Option(name: .customLong("max-pixels"), help: "Refuse images larger than this many pixels (width x height), before decoding them.")
    var maxPixels = 100_000_000

    func validate() throws {
        if let p = pixelSizeNm, !(p >= 0.001 && p <= 1000) {
            throw ValidationError("--pixel-size \(p): give the pixel size in nm, from 0.001 to 1000 (electron micrographs lie well inside)")
        }
        guard minimumDiameterNm >= 0, minimumDiameterNm.isFinite else { throw ValidationError("--min-diameter must be zero or more nm") }
        guard minimumDiameterPx >= 0, minimumDiameterPx.isFinite else { throw ValidationError("--min-diameter-px must be zero or more pixels") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        guard convexityThreshold > 0 && convexityThreshold <= 1 else { throw ValidationError("--convexity-threshold must be in (0, 1]") }
        if let c = minimumConfidence, !(c >= 0 && c <= 1) { throw ValidationError("--min-confidence must be between 0 and 1") }
        guard relativeSpeckArea >= 0 && relativeSpeckArea < 1 else { throw ValidationError("--relative-speck-area must be from 0 (off) to below 1") }
        _ = try excludeRegions()
        if let s = networkScale, !(s >= 0.125 && s <= 4) { throw ValidationError("--network-scale must be from 0.125 to 4") }
    }

    /// `--exclude x,y,w,h` values as rectangles.
    func excludeRegions() throws -> [[Int]] {
        try exclude.map { text in
            let v = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4, v.allSatisfy({ $0 != nil }), v[2]! > 0, v[3]! > 0, v[0]! >= 0, v[1]! >= 0 else {
                throw ValidationError("--exclude \(text): give x,y,width,height in pixels, e.g. --exclude 822,911,202,113")
            }
            return v.map { $0! }
        }
    }

    func run() throws {
        var parameters = AnalysisParameters()
        parameters.overlap = overlap
        parameters.minimumDiameterNm = minimumDiameterNm
        parameters.minimumDiameterPx = minimumDiameterPx
        parameters.clearBorder = !keepBorder
        parameters.fillHoles = !keepHoles
        parameters.convexityThreshold = convexityThreshold
        parameters.minimumConfidence = minimumConfidence
        parameters.relativeSpeckArea = relativeSpeckArea
        let seg = try makeSegmenter(name: segmenter, modelPath: model, threshold: threshold, contrast: contrast, mask: mask)
        var settings = RunSettings(antemaVersion: AntemaVersion.string, segmenter: seg.choice,
                                   analysis: parameters, fallbackPixelSizeNm: pixelSizeNm,
                                   excludeRegions: try excludeRegions(), detectAnnotations: !noAnnotationDetection)
        settings.networkScale = networkScale
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw Failure(.cannotCreate, "cannot create the output folder \(out): \(error.localizedDescription)")
        }
        let loader = InputLoader(fallbackPixelSizeNm: pixelSizeNm, maxImagePixels: maxPixels)
        let images: SafeFiles.Directory
        do { images = try SafeFiles.openUserDirectory((out as NSString).appendingPathComponent("images"), create: true) } catch {
            throw Failure(.cannotCreate, "cannot create \(out)/images: \(error)")
        }
        var outcomes: [FrameOutcome] = []
        var taken = Set<String>()
        let paths = InputLoader.expand(inputs)
        if paths.isEmpty { throw Failure(.noInput, "no supported files in \(inputs.joined(separator: ", "))") }
        func failed(_ problem: InputProblem) {
            printError("\(problem.status == .skipped ? "skipped" : "error"): \(problem)")
            outcomes.append(FrameOutcome(path: problem.path, frame: problem.frame, problem: problem))
        }
        for (i, path) in paths.enumerated() {
            let before = outcomes.count
            defer {
                // progress on stderr, a line per input also when stderr is not a terminal
                let mine = outcomes[before...]
                let failedHere = mine.filter { $0.problem?.status == .failed }.count
                printError("[\(i + 1)/\(paths.count)] \(path): \(mine.reduce(0) { $0 + $1.particles.count }) particles"
                           + (failedHere > 0 ? ", \(failedHere) frame(s) failed" : ""))
            }
            let opened = loader.open(path)
            opened.problems.forEach(failed)
            for source in opened.frames {
                if let given = pixelSizeNm, let stated = source.statedPixelSize, max(given / stated.geometricMeanNm, stated.geometricMeanNm / given) >= 100 {
                    printError("warning: \(path): the file's calibration is \(stated.geometricMeanNm) nm per pixel, a hundred times or more from --pixel-size \(given); the file's is used")
                }
                let frame: InputFrame
                do { frame = try source.load() } catch {
                    failed(error as? InputProblem ?? InputProblem(path: path, frame: source.frame, status: .failed, message: "\(error)"))
                    continue
                }
                var outcome: FrameOutcome
                do {
                    outcome = try seg.analyze(frame, settings: settings)
                } catch {
                    failed(InputProblem(path: path, frame: source.frame, status: .failed, message: "segmentation failed: \(error)"))
                    continue
                }
                for warning in outcome.warnings {
                    printError("warning: \(path)\(source.frameCount > 1 ? " frame \(source.frame)" : ""): \(warning)"
                               + (frame.pixelSize == nil && warning.hasPrefix("no calibration") ? " (give --pixel-size for nm)" : ""))
                }
                if let mask = outcome.segmentation, let result = outcome.result {
                    var stem = pictureStem(path: path, frame: source.frame, frames: source.frameCount), k = 2
                    while !taken.insert(stem).inserted { stem = pictureStem(path: path, frame: source.frame, frames: source.frameCount) + "_\(k)"; k += 1 }
                    do {
                        try SampleReport.writeImagePictures(stem: stem, image: frame.image, segmentation: mask, result: result,
                                                            pixelSizeNm: frame.pixelSize?.geometricMeanNm, annotations: outcome.exclude,
                                                            pictures: !noPictures, to: images)
                    } catch {
                        printError("error: pictures of \(path) not written: \(error)")
                    }
                    outcome.segmentation = nil
                    outcome.result = nil
                }
                printLine(summaryLine(name: path + (source.frameCount > 1 ? " frame \(source.frame)" : ""), outcome.particles))
                outcomes.append(outcome)
            }
        }
        printLine(summaryLine(name: "all", outcomes.flatMap(\.particles)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json = String(decoding: try encoder.encode(settings), as: UTF8.self)
        try write(json + "\n", "parameters.json")
        // the same workbook, CSV files and histograms the daemon writes for a sample
        let report = SampleReportInput(
            sample: name, folder: inputs.joined(separator: ", "), openedAt: Date(), lastImageAt: nil, closedAt: nil,
            segmenter: seg.label, parametersJson: json,
            images: outcomes.map { o in
                SampleReportInput.Image(path: o.path, frame: o.frame ?? 0, widthPx: o.problem == nil ? o.width : nil, heightPx: o.problem == nil ? o.height : nil,
                                        pixelSizeXNm: o.pixelSize?.x, pixelSizeYNm: o.pixelSize?.y, particleCount: o.problem == nil ? o.particles.count : nil,
                                        state: o.problem?.status.rawValue ?? "done", error: o.problem?.message, seconds: o.problem == nil ? o.seconds : nil,
                                        networkScale: o.networkInputScale, droppedUnsure: o.droppedUnsure, droppedDebris: o.droppedDebris)
            },
            particles: outcomes.flatMap { o in
                o.particles.enumerated().map { SampleReportInput.Particle(imagePath: o.path, frame: o.frame ?? 0, index: $0.offset + 1, m: $0.element) }
            })
        do { try SampleReport.write(report, to: out) } catch { throw Failure(.cannotCreate, "report not written to \(out): \(error)") }
        if outcomes.contains(where: { $0.problem?.status == .failed }) { throw ExitCode(someInputsFailed) }
    }

    /// "NAME: N particles, equivalent diameter mean ± sd nm (mean ± sd)": in nm over the
    /// particles of calibrated images, in px over the others.
    func summaryLine(name: String, _ particles: [ParticleMeasurement]) -> String {
        guard !particles.isEmpty else { return "\(name): 0 particles" }
        let nm = particles.compactMap(\.equivalentDiameterNm), px = particles.filter { !$0.isCalibrated }.map(\.equivalentDiameterPx)
        func stats(_ v: [Double], _ unit: String) -> String? {
            Statistics.meanAndSD(v).map { "\(String(format: "%.3f", $0.mean)) ± \(String(format: "%.3f", $0.sd)) \(unit)" }
        }
        var parts: [String] = []
        if let s = stats(nm, "nm") { parts.append(px.isEmpty ? s : "\(s) over the \(nm.count) calibrated") }
        if let s = stats(px, "px") { parts.append(nm.isEmpty ? s + " (no calibration)" : "\(s) over the \(px.count) without calibration") }
        return "\(name): \(particles.count) particles, equivalent diameter \(parts.joined(separator: ", ")) (mean ± sd)"
    }

    func write(_ text: String, _ name: String) throws {
        let path = (out as NSString).appendingPathComponent(name)
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw Failure(.cannotCreate, "cannot write \(path): \(error.localizedDescription)")
        }
    }
}

/// A line to standard output at once (written, not buffered: a pipe sees each line as it comes).
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
