import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ImageFiles
import Pipeline
import Testing
@testable import Reports

/// Reference values from SciPy 1.14 (`scipy.stats`), computed for these inputs with
/// `t.ppf`, `chi2.ppf`, `ks_2samp(method='exact')`, `mannwhitneyu(method='asymptotic')` and
/// `numpy.histogram_bin_edges(bins='fd')`.
@Suite struct SizeStatisticsTests {
    static let a = [1.1, 1.5, 1.9, 2.0, 2.2, 2.6, 3.1, 3.3, 4.0, 4.8]
    static let b = [1.8, 2.5, 2.7, 3.0, 3.4, 3.9, 4.4, 4.6, 5.2, 5.9, 6.3]

    @Test("t and chi-square quantiles match SciPy to 1e-6")
    func quantiles() {
        #expect(abs(Distributions.studentTQuantile(0.975, df: 9) - 2.262157162798205) < 1e-6)
        #expect(abs(Distributions.studentTQuantile(0.975, df: 99) - 1.9842169515864174) < 1e-6)
        #expect(abs(Distributions.chiSquareQuantile(0.025, df: 9) - 2.7003894999803584) < 1e-6)
        #expect(abs(Distributions.chiSquareQuantile(0.975, df: 9) - 19.02276779864163) < 1e-6)
    }

    @Test("the log-normal fit gives SciPy's geometric mean and sd with their 95 % intervals")
    func logNormal() throws {
        let f = try #require(SizeStatistics.logNormal(Self.a))
        for (ours, theirs) in [(f.geometricMean, 2.425403741577305), (f.geometricMeanCI95.low, 1.755358754948898), (f.geometricMeanCI95.high, 3.351214270628368),
                               (f.geometricSD, 1.5714155393863367), (f.geometricSDCI95.low, 1.3646330664545043), (f.geometricSDCI95.high, 2.2821854263080428)] {
            #expect(abs(ours - theirs) < 1e-6, "\(ours) vs \(theirs)")
        }
        #expect(SizeStatistics.logNormal([2, 2]) == nil && SizeStatistics.logNormal([3, 3, 3]) == nil)
        // the density integrates to 1
        let dx = 0.001
        let area = stride(from: dx, through: 40, by: dx).reduce(0) { $0 + f.pdf($1) * dx }
        #expect(abs(area - 1) < 1e-3)
    }

    @Test("Kolmogorov-Smirnov: SciPy's D, and a p-value within 0.01 of the exact one; Mann-Whitney: SciPy's U and p")
    func twoSampleTests() throws {
        let ks = try #require(SizeStatistics.kolmogorovSmirnov(Self.a, Self.b))
        #expect(abs(ks.d - 0.43636363636363634) < 1e-12)
        #expect(abs(ks.p - 0.19552841379466765) < 0.01, "\(ks.p)")
        let mw = try #require(SizeStatistics.mannWhitney(Self.a, Self.b))
        #expect(mw.u == 27 && abs(mw.p - 0.05280751141611358) < 1e-6, "\(mw)")
        // identical samples: no difference
        #expect(SizeStatistics.kolmogorovSmirnov(Self.a, Self.a)!.p == 1 && SizeStatistics.mannWhitney(Self.a, Self.a)!.p == 1)
    }

    @Test("Freedman-Diaconis bins: width 2 IQR n^(-1/3) rounded to the nearest 1, 2, 2.5 or 5 x 10^k, covering every value; Sturges without spread")
    func bins() {
        // IQR 3.25 - 1.925 = 1.325 (type 7, as numpy), 2 x 1.325 / 10^(1/3) = 1.23 -> 1
        let edges = SizeStatistics.binEdges(Self.a)
        #expect(edges.first == 1 && edges.last! > 4.8 && abs(edges[1] - edges[0] - 1) < 1e-12, "\(edges)")
        #expect(SizeStatistics.counts(Self.a, edges: edges).reduce(0, +) == Self.a.count)
        let flat = SizeStatistics.binEdges([3, 3, 3])
        #expect(flat.count >= 2 && SizeStatistics.counts([3, 3, 3], edges: flat).reduce(0, +) == 3)
        #expect(SizeStatistics.binEdges([]).isEmpty)
    }

    @Test("mean ± sd share their decimals, from two significant figures of the sd")
    func precision() {
        #expect(SizeStatistics.meanSD(1.9812, 0.7034, unit: "nm") == "1.98 ± 0.70 nm")
        #expect(SizeStatistics.meanSD(153.2, 28.4) == "153 ± 28")
        #expect(SizeStatistics.meanSD(12.345, 4.1) == "12.3 ± 4.1")
    }
}

@Suite struct FigureLayout {
    /// A map of `n` x `n` discs of radius `r` on a grid with spacing `s`.
    static func discs(_ n: Int, radius r: Int, spacing s: Int) -> (GrayImage, ParticleAnalysisResult) {
        let size = n * s
        var mask = BinaryImage(width: size, height: size)
        for i in 0..<n { for j in 0..<n {
            let cy = s / 2 + i * s, cx = s / 2 + j * s
            for y in (cy - r)...(cy + r) { for x in (cx - r)...(cx + r) where (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r { mask[y, x] = true } }
        } }
        return (GrayImage(width: size, height: size, pixels: mask.pixels.map { $0 ? 100 : 900 }), ParticleAnalysis.analyze(mask, pixelSize: .init(y: 0.1, x: 0.1)))
    }

    @Test("numbers are placed only where they cover no other particle and no other number; large particles get theirs inside")
    func labelsNeverCoverParticles() throws {
        let (_, result) = Self.discs(12, radius: 6, spacing: 16)
        let particles = Array(zip(result.regions, result.particles))
        let font = 10.0
        let places = Pictures.labelPlaces(particles, width: 192, height: 192, font: font) { text in (Double(text.count) * 6.5, 12) }
        var owner = [Int](repeating: -1, count: 192 * 192)
        for (k, (r, _)) in particles.enumerated() { for p in r.pixels { owner[p.row * 192 + p.col] = k } }
        var rects: [(Double, Double, Double, Double)] = []
        for (k, place) in places.enumerated() {
            guard let place else { continue }
            let w = Double(String(k + 1).count) * 6.5
            for row in Int(place.y)..<min(192, Int(ceil(place.y + 12))) { for col in Int(place.x)..<min(192, Int(ceil(place.x + w))) {
                #expect(owner[row * 192 + col] == -1 || owner[row * 192 + col] == k, "number \(k + 1) covers particle \(owner[row * 192 + col] + 1)")
            } }
            #expect(!rects.contains { place.x < $0.0 + $0.2 && $0.0 < place.x + w && place.y < $0.1 + $0.3 && $0.1 < place.y + 12 })
            rects.append((place.x, place.y, w, 12))
        }
        #expect(places.contains { $0 == nil }, "a dense field leaves some numbers to the SVG")
        let (_, big) = Self.discs(2, radius: 30, spacing: 80)
        let bigPlaces = Pictures.labelPlaces(Array(zip(big.regions, big.particles)), width: 160, height: 160, font: font) { text in (Double(text.count) * 6.5, 12) }
        #expect(bigPlaces.allSatisfy { $0 != nil })
    }

    @Test("the scale bar goes to the corner that covers no burned-in annotation and the fewest particles")
    func scaleBarAvoidsParticlesAndAnnotations() {
        var particles = BinaryImage(width: 400, height: 300), annotations = BinaryImage(width: 400, height: 300)
        for y in 200..<300 { for x in 250..<400 { particles[y, x] = true } }  // bottom right full of particles
        for y in 220..<300 { for x in 0..<150 { annotations[y, x] = true } }   // a burned-in bar bottom left
        let place = Pictures.scaleBarPlace(width: 400, height: 300, lengthPx: 80, thickness: 4, labelPx: 10, avoid: annotations, particles: particles)
        #expect(place.y < 100, "expected a top corner, got \(place)")
        let free = Pictures.scaleBarPlace(width: 400, height: 300, lengthPx: 80, thickness: 4, labelPx: 10, avoid: nil, particles: nil)
        #expect(free.x > 200 && free.y > 200, "bottom right by default, got \(free)")
    }

    @Test("where every corner of the image holds particles, the scale bar goes to the legend strip below the picture and covers none of them")
    func crowdedScaleBarGoesToTheLegend() throws {
        var particles = BinaryImage(width: 400, height: 300)
        for y in 0..<300 { for x in 0..<400 where (x / 20 + y / 20) % 2 == 0 { particles[y, x] = true } }  // a checkerboard of particles
        let placed = Pictures.scaleBarPlace(width: 400, height: 300, lengthPx: 80, thickness: 4, labelPx: 10, avoid: nil, particles: particles, legendTop: 300)
        #expect(placed.inLegend && placed.y >= 300 && placed.y + 4 <= 300 + Int(Pictures.legendHeight(400)) && placed.x + 80 <= 400,
                "expected the bar inside the legend strip, got \(placed)")
        let noStrip = Pictures.scaleBarPlace(width: 400, height: 300, lengthPx: 80, thickness: 4, labelPx: 10, avoid: nil, particles: particles)
        #expect(!noStrip.inLegend && noStrip.y < 300, "a picture without a legend strip keeps the bar on the image")
        let sparse = Pictures.scaleBarPlace(width: 400, height: 300, lengthPx: 80, thickness: 4, labelPx: 10, avoid: nil,
                                            particles: BinaryImage(width: 400, height: 300), legendTop: 300)
        #expect(!sparse.inLegend && sparse.x > 200 && sparse.y > 200, "a free corner keeps the bar bottom right, got \(sparse)")

        // drawn: the overlay of a frame that is particle everywhere has the bar's white in the strip, none on the image
        let size = 200
        let full = BinaryImage(width: size, height: size, pixels: [Bool](repeating: true, count: size * size))
        let figure = Pictures.segmentationOverlay(GrayImage(width: size, height: size, pixels: [Float](repeating: 500, count: size * size)),
                                                  mask: full, pixelSizeNm: 0.5)
        let (rgb, w, h) = try figure.rasterRGB()
        func white(_ rows: Range<Int>) -> Int {
            var n = 0
            for y in rows { for x in 0..<w where rgb[3 * (y * w + x)] > 250 && rgb[3 * (y * w + x) + 1] > 250 && rgb[3 * (y * w + x) + 2] > 250 { n += 1 } }
            return n
        }
        #expect(white(0..<size) == 0, "nothing of the bar or its label on the image")
        #expect(white(size..<h) > 40, "the bar (and its label) in the legend strip")
    }

    @Test("what was left out of the analysis (lettering, scale bars, --exclude) is outlined in vermillion on the overlay and the particle map, and only there")
    func leftOutRegionsAreOutlined() throws {
        let (gray, result) = Self.discs(4, radius: 6, spacing: 40)  // 160 x 160
        var leftOut = BinaryImage(width: 160, height: 160)
        for y in 130..<150 { for x in 10..<70 { leftOut[y, x] = true } }  // a burned-in label, bottom left
        func vermillion(_ figure: Figure, rows: Range<Int>, cols: Range<Int>) throws -> Int {
            let (rgb, w, _) = try figure.rasterRGB()
            var n = 0
            for y in rows { for x in cols {
                let i = 3 * (y * w + x)
                if abs(Int(rgb[i]) - 213) < 40 && abs(Int(rgb[i + 1]) - 94) < 40 && rgb[i + 2] < 50 { n += 1 }
            } }
            return n
        }
        let mask = BinaryImage(width: 160, height: 160, regions: result.regions)
        let particles = Array(zip(result.regions, result.particles))
        for (name, with, without) in [
            ("overlay", Pictures.segmentationOverlay(gray, mask: mask, pixelSizeNm: 0.1, annotations: leftOut),
             Pictures.segmentationOverlay(gray, mask: mask, pixelSizeNm: 0.1, annotations: nil)),
            ("particle map", Pictures.particleMap(gray, particles: particles, borderExcluded: [], pixelSizeNm: 0.1, annotations: leftOut),
             Pictures.particleMap(gray, particles: particles, borderExcluded: [], pixelSizeNm: 0.1, annotations: nil)),
        ] {
            // the box's top edge (row 130) is dashed: a good part of its 60 px is drawn
            #expect(try vermillion(with, rows: 129..<132, cols: 10..<70) >= 25, "\(name): the left-out box is not outlined")
            #expect(try vermillion(with, rows: 0..<120, cols: 0..<160) == 0, "\(name): vermillion away from the box")
            #expect(try vermillion(without, rows: 0..<160, cols: 0..<160) == 0, "\(name): vermillion without anything left out")
        }
    }

    @Test("text in any script renders (Å, µ, ², a sample name in Japanese) and the SVG keeps every particle number")
    func textAndSVG() throws {
        let figure = Charts.histogram([1.2, 1.5, 1.9, 2.3], title: "Größe Å µm² 金ナノ粒子", unit: "nm", fit: true)
        _ = try figure.render(.png)
        let (gray, result) = Self.discs(12, radius: 6, spacing: 16)
        let svg = Pictures.particleMapSVG(width: 192, height: 192, micrographFile: "m_micrograph.png", particles: Array(zip(result.regions, result.particles)),
                                          borderExcluded: [])
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.contains("href=\"m_micrograph.png\""))
        for k in 1...144 { #expect(svg.contains(">\(k)</text>"), "number \(k) missing") }
        // well-formed XML
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        let png = try Pictures.particleMap(gray, particles: Array(zip(result.regions, result.particles)), borderExcluded: [], pixelSizeNm: 0.1).picturePNG()
        #expect(png.count > 100)
    }
}

@Suite struct ChartFiles {
    static let reference = ProcessInfo.processInfo.environment["ANTEMA_SHARED_DATA"].map { $0 + "/antema-reference/antema-v1.0-Sheet1.csv" }
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/antema-reference/antema-v1.0-Sheet1.csv").path

    static func run(_ exe: String, _ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    @Test("every chart's SVG parses as XML and its PDF converts with poppler's pdftoppm, for no, one, equal and spread values",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftoppm"), "poppler-utils is not installed: skipping"))
    func svgParsesPDFConverts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("antema-charts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sets: [[Double]] = [[], [2.0], [3, 3, 3], [0.5, 1, 40, 100]]
        for (k, values) in sets.enumerated() {
            let figures = [Charts.histogram(values, title: "Equivalent diameter", unit: "nm", fit: true),
                           Charts.comparison([("a", values), ("b", values.map { $0 * 1.2 })], title: "Equivalent diameter", unit: "nm")]
            for (j, figure) in figures.enumerated() {
                #expect(XMLParser(data: Data(try figure.render(.svg))).parse(), "set \(k) figure \(j): the SVG does not parse")
                let pdf = dir + "/c\(k)-\(j).pdf"
                try Data(try figure.render(.pdf)).write(to: URL(fileURLWithPath: pdf))
                #expect(try Self.run("/usr/bin/pdftoppm", ["-png", "-r", "50", "-singlefile", pdf, dir + "/c\(k)-\(j)"]) == 0)
                let png = try PNGFile.read(path: dir + "/c\(k)-\(j).png")
                #expect(png.width > 100 && png.height > 50, "set \(k) figure \(j): \(png.width) x \(png.height)")
            }
        }
    }

    @Test("a real sample: the histogram of the 263 equivalent diameters of ANTEMA's reference table, with its log-normal fit",
          .enabled(if: FileManager.default.fileExists(atPath: reference), "../shared/data/antema-reference absent, skipping"))
    func realSample() throws {
        let text = try String(contentsOfFile: Self.reference, encoding: .utf8)
        let diameters = text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line -> Double? in
            let fields = line.split(separator: ",")
            return fields.count == 11 ? Double(fields[1].trimmingCharacters(in: .whitespaces)) : nil
        }
        #expect(diameters.count == 263)
        let fit = try #require(SizeStatistics.logNormal(diameters))
        #expect(fit.geometricMean > 1.4 && fit.geometricMean < 2.0, "\(fit.geometricMean)")
        let png = try Charts.histogram(diameters, title: "Equivalent diameter", unit: "nm", fit: true).render(.png)
        #expect(abs((PNGFile.dotsPerInch(png) ?? 0) - 300) < 0.1)
    }
}
