import Foundation
import ImageFiles
import Pipeline
import Testing

/// Minimal RFC 4180 reader for the tests (quoted fields, doubled quotes, CRLF).
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
    var chars = Array(text.unicodeScalars), i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "\"" { if i + 1 < chars.count && chars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { quoted = false } } else { field.unicodeScalars.append(c) }
        } else if c == "\"" { quoted = true }
        else if c == "," { row.append(field); field = "" }
        else if c == "\r" || c == "\n" {
            if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
            row.append(field); rows.append(row); row = []; field = ""
        } else { field.unicodeScalars.append(c) }
        i += 1
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    chars = []
    return rows
}

func table(_ path: String) throws -> [[String: String]] {
    let rows = parseCSV(try String(contentsOfFile: path, encoding: .utf8))
    guard let header = rows.first else { return [] }
    return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
}

let referenceFolder = URL(fileURLWithPath: sharedDM).deletingLastPathComponent().appendingPathComponent("antema-reference").path
let empsFigure = URL(fileURLWithPath: sharedDM).deletingLastPathComponent().appendingPathComponent("emps-train/images/6de290c824.png").path

@Suite struct AntemactlAnalyze {
    @Test("the reference mask reproduces ANTEMA's 263-row table through the real binary",
          .enabled(if: FileManager.default.fileExists(atPath: referenceFolder + "/antema-v1.0-Sheet1.csv"), "../shared/data/antema-reference absent, skipping"))
    func referenceCase() throws {
        let out = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try AntemactlInspect.run(["analyze", referenceFolder + "/network-mask.png", "--mask", "--pixel-size", "0.06398699", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("263 particles"))
        let ours = try table(out.appendingPathComponent("analysis_particles.csv").path)
        let refs = parseCSV(try String(contentsOfFile: referenceFolder + "/antema-v1.0-Sheet1.csv", encoding: .utf8)).dropFirst().filter { $0.count == 11 }
        #expect(ours.count == 263 && refs.count == 263)
        var separatedMatched = 0
        for (row, ref) in zip(ours, refs) {
            let v = ref.map { Double($0)! }
            #expect(Double(row["bbox_x_px"]!)! + 0.5 == v[6] && Double(row["bbox_y_px"]!)! + 0.5 == v[7])
            #expect(Double(row["bbox_width_px"]!)! == v[8] && Double(row["bbox_height_px"]!)! == v[9])
            for (column, k) in [("area_nm2", 0), ("equivalent_diameter_nm", 1), ("feret_min_nm", 2), ("feret_max_nm", 3), ("circularity", 4), ("perimeter_nm", 5)] {
                let ours = Double(row[column]!)!
                #expect(abs(ours - v[k]) / abs(v[k]) < 1e-4, "\(column): \(ours) vs \(v[k])")
            }
            if row["separated"] == "1" { separatedMatched += 1; #expect(v[10] == 1) }
        }
        #expect(separatedMatched == 21)
        let images = try table(out.appendingPathComponent("analysis_images.csv").path)
        #expect(images.count == 1 && images[0]["state"] == "done" && images[0]["particles"] == "263" && images[0]["frame"] == "0")
        #expect(images[0]["dropped_unsure"] == "" && images[0]["dropped_debris"] == "", "a mask has no confidence to drop particles by")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("images/network-mask_mask.png").path))
        // one set of outputs: no second particle table beside the report's
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".csv") }.sorted()
        #expect(files == ["analysis_images.csv", "analysis_particles.csv", "analysis_summary.csv"])
        let parameters = try String(contentsOf: out.appendingPathComponent("parameters.json"), encoding: .utf8)
        #expect(parameters.contains("\"convexityThreshold\" : 0.95"))
    }

    @Test("a TEM figure without a calibration, with dark burned-in lettering ('AuNPs', '50 nm') and a scale bar: the network's scale is estimated and written, its four gold particles are counted (in px), nothing where the lettering and the bar are (EMPS 6de290c824, MIT)",
          .enabled(if: FileManager.default.fileExists(atPath: empsFigure), "../shared/data/emps-train absent, skipping"))
    func darkLetteringIsNotCounted() throws {
        let out = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try AntemactlInspect.run(["analyze", empsFigure, "--out", out.path, "--no-pictures"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("no calibration: measured in pixels") && r.stderr.contains("x its pixels (estimated)"), "\(r.stderr)")
        let particles = try table(out.appendingPathComponent("analysis_particles.csv").path)
        // the four gold particles, 55-75 px across, and nothing else
        #expect(particles.filter { Double($0["equivalent_diameter_px"]!)! > 45 }.count == 4)
        #expect(particles.count == 4, "\(particles.map { ($0["centroid_x_px"]!, $0["centroid_y_px"]!) })")
        #expect(particles.allSatisfy { $0["equivalent_diameter_nm"] == "" })
        // nothing where the lettering is: "AuNPs" (columns 15-105, rows 10-45; the network sees
        // its letters as blobs at this scale, TextDetector finds their strokes in the image),
        // "50 nm" (columns 15-125, rows 430-475) and the bar under it (rows 478-492; the network
        // sees it tapered, a wedge filling 38 % of its box)
        for p in particles {
            let x = Double(p["centroid_x_px"]!)!, y = Double(p["centroid_y_px"]!)!
            #expect(!((15...105).contains(x) && (10...45).contains(y)) && !((15...125).contains(x) && (430...495).contains(y)), "a particle at \(x), \(y)")
        }
        // the scale the network saw it at, as the warning says it
        let images = try table(out.appendingPathComponent("analysis_images.csv").path)
        let scale = try #require(Double(images[0]["network_scale"] ?? ""))
        #expect((0.35...0.71).contains(scale), "\(scale)")  // NetworkScale.range
        #expect(r.stderr.contains("saw it at \(String(format: "%.2f", scale)) x its pixels"), "\(r.stderr)")
    }

    @Test("the reference HRTEM micrograph without a calibration: its rows of textured particles are not taken for lines of lettering (327 particles counted, 224 before the one-ink rule, 333 with no search at all); nothing in the scale-bar box",
          .enabled(if: FileManager.default.fileExists(atPath: referenceFolder + "/image.png"), "../shared/data/antema-reference absent, skipping"))
    func texturedParticleRowsAreNotLettering() throws {
        let out = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try AntemactlInspect.run(["analyze", referenceFolder + "/image.png", "--out", out.path, "--no-pictures"])
        #expect(r.status == 0, "\(r.stderr)")
        let particles = try table(out.appendingPathComponent("analysis_particles.csv").path)
        #expect(particles.count >= 300, "\(particles.count) particles")
        // the burned-in "10 nm" box: rows 911-1023, columns 822-1023
        #expect(!particles.contains { Double($0["centroid_x_px"]!)! >= 822 && Double($0["centroid_y_px"]!)! >= 911 })
    }

    @Test("a calibrated DM3 of a packed monolayer of 5 nm particles at 1 nm/px: the network's first pass merges them (no particle counted before the zoom), the second sees the frame at twice its pixels and counts them one by one, mean diameter within 5 % of 5 nm")
    func calibratedMonolayerIsZoomed() throws {
        let out = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: out) }
        // dark 5 px discs on a hexagonal grid 7 px apart, bright support with a little noise
        let size = 512, spacing = 7.0, radius = 2.5
        var pixels = [Float](repeating: 200, count: size * size)
        var state: UInt64 = 7
        for k in pixels.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; pixels[k] += Float(state >> 60) }
        var y = 0.0, row = 0
        while y < Double(size) {
            var x = row % 2 == 0 ? 0 : spacing / 2
            while x < Double(size) {
                for yy in max(0, Int(y - radius))...min(size - 1, Int(y + radius)) { for xx in max(0, Int(x - radius))...min(size - 1, Int(x + radius))
                    where (Double(yy) - y) * (Double(yy) - y) + (Double(xx) - x) * (Double(xx) - x) <= radius * radius { pixels[yy * size + xx] = 60 } }
                x += spacing
            }
            y += spacing * 3.0.squareRoot() / 2; row += 1
        }
        let raw = out.appendingPathComponent("mono.raw"), dm3 = out.appendingPathComponent("mono.dm3")
        try pixels.withUnsafeBytes { try Data($0).write(to: raw) }
        let w = try AntemactlInspect.run(["write-dm3", "--raw", raw.path, "--width", "512", "--height", "512", "--pixel-size", "1", dm3.path])
        #expect(w.status == 0, "\(w.stderr)")
        let r = try AntemactlInspect.run(["analyze", dm3.path, "--out", out.appendingPathComponent("o").path, "--no-pictures"])
        #expect(r.status == 0, "\(r.stderr)")
        let images = try table(out.appendingPathComponent("o/analysis_images.csv").path)
        #expect(Double(images[0]["network_scale"] ?? "") == 2, "\(images)")
        let particles = Int(images[0]["particles"] ?? "") ?? 0
        #expect(particles > 5000, "\(particles) particles (about 5,300 in the frame, 4 px from its border)")
        let mean = try #require(Double(images[0]["mean_equivalent_diameter_nm"] ?? ""))
        #expect(abs(mean - 5) < 0.25, "\(mean) nm")
    }

    @Test("good, corrupt and foreign files in one run: the good ones are analysed (with the counts of particles the network dropped), the others reported, exit status 2")
    func mixedInputs() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inbox = dir.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        let good = inbox.appendingPathComponent("good.dm3").path
        #expect(try AntemactlInspect.run(["example-micrograph", good, "--size", "256", "--particles", "12", "--pixel-size", "0.1", "--seed", "3"]).status == 0)
        var corrupt = try Data(contentsOf: URL(fileURLWithPath: good))
        corrupt = corrupt.prefix(corrupt.count / 3)
        try corrupt.write(to: inbox.appendingPathComponent("corrupt.dm3"))
        try Data("hello".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let out = dir.appendingPathComponent("out").path
        let r = try AntemactlInspect.run(["analyze", inbox.path, dir.appendingPathComponent("notes.txt").path, "--out", out])
        #expect(r.status == 2)
        #expect(r.stderr.contains("corrupt.dm3") && r.stderr.contains("notes.txt"))
        let images = try table(out + "/analysis_images.csv")
        #expect(images.map { ($0["image"]! as NSString).lastPathComponent } == ["corrupt.dm3", "good.dm3", "notes.txt"])
        #expect(images.map { $0["state"]! } == ["failed", "done", "failed"])
        // the default network's dropped particles are counted for the analysed file only
        #expect(images.map { $0["dropped_unsure"]! != "" } == [false, true, false] && images.map { $0["dropped_debris"]! != "" } == [false, true, false])
        #expect(images[0]["error"]!.contains("ImageList.2.ImageData.Data"))
        let particles = try table(out + "/analysis_particles.csv")
        #expect(particles.allSatisfy { $0["image"] == good })
        #expect(abs(particles.count - 12) <= 1)
        #expect(FileManager.default.fileExists(atPath: out + "/images/good_mask.png"))
    }

    @Test("an image without a pixel size is measured in pixels and marked as such (px columns filled, nm columns empty, statistics and histograms in px); with --pixel-size the nm values are the px values times it")
    func uncalibratedImagesAreMeasuredInPixels() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("mask.png").path
        // write a PNG mask through the analyze command's own output: the segmentation of a DM file
        let dm = dir.appendingPathComponent("m.dm3").path
        #expect(try AntemactlInspect.run(["example-micrograph", dm, "--size", "128", "--particles", "5"]).status == 0)
        #expect(try AntemactlInspect.run(["analyze", dm, "--out", dir.path]).status == 0)
        try FileManager.default.moveItem(atPath: dir.appendingPathComponent("images/m_mask.png").path, toPath: png)
        func particles(_ out: String) throws -> [[String: String]] {
            let text = try String(contentsOfFile: out + "/analysis_particles.csv", encoding: .utf8)
            let lines = text.split(whereSeparator: \.isNewline).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
        }
        let o1 = dir.appendingPathComponent("o1").path
        let pixels = try AntemactlInspect.run(["analyze", png, "--mask", "--out", o1])
        #expect(pixels.status == 0, "\(pixels.stderr)")
        #expect(pixels.stderr.contains("no calibration: measured in pixels"))
        #expect(pixels.stdout.contains(" px (no calibration)"))
        let inPixels = try particles(o1)
        #expect(!inPixels.isEmpty)
        for p in inPixels {
            #expect(p["equivalent_diameter_nm"] == "" && p["area_nm2"] == "" && p["feret_max_nm"] == "" && p["perimeter_nm"] == "")
            let area = try #require(Double(p["area_px"] ?? ""))
            #expect(abs((Double(p["equivalent_diameter_px"] ?? "") ?? 0) - (4 * area / Double.pi).squareRoot()) < 1e-3)
        }
        #expect(FileManager.default.fileExists(atPath: o1 + "/histogram_equivalent_diameter_px.png"))
        let readme = try String(contentsOfFile: o1 + "/README.txt", encoding: .utf8)
        #expect(readme.contains("in pixels (no image had a calibration)") && readme.contains(" px"))
        let images = try String(contentsOfFile: o1 + "/analysis_images.csv", encoding: .utf8)
        #expect(images.contains("mean_equivalent_diameter_px"))
        // the summary in px only: no empty nm rows
        let summaryPx = try String(contentsOfFile: o1 + "/analysis_summary.csv", encoding: .utf8)
        #expect(summaryPx.contains("equivalent_diameter_px,\(inPixels.count),") && !summaryPx.contains("_nm"))

        let o2 = dir.appendingPathComponent("o2").path
        let accepted = try AntemactlInspect.run(["analyze", png, "--mask", "--pixel-size", "0.1", "--out", o2])
        #expect(accepted.status == 0)
        #expect(!accepted.stderr.contains("no calibration"))
        let inNm = try particles(o2)
        #expect(inNm.count == inPixels.count)
        for (a, b) in zip(inPixels, inNm) {
            for length in ["equivalent_diameter", "perimeter", "feret_min", "feret_max"] {
                let px = try #require(Double(a[length + "_px"] ?? "")), nm = try #require(Double(b[length + "_nm"] ?? ""))
                #expect(abs(nm - 0.1 * px) <= 1e-5 * max(1, nm), "\(length): \(nm) nm for \(px) px")
            }
        }
        #expect(FileManager.default.fileExists(atPath: o2 + "/histogram_equivalent_diameter_nm.png"))
        // calibrated: the summary in nm only (px over several pixel sizes would mean little)
        let summaryNm = try String(contentsOfFile: o2 + "/analysis_summary.csv", encoding: .utf8)
        #expect(summaryNm.contains("equivalent_diameter_nm,") && !summaryNm.contains("_px"))
    }
}

@Suite struct AntemactlAnalyzeWithModel {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("InferenceTests/Fixtures")

    @Test("--model segments with an ONNX model and records it; a model without metadata is refused clearly")
    func model() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("net.onnx").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("unet_small.onnx").path, toPath: model)
        let dm = dir.appendingPathComponent("m.dm3").path
        #expect(try AntemactlInspect.run(["example-micrograph", dm, "--size", "128", "--particles", "3"]).status == 0)
        let refused = try AntemactlInspect.run(["analyze", dm, "--model", model, "--out", dir.appendingPathComponent("o1").path])
        #expect(refused.status != 0 && refused.stderr.contains("net.json"))
        try #"{"name":"random-unet","version":"0","trainingPixelSizeNm":0.1,"normalization":"standardize","output":"logit","particleClass":0,"brightParticles":false,"licence":"test","sizeMultiple":8,"tileSizePx":512,"tileMarginPx":64}"#
            .write(toFile: dir.appendingPathComponent("net.json").path, atomically: true, encoding: .utf8)
        let ok = try AntemactlInspect.run(["analyze", dm, "--model", model, "--out", dir.appendingPathComponent("o2").path, "--no-pictures"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let parameters = try String(contentsOfFile: dir.appendingPathComponent("o2/parameters.json").path, encoding: .utf8)
        #expect(parameters.contains("random-unet"))
    }
}

@Suite struct AntemactlEvaluate {
    /// DIR/images/s.png, a synthetic micrograph of `count` discs of 5 nm at 0.2 nm/px, and
    /// DIR/labels/s.png, its truth mask; returns the two folders.
    static func syntheticSet(in dir: URL, size: Int, count: Int, seed: UInt64) throws -> (images: URL, labels: URL) {
        let images = dir.appendingPathComponent("images"), labels = dir.appendingPathComponent("labels")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: labels, withIntermediateDirectories: true)
        let synth = SyntheticMicrograph(width: size, height: size, pixelSizeNm: 0.2, count: count, meanDiameterNm: 5, seed: seed)
        let lo = synth.pixels.min()!, hi = synth.pixels.max()!
        try PNGFile.write(gray8: synth.pixels.map { UInt8(max(0, min(255, ($0 - lo) / (hi - lo) * 255))) }, width: size, height: size,
                          to: images.appendingPathComponent("s.png").path)
        try PNGFile.write(gray8: synth.truthMask.map { $0 ? 255 : 0 }, width: size, height: size, to: labels.appendingPathComponent("s.png").path)
        return (images, labels)
    }

    @Test("evaluate scores the bundled model, the instance model and the classical segmenter side by side and writes the table and JSON")
    func evaluateSyntheticSet() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images"), labels = dir.appendingPathComponent("labels"), out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: labels, withIntermediateDirectories: true)
        for seed in 1...2 {
            let synth = SyntheticMicrograph(width: 256, height: 256, pixelSizeNm: 0.2, count: 12, meanDiameterNm: 5, seed: UInt64(seed))
            let lo = synth.pixels.min()!, hi = synth.pixels.max()!
            try PNGFile.write(gray8: synth.pixels.map { UInt8(max(0, min(255, ($0 - lo) / (hi - lo) * 255))) }, width: 256, height: 256,
                              to: images.appendingPathComponent("s\(seed).png").path)
            try PNGFile.write(gray8: synth.truthMask.map { $0 ? 255 : 0 }, width: 256, height: 256, to: labels.appendingPathComponent("s\(seed).png").path)
        }
        let r = try AntemactlInspect.run(["evaluate", "--images", images.path, "--labels", labels.path, "--pixel-size", "0.2", "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("[classical]") && r.stdout.contains("[model antema-unet ") && r.stdout.contains("[model antema-unet-instance "))
        #expect(r.stdout.contains("confusion matrix"))
        let rows = try table(out.appendingPathComponent("evaluation.csv").path)
        #expect(rows.count == 9)  // 2 images x 3 segmenters + 3 pooled rows
        for row in rows {
            let iou = Double(row["particle_iou"]!)!, tp = Double(row["true_positive_px"]!)!
            let fp = Double(row["false_positive_px"]!)!, fn = Double(row["false_negative_px"]!)!
            #expect(abs(iou - tp / (tp + fp + fn)) < 1e-6, "7 significant digits in the CSV")
            // clearly visible discs: both segmenters find them
            #expect(iou > 0.8, "\(row["segmenter"]!) on \(row["image"]!): IoU \(iou)")
            #expect(Int(row["truth_particles"]!)! > 0)
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("evaluation.json"))) as? [String: Any]
        #expect((json?["images"] as? [Any])?.count == 6 && (json?["pooled"] as? [Any])?.count == 3)
    }

    @Test("evaluate --model X --segmenter model --segmenter classical scores X and the classical segmenter, not X twice")
    func otherModelBesideClassical() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (images, labels) = try Self.syntheticSet(in: dir, size: 128, count: 6, seed: 3)
        let model = dir.appendingPathComponent("net.onnx").path
        try FileManager.default.copyItem(atPath: AntemactlAnalyzeWithModel.fixtures.appendingPathComponent("unet_small.onnx").path, toPath: model)
        try #"{"name":"random-unet","version":"0","trainingPixelSizeNm":0.2,"normalization":"standardize","output":"logit","particleClass":0,"brightParticles":false,"licence":"test","sizeMultiple":8,"tileSizePx":512,"tileMarginPx":64}"#
            .write(toFile: dir.appendingPathComponent("net.json").path, atomically: true, encoding: .utf8)
        let r = try AntemactlInspect.run(["evaluate", "--images", images.path, "--labels", labels.path, "--pixel-size", "0.2",
                                          "--model", model, "--segmenter", "model", "--segmenter", "classical", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("[model random-unet 0]") && r.stdout.contains("[classical]"), "\(r.stdout)")
    }

    @Test("evaluate --min-confidence drops the particles a model is less sure of, as analyze does, and refuses values outside 0-1")
    func minimumConfidenceIsApplied() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (images, labels) = try Self.syntheticSet(in: dir, size: 256, count: 12, seed: 4)
        func predicted(_ extra: [String]) throws -> Int {
            let out = dir.appendingPathComponent("out\(extra.count)")
            let r = try AntemactlInspect.run(["evaluate", "--images", images.path, "--labels", labels.path, "--pixel-size", "0.2",
                                              "--segmenter", "instance", "--out", out.path, "--quiet"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return Int(try table(out.appendingPathComponent("evaluation.csv").path)[0]["predicted_particles"]!)!
        }
        let all = try predicted(["--min-confidence", "0"])
        #expect(all > 0, "clearly visible discs are found")
        // a mean probability of exactly 1 over a particle's pixels, edges included, does not happen
        #expect(try predicted(["--min-confidence", "1"]) < all)
        let bad = try AntemactlInspect.run(["evaluate", "--images", images.path, "--labels", labels.path, "--min-confidence", "1.5"])
        #expect(bad.status != 0 && bad.stderr.contains("--min-confidence"), "\(bad.stderr)")
    }

    @Test("evaluate names an image whose label is missing and exits 2")
    func missingLabel() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("l"), withIntermediateDirectories: true)
        try PNGFile.write(gray8: [UInt8](repeating: 9, count: 64), width: 8, height: 8, to: dir.appendingPathComponent("a.png").path)
        let r = try AntemactlInspect.run(["evaluate", "--images", dir.path, "--labels", dir.appendingPathComponent("l").path, "--pixel-size", "1", "--segmenter", "classical"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("a.png") && r.stderr.contains("no label"))
    }
}

@Suite struct BundledModelLookup {
    static func runCopy(_ exe: URL, _ args: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "ANTEMA_MODEL_DIR")
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    @Test("an installed antemactl finds the model in <prefix>/share/antema/models; without it the error says where it looked",
          .enabled(if: !FileManager.default.fileExists(atPath: "/usr/local/share/antema/models/antema-unet-instance.onnx"), "a system-wide model is installed"))
    func installedLayout() throws {
        let prefix = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: prefix) }
        let bin = prefix.appendingPathComponent("bin"), models = prefix.appendingPathComponent("share/antema/models")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let exe = bin.appendingPathComponent("antemactl")
        try FileManager.default.copyItem(at: AntemactlInspect.binary, to: exe)
        let image = prefix.appendingPathComponent("a.png").path
        let synth = SyntheticMicrograph(width: 128, height: 128, pixelSizeNm: 0.2, count: 4, meanDiameterNm: 5, seed: 3)
        try PNGFile.write(gray8: synth.pixels.map { UInt8(max(0, min(255, $0 / 4))) }, width: 128, height: 128, to: image)
        let missing = try Self.runCopy(exe, ["analyze", image, "--pixel-size", "0.2", "--out", prefix.appendingPathComponent("o1").path])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("antema-unet-instance.onnx") && missing.stderr.contains(models.path))
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let resources = AntemactlInspect.binary.deletingLastPathComponent().appendingPathComponent("antema_DefaultModel.resources")
        for name in ["antema-unet-instance.onnx", "antema-unet-instance.json"] {
            try FileManager.default.copyItem(at: resources.appendingPathComponent(name), to: models.appendingPathComponent(name))
        }
        let found = try Self.runCopy(exe, ["analyze", image, "--pixel-size", "0.2", "--out", prefix.appendingPathComponent("o2").path])
        #expect(found.status == 0, "\(found.stderr)")
        let parameters = try String(contentsOfFile: prefix.appendingPathComponent("o2/parameters.json").path, encoding: .utf8).replacingOccurrences(of: "\\/", with: "/")
        #expect(parameters.contains("antema-unet-instance") && parameters.contains(models.path))
    }
}
