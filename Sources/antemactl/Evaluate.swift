import Analysis
import ArgumentParser
import Foundation
import Pipeline

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score segmenters against label masks: accuracy, IoU, Dice, confusion matrix, particle matching.",
        discussion: """
            Each image in --images (DM3/DM4, PNG, TIFF) is paired with the label mask of the same stem \
            in --labels (PNG or TIFF, non-zero = particle). For each segmenter (the bundled model, the \
            bundled instance model and the classical one by default; only --model when it is given) prints, per image and pooled over all images: global \
            accuracy, per-class accuracy, IoU and Dice per class, the 2 x 2 confusion matrix, and, \
            after the full analysis of prediction and truth alike, particle precision, recall and F1 \
            (a predicted particle matches a true one at IoU >= 0.5) and the error of the mean \
            equivalent diameter. With --out, writes evaluation.csv and evaluation.json there.
            """)

    @Option(help: "Folder of micrographs.") var images: String
    @Option(help: "Folder of label masks (same stem as the image; non-zero = particle).") var labels: String
    @Option(name: .customLong("pixel-size"), help: "Pixel size in nm for images without one.") var pixelSizeNm: Double?
    @Option(parsing: .singleValue, help: "Segmenter to score (repeatable): model, instance, classical. Default: all three (with --model: that model).")
    var segmenter: [SegmenterKind] = []
    @Option(help: "Score this ONNX model as the 'model' segmenter instead of the bundled one.") var model: String?
    @Option(help: "Model probability threshold.") var threshold = 0.5
    @Option(help: "Particles dark (bright-field), bright (HAADF-STEM, SEM) or auto (decided per image, the default).") var contrast: Contrast = .auto
    @Option(help: "Touching particles: network (the default), separate (UECS), flag or watershed; as antemactl analyze.")
    var overlap: OverlapMode = .network

    @Option(name: .customLong("exclude-box"), help: "Leave out a box of every image, x,y,width,height in pixels (x = column), e.g. a burned-in scale bar.")
    var excludeBox: String?
    @Option(help: "Write evaluation.csv and evaluation.json into this folder.") var out: String?
    @Flag(help: "Print only the pooled rows.") var quiet = false
    @Flag(name: .customLong("no-annotation-detection"), help: "Do not look for burned-in scale bars, labels and lettering (as antemactl analyze).")
    var noAnnotationDetection = false
    @Option(name: .customLong("network-scale"), help: "For images without a calibration: resample them by this (0.125 to 4) before the network (as antemactl analyze).")
    var networkScale: Double?
    @Option(name: .customLong("min-confidence"), help: "With a model: drop particles whose mean network probability is below this (0-1; default: the model's own minimum), as antemactl analyze.")
    var minimumConfidence: Double?
    @Option(name: .customLong("relative-speck-area"), help: "With a model: drop particles smaller than this fraction of the image's median particle area unless the network is sure of them; 0 keeps them (as antemactl analyze).")
    var relativeSpeckArea = AnalysisParameters().relativeSpeckArea
    @Option(name: .customLong("marker-smoothing"), help: "The network separation's smoothing of the distance map, in pixels (for tuning; training/tune_markers.py).")
    var markerSmoothingPx = AnalysisParameters().markerSmoothingPx
    @Option(name: .customLong("marker-height"), help: "The network separation's least height of a summit of the distance map above its pass, 0-1 (for tuning).")
    var markerPeakHeight = AnalysisParameters().markerPeakHeight

    func box() throws -> (x: Int, y: Int, w: Int, h: Int)? {
        guard let excludeBox else { return nil }
        let v = excludeBox.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 4, v[0] >= 0, v[1] >= 0, v[2] > 0, v[3] > 0 else {
            throw ValidationError("--exclude-box must be x,y,width,height in pixels, not '\(excludeBox)'")
        }
        return (v[0], v[1], v[2], v[3])
    }

    func labelPath(stem: String) -> String? {
        for ext in ["png", "tif", "tiff", "PNG", "TIF", "TIFF"] {
            let p = (labels as NSString).appendingPathComponent("\(stem).\(ext)")
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    func run() throws {
        let names = segmenter.isEmpty ? (model != nil ? [.model] : SegmenterKind.allCases) : segmenter
        // --model replaces the bundled network only: `--model X --segmenter model --segmenter classical`
        // compares X with the classical segmenter
        let segmenters = try names.map {
            try makeSegmenter(name: $0, modelPath: $0 == .model ? model : nil, threshold: threshold, contrast: contrast)
        }
        let box = try box()
        let loader = InputLoader(fallbackPixelSizeNm: pixelSizeNm)
        let labelLoader = InputLoader(fallbackPixelSizeNm: 1)
        let paths = InputLoader.expand([images])
        if paths.isEmpty { throw Failure(.noInput, "no supported images in \(images)") }
        var scores: [[SegmentationScore]] = Array(repeating: [], count: segmenters.count)
        var failures = 0
        var parameters = AnalysisParameters()
        parameters.overlap = overlap
        guard markerSmoothingPx >= 0 && markerSmoothingPx <= 20 else { throw ValidationError("--marker-smoothing must be from 0 to 20 px") }
        guard markerPeakHeight > 0 && markerPeakHeight < 1 else { throw ValidationError("--marker-height must be between 0 and 1") }
        if let c = minimumConfidence, !(c >= 0 && c <= 1) { throw ValidationError("--min-confidence must be between 0 and 1") }
        parameters.minimumConfidence = minimumConfidence
        guard relativeSpeckArea >= 0 && relativeSpeckArea < 1 else { throw ValidationError("--relative-speck-area must be from 0 (off) to below 1") }
        parameters.relativeSpeckArea = relativeSpeckArea
        parameters.markerSmoothingPx = markerSmoothingPx
        parameters.markerPeakHeight = markerPeakHeight
        if let s = networkScale, !(s >= 0.125 && s <= 4) { throw ValidationError("--network-scale must be from 0.125 to 4") }
        var settings = RunSettings(antemaVersion: AntemaVersion.string, segmenter: .mask, analysis: parameters, fallbackPixelSizeNm: pixelSizeNm,
                                   detectAnnotations: !noAnnotationDetection)
        settings.networkScale = networkScale
        for path in paths {
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            guard let lp = labelPath(stem: stem) else {
                printError("skipped \(path): no label \(stem).png or .tif in \(labels)"); failures += 1; continue
            }
            let frame: InputFrame
            switch loader.load(path).first {
            case .success(let f)?: frame = f
            case .failure(let p)?: printError("error: \(path): \(p.message)"); failures += 1; continue
            case nil: printError("error: \(path): no image"); failures += 1; continue
            }
            guard case .success(let labelFrame)? = labelLoader.load(lp).first,
                  labelFrame.image.width == frame.image.width, labelFrame.image.height == frame.image.height else {
                printError("error: \(lp): not a readable label of the image's size \(frame.image.width) x \(frame.image.height)"); failures += 1; continue
            }
            let truth = BinaryImage(width: frame.image.width, height: frame.image.height, pixels: labelFrame.image.pixels.map { $0 != 0 })
            let truthInstances = SegmentationScore.instances(labels: labelFrame.image)
            var ignore: BinaryImage? = nil
            if let b = box {
                var m = BinaryImage(width: frame.image.width, height: frame.image.height)
                for r in max(0, b.y)..<min(frame.image.height, b.y + b.h) {
                    for c in max(0, b.x)..<min(frame.image.width, b.x + b.w) { m.pixels[r * m.width + c] = true }
                }
                ignore = m
            }
            for (k, s) in segmenters.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                // the full analysis, as a user gets it (the segmenter's separation, the detected
                // annotations and the --exclude-box left out)
                var input = frame
                if let ignore {
                    var ex = settings.exclusion(for: frame.image) ?? BinaryImage(width: frame.image.width, height: frame.image.height)
                    for i in ex.pixels.indices where ignore.pixels[i] { ex.pixels[i] = true }
                    input.exclude = ex
                }
                let outcome: FrameOutcome
                do { outcome = try s.analyze(input, settings: settings) } catch {
                    printError("error: \(path): \(s.label): \(error)"); failures += 1; continue
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let score = SegmentationScore.score(image: path, segmenter: s.label, outcome: outcome, truth: truth, truthInstances: truthInstances,
                                                    ignore: ignore, pixelSize: frame.pixelSize, parameters: parameters, seconds: seconds)
                scores[k].append(score)
                if !quiet { print(line(score)) }
            }
        }
        let pooled = zip(segmenters, scores).map { SegmentationScore.pooled($1, name: "all (\($1.count) images)") }
        print("")
        for p in pooled { print(line(p)) }
        printConfusion(pooled)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var table = CSVTable(header: SegmentationScore.columns)
            for row in scores.flatMap({ $0 }) + pooled { table.append(row.row) }
            try table.text.write(toFile: (out as NSString).appendingPathComponent("evaluation.csv"), atomically: true, encoding: .utf8)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            struct Report: Encodable { let images: [SegmentationScore]; let pooled: [SegmentationScore] }
            try encoder.encode(Report(images: scores.flatMap { $0 }, pooled: pooled))
                .write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("evaluation.json")))
        }
        if failures > 0 { throw ExitCode(someInputsFailed) }
    }

    func f(_ v: Double?, _ digits: Int = 4) -> String { v.map { String(format: "%.\(digits)f", $0) } ?? "-" }

    func line(_ s: SegmentationScore) -> String {
        let c = s.confusion, i = s.instances
        return "\(s.image) [\(s.segmenter)]: accuracy \(f(c.globalAccuracy)), particle IoU \(f(c.particleIoU)) Dice \(f(c.particleDice)), "
            + "background IoU \(f(c.backgroundIoU)); particles \(i.matched)/\(i.truthCount) found, \(i.predictedCount) predicted, "
            + "precision \(f(i.precision, 3)) recall \(f(i.recall, 3)) F1 \(f(i.f1, 3)); mean diameter \(f(s.meanPredictedDiameterNm, 3)) vs "
            + "\(f(s.meanTruthDiameterNm, 3)) nm (\(s.meanDiameterRelativeError.map { String(format: "%+.1f%%", $0 * 100) } ?? "-")); \(String(format: "%.2f", s.seconds)) s"
    }

    func printConfusion(_ pooled: [SegmentationScore]) {
        for p in pooled {
            let c = p.confusion
            print("""

                \(p.segmenter): confusion matrix (pixels; rows = truth, columns = prediction)
                                 particle     background
                  particle   \(pad(c.truePositive)) \(pad(c.falseNegative))   accuracy \(f(c.particleAccuracy)) IoU \(f(c.particleIoU)) Dice \(f(c.particleDice))
                  background \(pad(c.falsePositive)) \(pad(c.trueNegative))   accuracy \(f(c.backgroundAccuracy)) IoU \(f(c.backgroundIoU)) Dice \(f(c.backgroundDice))
                """)
        }
    }

    func pad(_ n: Int) -> String { String(repeating: " ", count: max(0, 12 - String(n).count)) + String(n) }
}
