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
    /// The centres of a hexagonal grid `spacing` apart (rows √3/2 spacings apart, every other one
    /// shifted by half a spacing), from the origin up to below `extent` px along both axes.
    static func hexagonalCentres(spacing: Double, extent: Double) -> [(y: Double, x: Double)] {
        var centres: [(y: Double, x: Double)] = []
        let rowStep = spacing * 3.0.squareRoot() / 2
        var y = 0.0, row = 0
        while y < extent {
            var x = row % 2 == 0 ? 0 : spacing / 2
            while x < extent {
                centres.append((y, x))
                x += spacing
            }
            y += rowStep; row += 1
        }
        return centres
    }

    /// Dark discs of `diameter` px on a hexagonal grid `spacing` apart (a monolayer), on a bright support with a little noise.
    static func monolayer(size: Int, diameter: Double, spacing: Double) -> GrayImage {
        var pixels = [Float](repeating: 200, count: size * size)
        var state: UInt64 = 7
        for k in pixels.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; pixels[k] += Float(state >> 60) }
        for (y, x) in hexagonalCentres(spacing: spacing, extent: Double(size)) {
            let r = diameter / 2
            for yy in max(0, Int(y - r))...min(size - 1, Int(y + r)) { for xx in max(0, Int(x - r))...min(size - 1, Int(x + r))
                where (Double(yy) - y) * (Double(yy) - y) + (Double(xx) - x) * (Double(xx) - x) <= r * r { pixels[yy * size + xx] = 60 } }
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
        let big = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 100) }
        let area = big.reduce(0) { $0 + $1.areaPx }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: big, foregroundPx: area)).map { abs($0 - 0.5 * 2.0.squareRoot()) < 1e-12 } == true)
        let typical = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 160) }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: typical, foregroundPx: typical.reduce(0) { $0 + $1.areaPx })) == nil)
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: [], foregroundPx: 0)) == nil)
    }

    @Test("a monolayer of 5 px particles, seen at half its pixels by the first pass, is tried at twice them")
    func monolayerTried() throws {
        let d = try #require(NetworkScale.smallBlobDiameterPx(SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)))
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: d, current: NetworkScale.firstPassScale) == 2)
    }

    @Test("a calibrated frame: a monolayer of 5 px particles seen at the frame's pixels is tried at a zoom of 2 (less where the network saw it enlarged already: the blobs at its input are brought to 16 px)")
    func calibratedZoom() throws {
        let d = try #require(NetworkScale.smallBlobDiameterPx(SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)))
        var first = Self.outcome(particles: [NetworkScaleEstimate.particle(diameterPx: 60)], foregroundPx: 30_000)
        first.networkInputScale = 1
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == 2)
        // the small-blob diameter at the network's input decides: seen at 2 x, blobs of about
        // 10 px need less (or, within the second-pass factor of 1, none)
        first.networkInputScale = 2
        let expected = NetworkScale.scale(forSmallBlobDiameterPx: 2 * d)
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == (expected > NetworkScale.secondPassFactor ? expected : nil))
        first.networkInputScale = 4
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == nil)
    }

    @Test("a calibrated frame: small blobs narrower than 1 nm (lattice fringes, a carbon film's grain, noise) call for no zoom; the same 5 px blobs at 0.5 nm/px (2.5 nm) do")
    func calibratedZoomNeedsParticleSizedBlobs() throws {
        let d = try #require(NetworkScale.smallBlobDiameterPx(SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)))
        var first = Self.outcome(particles: [NetworkScaleEstimate.particle(diameterPx: 60)], foregroundPx: 30_000)
        first.networkInputScale = 1
        // just below and just above the smallest particle, in the frame's own pixel size
        first.pixelSize = PixelSizeNm(square: 0.99 * NetworkScale.smallestParticleNm / d)
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == nil)
        first.pixelSize = PixelSizeNm(square: 1.01 * NetworkScale.smallestParticleNm / d)
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == 2)
        first.pixelSize = PixelSizeNm(square: 0.5)
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == 2)
        // non-square pixels: the geometric mean decides (0.02 x 0.05 nm: 0.032 nm, 5 px blobs 0.16 nm)
        first.pixelSize = PixelSizeNm(y: 0.02, x: 0.05)
        #expect(NetworkScale.calibratedZoom(after: first, blobDiameterPx: d) == nil)
    }
}

@Suite struct SmallParticleRetry {
    static func pass(_ diameters: [Double]) -> FrameOutcome {
        let particles = diameters.map { NetworkScaleEstimate.particle(diameterPx: $0) }
        return SecondPass.outcome(particles: particles, foregroundPx: particles.reduce(0) { $0 + $1.areaPx })
    }

    /// A 512 x 512 frame whose first `dark` pixels (row-major, where `SecondPass.outcome` puts its
    /// segmentation) are 60 and the rest 200 with a little deterministic noise (0-12); `dark` 0:
    /// noise only.
    static func frame(dark: Int) -> GrayImage {
        GrayImage(width: 512, height: 512, pixels: (0..<(512 * 512)).map { $0 < dark ? 60 : 200 + Float(($0 * 7919) % 13) })
    }

    @Test("a field of small blobs seen at half its pixels is tried at twice them; one seen at 2 x already, or at 1.7 x (within the second-pass factor), is not")
    func scaleToTry() {
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: 5, current: 0.5) == 2)
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: 5, current: 2) == nil)
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: 5, current: 1.7) == nil)
        // 10 px blobs need 1.6 x: from 1 x, tried; 12 px blobs need 1.33 x, within 1.25 of 1.1 x
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: 10, current: 1).map { abs($0 - 1.6) < 1e-12 } == true)
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: 12, current: 1.1) == nil)
    }

    @Test("the tried pass is kept where it finds many particles about the blobs' size that stand out from their surroundings, and the earlier pass found none, or read the frame as large patches; not where it finds the same large particles again, too few, particles far larger than the blobs, or specks no darker than the ring around them")
    func confirmation() {
        func confirms(_ candidate: FrameOutcome, _ d: Double, _ previous: FrameOutcome, contrast: Bool = true) -> Bool {
            let dark = candidate.segmentation?.pixels.reduce(0) { $0 + ($1 ? 1 : 0) } ?? 0
            return NetworkScale.confirmsSmallParticles(candidate, blobDiameterPx: d, previous: previous, image: Self.frame(dark: contrast ? dark : 0))
        }
        let field = Self.pass(Array(repeating: 7, count: 300))
        #expect(confirms(field, 5.7, Self.pass([])))
        // the support between monolayer islands taken for three large particles
        #expect(confirms(field, 5.7, Self.pass([170, 160, 150])))
        // packed particles left touching in pairs and triplets: typical 22 px from 4.8 px blobs
        #expect(confirms(Self.pass(Array(repeating: 22, count: 400)), 4.8, Self.pass([160, 120])))
        // a rod on a noisy film seen at 2 x as a web of noise: typical 61 px from 8 px blobs
        #expect(!confirms(Self.pass(Array(repeating: 61, count: 30)), 8, Self.pass([179])))
        // grainy SEM spheres: the tried pass finds the same 80 px spheres again
        #expect(!confirms(Self.pass(Array(repeating: 79, count: 40)), 9.5, Self.pass(Array(repeating: 87, count: 30))))
        // rods in a carbon film's grain: 45 px against 3.4 px blobs
        #expect(!confirms(Self.pass(Array(repeating: 45, count: 32)), 3.4, Self.pass([])))
        // fewer than 20 particles is no field
        #expect(!confirms(Self.pass(Array(repeating: 7, count: 19)), 5.7, Self.pass([])))
        #expect(!confirms(Self.pass([]), 5.7, Self.pass([])))
        // the noise grain around a pair drawn as specks: as many and as small, but no darker than their surroundings
        #expect(!confirms(field, 5.7, Self.pass([40, 35]), contrast: false))
    }

    @Test("a segmentation's contrast: dark particles on a bright support stand out by many standard deviations of the ring around them; a mask on flat noise by about none; no segmentation, no figure")
    func contrast() throws {
        let field = Self.pass(Array(repeating: 7, count: 300))
        let dark = field.segmentation!.pixels.reduce(0) { $0 + ($1 ? 1 : 0) }
        // inside 60, ring 200 + noise of sd about 3.7: (206 - 60) / 3.7, about 39
        let high = try #require(NetworkScale.segmentationContrast(field, image: Self.frame(dark: dark)))
        #expect(high > 30)
        let low = try #require(NetworkScale.segmentationContrast(field, image: Self.frame(dark: 0)))
        #expect(low < 0.5)
        var none = field
        none.segmentation = nil
        #expect(NetworkScale.segmentationContrast(none, image: Self.frame(dark: 0)) == nil)
    }

    @Test("a faint monolayer beside bright bare support, under a gradient of illumination, holds small blobs (the bare half's edge, at the largest scales, is not compared with them), but they do not dominate the image")
    func monolayerBesideBareSupport() throws {
        let size = 256
        var image = SmallBlobCheck.monolayer(size: size, diameter: 5, spacing: 7)
        for r in 0..<size { for c in 0..<size {
            let k = r * size + c
            // particles 90 on a support of 150 (plus the noise), the right half bare and bright
            image.pixels[k] = c >= size / 2 ? 255 : image.pixels[k] < 100 ? 90 : image.pixels[k] - 50
            image.pixels[k] *= Float(0.6 + 0.8 * Double(r) / Double(size))
        } }
        let blobs = try #require(NetworkScale.smallBlobs(image))
        #expect(blobs.diameterPx >= 3 && blobs.diameterPx <= 9, "\(blobs.diameterPx) px")
        #expect(!blobs.dominant)
        let dominant = NetworkScale.smallBlobDiameterPx(image) != nil
        #expect(!dominant)
        // the monolayer alone is dominated by them
        #expect(NetworkScale.smallBlobs(SmallBlobCheck.monolayer(size: size, diameter: 5, spacing: 7))?.dominant == true)
    }
}

@Suite struct PackedFieldRetry {
    /// A 512 x 512 frame whose rows take the grey level of the first band they lie above (`bands`:
    /// (rows up to, level)), the last band's level below, plus a little deterministic noise (0-12).
    static func frame(_ bands: [(rows: Int, level: Float)], rest: Float) -> GrayImage {
        GrayImage(width: 512, height: 512, pixels: (0..<(512 * 512)).map { k in
            (bands.first { k / 512 < $0.rows }?.level ?? rest) + Float((k * 7919) % 13)
        })
    }

    /// A pass whose segmentation is the frame's first `rows` rows: one object, the whole band.
    static func band(rows: Int) -> FrameOutcome {
        SecondPass.outcome(particles: [], foregroundPx: rows * 512)
    }

    @Test("a packed field whose bare support the first pass took for one large patch is seen at the period's scale where that pass covers the field and stands out twice as much, however faintly; not where it covers a lone pair's worth of the frame, stands out less than twice as much, or the first pass resolved the field")
    func packedFieldPassKept() {
        let period = 4.5
        // the field fills the top 460 rows (dark), bare support below; the first pass drew a
        // patch over the top 225 rows, inside the field, standing out from nothing
        let field = Self.frame([(460, 60)], rest: 200)
        let first = Self.band(rows: 225)
        #expect(NetworkScale.takesPackedFieldPass(Self.band(rows: 460), first: first, periodPx: period, image: field))
        // a faint field (196 on a support of 200): the tried pass stands out about one standard
        // deviation, below the small-blob try's floor, and is kept all the same
        let faint = Self.frame([(460, 196)], rest: 200)
        #expect(!NetworkScale.sharpensSegmentation(Self.band(rows: 460), previous: first, image: faint))
        #expect(NetworkScale.takesPackedFieldPass(Self.band(rows: 460), first: first, periodPx: period, image: faint))
        // the tried pass covers 0.065 of the frame: no field
        #expect(!NetworkScale.takesPackedFieldPass(Self.band(rows: 33), first: first, periodPx: period, image: Self.frame([(33, 60)], rest: 200)))
        // the first pass's patch ends at an edge of the image too (60 above, 130 below): the
        // tried pass stands out more, but not twice as much
        let steps = Self.frame([(225, 60), (460, 130)], rest: 200)
        let before = NetworkScale.segmentationContrast(first, image: steps) ?? 0
        let after = NetworkScale.segmentationContrast(Self.band(rows: 460), image: steps) ?? 0
        #expect(after > before && after < NetworkScale.sharperContrastFactor * before, "\(before) -> \(after)")
        #expect(!NetworkScale.takesPackedFieldPass(Self.band(rows: 460), first: first, periodPx: period, image: steps))
        // a first pass of 3 x 3 dots 4 px apart over the field resolved it: nothing to retry
        var dots = SecondPass.outcome(particles: [], foregroundPx: 0)
        for r in 0..<460 where r % 4 < 3 { for c in 0..<512 where c % 4 < 3 { dots.segmentation!.pixels[r * 512 + c] = true } }
        #expect(NetworkScale.resolvesPackedField(dots, periodPx: period))
        #expect(!NetworkScale.takesPackedFieldPass(Self.band(rows: 460), first: dots, periodPx: period, image: field))
    }
}

@Suite struct WeakPackingPeriod {
    @Test("a spectral peak too weak on its own is a packed field's period where the small blobs agree with it and the kept small-particle pass left its particles merged over four periods or more; not without that pass, below a prominence of 1.5, with blobs half as large again, or where the pass resolved particles about three periods across")
    func weakPeakTakenWithAgreement() {
        let peak = (periodPx: 7.24, prominence: 1.97)
        let merged = SmallParticleRetry.pass(Array(repeating: 42.6, count: 97))
        #expect(NetworkScale.packingPeriodPx(peak: peak) == nil)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: peak, blobDiameterPx: 8, keptPass: merged) == 7.24)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: peak, blobDiameterPx: 8, keptPass: nil) == nil)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: (periodPx: 7.24, prominence: 1.4), blobDiameterPx: 8, keptPass: merged) == nil)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: peak, blobDiameterPx: 11.5, keptPass: merged) == nil)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: peak, blobDiameterPx: nil, keptPass: merged) == nil)
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: nil, blobDiameterPx: 8, keptPass: merged) == nil)
        // SEM spheres of 36 px resolved at the blobs' scale, the peak at 11.2 px: 3.2 periods
        let spheres = SmallParticleRetry.pass(Array(repeating: 36, count: 231))
        #expect(NetworkScale.agreeingPackingPeriodPx(peak: (periodPx: 11.2, prominence: 2.66), blobDiameterPx: 8, keptPass: spheres) == nil)
        // a strong peak needs none of it
        #expect(NetworkScale.packingPeriodPx(peak: (periodPx: 4.5, prominence: 5.4)) == 4.5)
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
