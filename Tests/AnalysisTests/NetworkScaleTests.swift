import Testing
@testable import Analysis
import Pipeline

@Suite struct NetworkScaleEstimate {
    static func particle(diameterPx d: Double) -> ParticleMeasurement {
        let area = Int((Double.pi / 4 * d * d).rounded())
        return ParticleMeasurement(areaPx: area, equivalentDiameterPx: (4 * Double(area) / Double.pi).squareRoot(), perimeterPx: Double.pi * d,
                                   feretMinPx: d, feretMaxPx: d, areaNm2: nil, equivalentDiameterNm: nil, perimeterNm: nil, feretMinNm: nil,
                                   feretMaxNm: nil, circularity: 1, aspectRatio: 1, convexity: 1, solidity: 1, centroidXPx: 0, centroidYPx: 0,
                                   box: BoundingBox(minRow: 0, minCol: 0, maxRow: 0, maxCol: 0))
    }

    @Test("the typical diameter is the area-weighted median: ten 4 px specks do not outvote two 100 px particles")
    func areaWeightedMedian() throws {
        let particles = Array(repeating: Self.particle(diameterPx: 4), count: 10) + [Self.particle(diameterPx: 100), Self.particle(diameterPx: 100)]
        let d = try #require(NetworkScale.typicalDiameterPx(particles))
        #expect(abs(d - 100) < 0.1)
        // a plain median would say 4 px
        #expect(NetworkScale.typicalDiameterPx([]) == nil)
        // one particle: its diameter
        #expect(abs(NetworkScale.typicalDiameterPx([Self.particle(diameterPx: 20)])! - 20) < 0.1)
    }

    @Test("the scale brings the typical diameter to 80 px, within a factor of √2 of the first pass's half scale")
    func scaleWithinRange() {
        #expect(abs(NetworkScale.scale(forTypicalDiameterPx: 160) - 0.5) < 1e-12)
        #expect(abs(NetworkScale.scale(forTypicalDiameterPx: 133.3333333333) - 0.6) < 1e-9)
        #expect(abs(NetworkScale.scale(forTypicalDiameterPx: 1000) - 0.5 / 2.0.squareRoot()) < 1e-12)
        #expect(abs(NetworkScale.scale(forTypicalDiameterPx: 5) - 0.5 * 2.0.squareRoot()) < 1e-12)
        #expect(NetworkScale.scale(forTypicalDiameterPx: 0) == NetworkScale.firstPassScale)
        #expect(NetworkScale.scale(forTypicalDiameterPx: .nan) == NetworkScale.firstPassScale)
    }
}

extension GrayImage {
    /// The top-left `width` x `height` pixels.
    func cropped(width w: Int, height h: Int) -> GrayImage {
        GrayImage(width: w, height: h, pixels: (0..<h).flatMap { r in self.pixels[(r * self.width)..<(r * self.width + w)] })
    }
}

@Suite struct SmallBlobCheck {
    /// Dark discs of `diameter` px on a hexagonal grid `spacing` apart (a monolayer), on a bright support with a little noise.
    static func monolayer(size: Int, diameter: Double, spacing: Double) -> GrayImage {
        var pixels = [Float](repeating: 200, count: size * size)
        var state: UInt64 = 7
        for k in pixels.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; pixels[k] += Float(state >> 60) }
        let rowStep = spacing * 3.0.squareRoot() / 2
        var y = 0.0, row = 0
        while y < Double(size) {
            var x = row % 2 == 0 ? 0 : spacing / 2
            while x < Double(size) {
                let r = diameter / 2
                for yy in max(0, Int(y - r))...min(size - 1, Int(y + r)) { for xx in max(0, Int(x - r))...min(size - 1, Int(x + r))
                    where (Double(yy) - y) * (Double(yy) - y) + (Double(xx) - x) * (Double(xx) - x) <= r * r { pixels[yy * size + xx] = 60 } }
                x += spacing
            }
            y += rowStep; row += 1
        }
        return GrayImage(width: size, height: size, pixels: pixels)
    }

    @Test("a monolayer of 5 px particles is found as small blobs (about their diameter) and brought to twice its pixels; one of 40 px particles is not small")
    func monolayerOfSmallParticles() throws {
        let d = try #require(NetworkScale.smallBlobDiameterPx(Self.monolayer(size: 256, diameter: 5, spacing: 7)))
        #expect(d >= 3 && d <= 9, "\(d) px")
        #expect(NetworkScale.scale(forSmallBlobDiameterPx: d) == 2)
        #expect(NetworkScale.smallBlobDiameterPx(Self.monolayer(size: 256, diameter: 40, spacing: 60)) == nil)
        // a flat image has no blobs
        #expect(NetworkScale.smallBlobDiameterPx(GrayImage(width: 64, height: 64, pixels: [Float](repeating: 3, count: 64 * 64))) == nil)
        // small and oddly shaped images are looked at without harm (scales beyond their size skipped)
        for (w, h) in [(32, 32), (33, 700), (40, 47), (31, 31), (1, 1)] {
            _ = NetworkScale.smallBlobDiameterPx(Self.monolayer(size: max(w, h), diameter: 5, spacing: 7).cropped(width: w, height: h))
        }
    }
}

@Suite struct SecondPass {
    static func outcome(particles: [ParticleMeasurement], foregroundPx: Int, size: Int = 512) -> FrameOutcome {
        var o = FrameOutcome(path: "x.png", frame: 0, width: size, height: size)
        var mask = BinaryImage(width: size, height: size)
        for k in 0..<min(foregroundPx, size * size) { mask.pixels[k] = true }
        o.segmentation = mask
        o.particles = particles
        return o
    }

    @Test("a first pass of resolved 100 px particles asks for a second at 0.8 x 0.707; one of 160 px particles stands; one without particles stands")
    func resolvedParticles() {
        let flat = GrayImage(width: 256, height: 256, pixels: [Float](repeating: 1, count: 256 * 256))
        let big = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 100) }
        let area = big.reduce(0) { $0 + $1.areaPx }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: big, foregroundPx: area), image: flat).map { abs($0 - 0.5 * 2.0.squareRoot()) < 1e-12 } == true)
        let typical = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 160) }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: typical, foregroundPx: typical.reduce(0) { $0 + $1.areaPx }), image: flat) == nil)
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: [], foregroundPx: 0), image: flat) == nil)
    }

    @Test("a first pass that resolved little of its foreground on a monolayer of 5 px particles asks for twice the pixels")
    func unresolvedMonolayer() {
        let image = SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)
        let patch = [NetworkScaleEstimate.particle(diameterPx: 60)]
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: patch, foregroundPx: 30_000), image: image) == 2)
    }

    @Test("a calibrated frame: a first pass that resolved little of a monolayer of 5 px particles asks for a zoom of 2 (less where the network saw it enlarged already: the blobs at its input are brought to 16 px); a resolved one, or large particles, keep the first pass")
    func calibratedZoom() {
        let image = SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)
        let patch = [NetworkScaleEstimate.particle(diameterPx: 60)]
        var unresolved = Self.outcome(particles: patch, foregroundPx: 30_000)
        unresolved.networkInputScale = 1
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == 2)
        // the small-blob diameter at the network's input decides: seen at 2 x, blobs of about
        // 10 px need less (or, within the second-pass factor of 1, none)
        unresolved.networkInputScale = 2
        let d = NetworkScale.smallBlobDiameterPx(image)!
        let expected = NetworkScale.scale(forSmallBlobDiameterPx: 2 * d)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == (expected > NetworkScale.secondPassFactor ? expected : nil))
        let separated = (0..<600).map { _ in NetworkScaleEstimate.particle(diameterPx: 5) }
        var resolved = Self.outcome(particles: separated, foregroundPx: separated.reduce(0) { $0 + $1.areaPx })
        resolved.networkInputScale = 1
        #expect(NetworkScale.calibratedZoom(after: resolved, image: image) == nil)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: SmallBlobCheck.monolayer(size: 256, diameter: 40, spacing: 60)) == nil)
        #expect(NetworkScale.calibratedZoom(after: Self.outcome(particles: [], foregroundPx: 0), image: image) == nil)
    }

    @Test("a calibrated frame: small blobs narrower than 1 nm (lattice fringes, a carbon film's grain, noise) call for no zoom; the same 5 px blobs at 0.5 nm/px (2.5 nm) do")
    func calibratedZoomNeedsParticleSizedBlobs() throws {
        let image = SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)
        let d = try #require(NetworkScale.smallBlobDiameterPx(image))
        let patch = [NetworkScaleEstimate.particle(diameterPx: 60)]
        var unresolved = Self.outcome(particles: patch, foregroundPx: 30_000)
        unresolved.networkInputScale = 1
        // just below and just above the smallest particle, in the frame's own pixel size
        unresolved.pixelSize = PixelSizeNm(square: 0.99 * NetworkScale.smallestParticleNm / d)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == nil)
        unresolved.pixelSize = PixelSizeNm(square: 1.01 * NetworkScale.smallestParticleNm / d)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == 2)
        unresolved.pixelSize = PixelSizeNm(square: 0.5)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == 2)
        // non-square pixels: the geometric mean decides (0.02 x 0.05 nm: 0.032 nm, 5 px blobs 0.16 nm)
        unresolved.pixelSize = PixelSizeNm(y: 0.02, x: 0.05)
        #expect(NetworkScale.calibratedZoom(after: unresolved, image: image) == nil)
    }
}

@Suite struct LetteringFragments {
    /// A 300 x 300 frame: "50 nm" in dark block letters 20 px tall at the bottom left (rows
    /// 250-270, columns 20-92) with its bar, and two dark particles; its segmentation holds the
    /// particles and only the two right strokes of the "m" (too few for a line of text).
    static func frame() -> (InputFrame, BinaryImage) {
        var ink = BinaryImage(width: 300, height: 300)
        func rect(_ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int) { for r in r0..<r1 { for c in c0..<c1 { ink[r, c] = true } } }
        let top = 250, base = 270, left = 20
        rect(top, top + 4, left, left + 12); rect(top, top + 11, left, left + 4); rect(top + 8, top + 12, left, left + 12)
        rect(top + 8, base, left + 8, left + 12); rect(base - 4, base, left, left + 12)
        rect(top, top + 4, left + 16, left + 28); rect(base - 4, base, left + 16, left + 28); rect(top, base, left + 16, left + 20); rect(top, base, left + 24, left + 28)
        rect(base - 14, base - 10, left + 36, left + 48); rect(base - 14, base, left + 36, left + 40); rect(base - 14, base, left + 44, left + 48)
        rect(base - 14, base - 10, left + 52, left + 72); rect(base - 14, base, left + 52, left + 56); rect(base - 14, base, left + 60, left + 64); rect(base - 14, base, left + 68, left + 72)
        rect(base + 8, base + 14, left, left + 90)
        var mask = BinaryImage(width: 300, height: 300)
        for (cy, cx) in [(100, 120), (160, 200)] {
            for r in (cy - 15)...(cy + 15) { for c in (cx - 15)...(cx + 15) where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 225 { ink[r, c] = true; mask[r, c] = true } }
        }
        for r in (base - 13)..<base { for c in (left + 60)..<(left + 64) { mask[r, c] = true }; for c in (left + 68)..<(left + 72) { mask[r, c] = true } }
        let image = GrayImage(width: 300, height: 300, pixels: ink.pixels.map { $0 ? 50 : 190 })
        return (InputFrame(path: "f.png", frame: 0, image: image, pixelSize: nil), mask)
    }

    @Test("in a frame the network saw shrunk, fragments of lettering it marked are left out because the image shows the line they belong to; at its own pixels the segmentation alone decides")
    func fragmentsOfLetteringInAShrunkFrame() {
        let (input, mask) = Self.frame()
        var settings = RunSettings(antemaVersion: "test", segmenter: .model(name: "n", version: "1", path: "n.onnx", threshold: 0.5),
                                   analysis: AnalysisParameters(), fallbackPixelSizeNm: nil)
        settings.analysis.overlap = .separate
        let shrunk = BatchAnalysis.analyze(input, mask: mask, prediction: nil, settings: settings, networkScale: 0.5)
        #expect(shrunk.particles.count == 2, "\(shrunk.particles.map { ($0.centroidXPx, $0.centroidYPx) })")
        #expect(shrunk.exclude?[260, 82] == true && shrunk.exclude?[260, 90] == true, "both strokes left out")
        let native = BatchAnalysis.analyze(input, mask: mask, prediction: nil, settings: settings, networkScale: nil)
        #expect(native.particles.count == 4, "the two strokes count where the frame was not shrunk (the segmentation's own text search needs three glyphs)")
    }
}

@Suite struct LetteringOnlyInExports {
    /// Three T-shaped objects (4 px strokes, 20 px tall) on one baseline near the top edge, the
    /// shape of a line of text, and two round particles; the image draws them dark on light,
    /// with `levels` grey levels in all.
    static func frame(levels: Int) -> (InputFrame, BinaryImage) {
        var mask = BinaryImage(width: 300, height: 300)
        for left in [20, 44, 68] {
            for r in 10..<14 { for c in left..<(left + 16) { mask[r, c] = true } }
            for r in 10..<30 { for c in (left + 6)..<(left + 10) { mask[r, c] = true } }
        }
        for (cy, cx) in [(150, 100), (200, 200)] {
            for r in (cy - 12)...(cy + 12) { for c in (cx - 12)...(cx + 12) where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 144 { mask[r, c] = true } }
        }
        // the support's grey varies in steps of 1 / 1000 (detector counts) or whole values only (an export)
        let pixels = mask.pixels.enumerated().map { i, on -> Float in (on ? 50 : 190) + (levels > 256 ? Float(i % 1000) / 1000 : 0) }
        return (InputFrame(path: "f", frame: 0, image: GrayImage(width: 300, height: 300, pixels: pixels), pixelSize: PixelSizeNm(y: 0.5, x: 0.5)), mask)
    }

    @Test("a line of glyph-shaped objects near the edge is left out as lettering in an 8-bit export, but counted as particles in a detector's own data (more than 256 grey levels), which never holds burned-in text")
    func rodsInARowAreParticlesInRawData() {
        var settings = RunSettings(antemaVersion: "test", segmenter: .model(name: "n", version: "1", path: "n.onnx", threshold: 0.5),
                                   analysis: AnalysisParameters(), fallbackPixelSizeNm: nil)
        settings.analysis.overlap = .flag
        let (export, mask) = Self.frame(levels: 2)
        #expect(export.image.hasAtMostGreyLevels(256))
        let fromExport = BatchAnalysis.analyze(export, mask: mask, prediction: nil, settings: settings)
        #expect(fromExport.particles.count == 2, "the three glyphs are lettering in an export")
        #expect(fromExport.exclude?[12, 30] == true)
        let (raw, sameMask) = Self.frame(levels: 1000)
        #expect(!raw.image.hasAtMostGreyLevels(256))
        let fromRaw = BatchAnalysis.analyze(raw, mask: sameMask, prediction: nil, settings: settings)
        #expect(fromRaw.particles.count == 5, "all five objects are particles in detector data")
        #expect(fromRaw.exclude?[12, 30] != true)
    }

    @Test("grey levels are counted exactly up to the limit: 256 levels of an 8-bit ramp pass, one more value does not; fractional and non-finite values count as levels too")
    func greyLevelCount() {
        let ramp = (0..<1024).map { Float($0 % 256) }
        #expect(GrayImage(width: 32, height: 32, pixels: ramp).hasAtMostGreyLevels(256))
        #expect(!GrayImage(width: 32, height: 32, pixels: ramp).hasAtMostGreyLevels(255))
        #expect(!GrayImage(width: 1025, height: 1, pixels: ramp + [0.5]).hasAtMostGreyLevels(256))
        #expect(!GrayImage(width: 1025, height: 1, pixels: ramp + [.nan]).hasAtMostGreyLevels(256))
        #expect(GrayImage(width: 3, height: 1, pixels: [-1.5, .infinity, 70000]).hasAtMostGreyLevels(3))
        #expect(!GrayImage(width: 3, height: 1, pixels: [-1.5, .infinity, 70000]).hasAtMostGreyLevels(2))
    }
}

@Suite struct FrameWarnings {
    @Test("a frame says when it has no calibration, and when the network saw it enlarged less than asked (by its pixel size or by --network-scale)")
    func warningsNameTheirCause() {
        var uncalibrated = FrameOutcome(path: "a.png", frame: 0, width: 10, height: 10, pixelSize: nil)
        uncalibrated.networkInputScale = 2
        #expect(uncalibrated.warnings == ["no calibration: measured in pixels (the _px columns; nm columns empty); the network saw it at 2.00 x its pixels"])
        uncalibrated.networkScaleLimited = true
        #expect(uncalibrated.warnings.count == 2 && uncalibrated.warnings[1].contains("less than --network-scale asks for"))
        var calibrated = FrameOutcome(path: "b.dm3", frame: 0, width: 10, height: 10, pixelSize: PixelSizeNm(y: 20, x: 20))
        #expect(calibrated.warnings.isEmpty)
        calibrated.networkScaleLimited = true
        #expect(calibrated.warnings.count == 1 && calibrated.warnings[0].contains("less than its pixel size asks for"))
    }
}
