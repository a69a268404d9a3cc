import Foundation
import Testing
@testable import Analysis
import Pipeline

@Suite struct PowerSpectrumPeaks {
    /// A deterministic noise source (a linear congruential generator), uniform in [-1, 1).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    /// A cosine grating of `periodPx` along a direction at `angle` (radians), plus uniform noise of `noise` grey levels.
    static func grating(size: Int, periodPx: Double, angle: Double, noise: Float = 0) -> GrayImage {
        var rng = Noise(state: 11)
        var pixels = [Float](repeating: 0, count: size * size)
        for r in 0..<size { for c in 0..<size {
            let t = (Double(c) * cos(angle) + Double(r) * sin(angle)) / periodPx
            pixels[r * size + c] = 100 + Float(40 * cos(2 * Double.pi * t)) + noise * rng.next()
        } }
        return GrayImage(width: size, height: size, pixels: pixels)
    }

    /// Dark spheres of `diameter` px (grey level 200 - 140 x their relative thickness) packed on a
    /// hexagonal grid `spacing` apart, quantised to 16 grey levels after uniform noise of `noise`
    /// grey levels: a low-magnification monolayer as an 8-bit export shows it.
    static func packedMonolayer(size: Int, diameter: Double, spacing: Double, noise: Float) -> GrayImage {
        var pixels = [Float](repeating: 200, count: size * size)
        let r = diameter / 2
        for (y, x) in SmallBlobCheck.hexagonalCentres(spacing: spacing, extent: Double(size) + spacing) {
            let top = max(0, Int(y - r)), bottom = min(size, Int(y + r) + 1), left = max(0, Int(x - r)), right = min(size, Int(x + r) + 1)
            guard top < bottom && left < right else { continue }
            for yy in top..<bottom { for xx in left..<right {
                // a sphere's projected thickness: darkest at its centre
                let rho2 = (Double(yy) - y) * (Double(yy) - y) + (Double(xx) - x) * (Double(xx) - x)
                if rho2 <= r * r { pixels[yy * size + xx] = min(pixels[yy * size + xx], Float(200 - 140 * (1 - rho2 / (r * r)).squareRoot())) }
            } }
        }
        var rng = Noise(state: 5)
        for k in pixels.indices { pixels[k] = (min(255, max(0, pixels[k] + noise * rng.next())) / 16).rounded(.down) * 16 }
        return GrayImage(width: size, height: size, pixels: pixels)
    }

    @Test("a cosine grating's spectrum peaks at its period (within a bin, 2^(1/16)), whatever its direction")
    func gratingPeaksAtItsPeriod() throws {
        for (period, angle) in [(8.0, 0.0), (5.0, 0.6), (11.0, Double.pi / 2), (3.0, 1.1), (30.0, 0.3)] {
            let spectrum = try #require(PowerSpectrum(Self.grating(size: 256, periodPx: period, angle: angle)))
            let peak = try #require(spectrum.mostProminentPeak(maximumPeriodPx: 48))
            #expect(abs(log2(peak.periodPx / period)) <= 1.0 / 16 + 1e-9, "period \(period) at \(angle): peak at \(peak.periodPx)")
            #expect(peak.prominence > 100, "period \(period): prominence \(peak.prominence)")
        }
    }

    @Test("white noise has no prominent peak, and a flat image none at all; images under 128 px have no spectrum")
    func noiseHasNoPeak() throws {
        var rng = Noise(state: 3)
        let noise = GrayImage(width: 300, height: 280, pixels: (0..<(300 * 280)).map { _ in 100 + 50 * rng.next() })
        let spectrum = try #require(PowerSpectrum(noise))
        let peak = try #require(spectrum.mostProminentPeak(maximumPeriodPx: 48))
        #expect(peak.prominence < NetworkScale.packingMinimumProminence, "\(peak)")
        #expect(NetworkScale.packingPeriodPx(noise) == nil)
        let flat = GrayImage(width: 128, height: 128, pixels: [Float](repeating: 7, count: 128 * 128))
        let flatSpectrum = try #require(PowerSpectrum(flat))
        #expect(flatSpectrum.power.allSatisfy { $0 == 0 })
        #expect(NetworkScale.packingPeriodPx(flat) == nil)
        #expect(PowerSpectrum(GrayImage(width: 127, height: 500, pixels: [Float](repeating: 1, count: 127 * 500))) == nil)
        // non-finite pixels count as the tile's mean
        var holes = Self.grating(size: 128, periodPx: 6, angle: 0.2)
        for k in stride(from: 0, to: holes.pixels.count, by: 97) { holes.pixels[k] = .nan }
        let holesSpectrum = try #require(PowerSpectrum(holes))
        let withHoles = try #require(holesSpectrum.mostProminentPeak(maximumPeriodPx: 48))
        #expect(abs(log2(withHoles.periodPx / 6)) <= 1.0 / 16 + 1e-9)
    }

    @Test("a tightly packed monolayer of 4.5 px particles in 16 grey levels, which the Laplacian's blobs miss, repeats at its row spacing (5 px apart: 4.33 px); one of 40 px particles is not a field of small ones")
    func packedMonolayerFoundBySpectrum() throws {
        let packed = Self.packedMonolayer(size: 512, diameter: 4.5, spacing: 5, noise: 120)
        #expect(NetworkScale.smallBlobs(packed) == nil)
        let period = try #require(NetworkScale.packingPeriodPx(packed))
        #expect(abs(period - 5 * 3.0.squareRoot() / 2) < 0.3, "\(period) px")
        #expect(NetworkScale.smallParticleScale(blobDiameterPx: period, current: NetworkScale.firstPassScale) == 2)
        // large particles' lattice answers at its own period (38 px), above the small range
        #expect(NetworkScale.packingPeriodPx(Self.packedMonolayer(size: 512, diameter: 40, spacing: 44, noise: 30)) == nil)
        // odd sizes are looked at without harm
        for (w, h) in [(64, 64), (65, 700), (300, 97), (63, 63)] {
            _ = NetworkScale.packingPeriodPx(packed.cropped(width: w, height: min(h, 512)))
        }
    }
}

@Suite struct PackedFieldSplit {
    @Test("a tried pass that draws the field sharply (contrast 39 against a first pass's none) is kept even with its particles merged; one as dull as the first pass's, or without contrast of its own, is not")
    func sharperSegmentationKept() {
        // the same segmentation on a frame where it covers the dark pixels, and on one of noise only
        let merged = SmallParticleRetry.pass(Array(repeating: 60, count: 10))
        let dark = merged.segmentation!.pixels.reduce(0) { $0 + ($1 ? 1 : 0) }
        let image = SmallParticleRetry.frame(dark: dark)
        // a first pass whose segmentation lies on the support: no contrast
        var dull = SecondPass.outcome(particles: [], foregroundPx: 0)
        var onSupport = BinaryImage(width: 512, height: 512)
        for k in (512 * 300)..<(512 * 400) { onSupport.pixels[k] = true }
        dull.segmentation = onSupport
        #expect(NetworkScale.sharpensSegmentation(merged, previous: dull, image: image))
        // no earlier segmentation at all: its own contrast decides
        var nothing = dull
        nothing.segmentation = nil
        #expect(NetworkScale.sharpensSegmentation(merged, previous: nothing, image: image))
        // as sharp as the earlier pass: not kept on this ground
        #expect(!NetworkScale.sharpensSegmentation(merged, previous: merged, image: image))
        // no contrast of its own (the frame is noise only)
        #expect(!NetworkScale.sharpensSegmentation(merged, previous: nothing, image: SmallParticleRetry.frame(dark: 0)))
    }

    @Test("the core map is 1 at the darkest 2 % of the segmentation's grey levels and 0 at the brightest (the reverse for bright particles), linear between; flat or empty segmentations give zeros, non-finite pixels 0")
    func coreMap() {
        let w = 101
        let image = GrayImage(width: w, height: 1, pixels: (0..<w).map { Float($0) } )
        let all = BinaryImage(width: w, height: 1, pixels: [Bool](repeating: true, count: w))
        let dark = PackedField.coreMap(image, mask: all, darkParticles: true)
        // the 2 % quantiles of 0...100 are 2 and 98
        #expect(dark[0] == 1 && dark[2] == 1 && dark[98] == 0 && dark[100] == 0)
        #expect(abs(dark[50] - 0.5) < 1e-6)
        let bright = PackedField.coreMap(image, mask: all, darkParticles: false)
        #expect(bright[100] == 1 && bright[0] == 0 && abs(bright[26] - 0.25) < 1e-6)
        #expect(PackedField.coreMap(image, mask: BinaryImage(width: w, height: 1), darkParticles: true).allSatisfy { $0 == 0 })
        let flat = GrayImage(width: w, height: 1, pixels: [Float](repeating: 4, count: w))
        #expect(PackedField.coreMap(flat, mask: all, darkParticles: true).allSatisfy { $0 == 0 })
        var holes = image
        holes.pixels[10] = .nan
        #expect(PackedField.coreMap(holes, mask: all, darkParticles: true)[10] == 0)
        // polarity from the segmentation against the rest
        var left = BinaryImage(width: w, height: 1)
        for k in 0..<30 { left.pixels[k] = true }
        #expect(PackedField.darkParticles(image, mask: left))
        #expect(!PackedField.darkParticles(image, mask: BinaryImage(width: w, height: 1, pixels: (0..<w).map { $0 > 70 })))
    }

    @Test("a packed field is one the segmentation covers at least a quarter of, and it is left merged where its typical object is more than two periods across")
    func mergedFieldCriteria() {
        var quarter = BinaryImage(width: 100, height: 100)
        for k in 0..<2500 { quarter.pixels[k] = true }
        #expect(NetworkScale.mayBePackedField(quarter))
        quarter.pixels[0] = false
        #expect(!NetworkScale.mayBePackedField(quarter))
        #expect(!NetworkScale.mayBePackedField(BinaryImage(width: 0, height: 0)))
        // one 25 x 100 band: equivalent diameter 56 px, merged for a 5 px period, not for a 30 px one
        #expect(NetworkScale.leftPackedFieldMerged(quarter, periodPx: 5))
        #expect(!NetworkScale.leftPackedFieldMerged(quarter, periodPx: 30))
        // separate 3 x 3 dots 6 px apart: each about 3.4 px across, resolved for a 5 px period
        var dots = BinaryImage(width: 60, height: 60)
        for r in stride(from: 1, to: 58, by: 6) { for c in stride(from: 1, to: 58, by: 6) { for dr in 0..<3 { for dc in 0..<3 { dots[r + dr, c + dc] = true } } } }
        #expect(!NetworkScale.leftPackedFieldMerged(dots, periodPx: 5))
        #expect(!NetworkScale.leftPackedFieldMerged(BinaryImage(width: 10, height: 10), periodPx: 5))
    }

    /// A 128 x 128 frame: the monolayer of 5 px discs 7 px apart (`SmallBlobCheck.monolayer`,
    /// discs 60, support 200, noise 0-15) in its left half, bare support in its right; and the
    /// segmentation that drew the left half as one patch.
    static func halfField() -> (image: GrayImage, patch: BinaryImage) {
        var image = SmallBlobCheck.monolayer(size: 128, diameter: 5, spacing: 7)
        var patch = BinaryImage(width: 128, height: 128)
        for r in 0..<128 { for c in 0..<128 {
            if c < 64 { patch[r, c] = true } else if image.pixels[r * 128 + c] < 100 { image.pixels[r * 128 + c] += 140 }
        } }
        return (image, patch)
    }

    @Test("a patch over a field of dark discs and the bare support between them, as bright as the support beside the field, is trimmed to the discs (bright discs on a dark support alike); a patch whose grey levels are one population, or whose brighter class is far darker than the support (rims), is left as drawn")
    func trimmedToParticles() throws {
        let (image, patch) = Self.halfField()
        let discs = BinaryImage(width: 128, height: 128, pixels: image.pixels.indices.map { patch.pixels[$0] && image.pixels[$0] < 100 })
        let trimmed = try #require(PackedField.trimmedToParticles(image, mask: patch, segmentation: patch, excluded: nil, darkParticles: true))
        #expect(trimmed.pixels == discs.pixels)
        let inverted = GrayImage(width: 128, height: 128, pixels: image.pixels.map { 255 - $0 })
        let brightTrimmed = try #require(PackedField.trimmedToParticles(inverted, mask: patch, segmentation: patch, excluded: nil, darkParticles: false))
        #expect(brightTrimmed.pixels == discs.pixels)
        // one normal population under the patch (mean 60, sd 10; sum of twelve uniforms), the
        // support beside it as bright as its brighter half: Otsu's two classes are 2.65 pooled
        // standard deviations apart, not two populations
        var noise = PowerSpectrumPeaks.Noise(state: 3)
        let normal = GrayImage(width: 128, height: 128, pixels: (0..<(128 * 128)).map { k in
            let n = (0..<12).reduce(Float(0)) { acc, _ in acc + (noise.next() + 1) / 2 } - 6
            return k % 128 < 64 ? 60 + 10 * n : 68 + 10 * n
        })
        #expect(PackedField.trimmedToParticles(normal, mask: patch, segmentation: patch, excluded: nil, darkParticles: true) == nil)
        // the discs' rims at 130 between them instead of bare support: two populations, but the
        // brighter one far darker than the support (200 plus noise of sd 4.6)
        let rims = GrayImage(width: 128, height: 128, pixels: image.pixels.indices.map { k in
            patch.pixels[k] && image.pixels[k] >= 100 ? image.pixels[k] - 70 : image.pixels[k]
        })
        #expect(PackedField.trimmedToParticles(rims, mask: patch, segmentation: patch, excluded: nil, darkParticles: true) == nil)
    }

    @Test("the grey-level map is smoothed by 0.09 of the period, at least 0.5 px: 0.5 px for 4.5 px, 0.9 px for 10 px")
    func smoothingFollowsThePeriod() {
        #expect(PackedField.smoothingSigmaPx(periodPx: 4.5) == 0.5)
        #expect(abs(PackedField.smoothingSigmaPx(periodPx: 10) - 0.9) < 1e-12)
        #expect(PackedField.smoothingSigmaPx(periodPx: 0) == 0.5)
    }

    @Test("a frame split at its own cores says so, with the period it repeats at; one analysed as usual says nothing of it")
    func packedFieldWarning() {
        var outcome = FrameOutcome(path: "a.dm3", frame: 0, width: 10, height: 10, pixelSize: PixelSizeNm(square: 0.5))
        #expect(outcome.warnings.isEmpty)
        outcome.packedFieldPeriodPx = 4.46
        #expect(outcome.warnings.count == 1)
        #expect(outcome.warnings.first?.contains("packed field of small particles (repeating every 4.5 px)") == true)
    }

    @Test("a tightly packed monolayer of 4.5 px particles drawn as one patch is split at its dark cores into about as many particles as it holds (within 10 %), each about a particle's size")
    func packedMonolayerSplitAtCores() throws {
        let size = 160, spacing = 5.0
        let image = PowerSpectrumPeaks.packedMonolayer(size: size, diameter: 4.5, spacing: spacing, noise: 40)
        // the particles wholly inside, counted as the image was drawn
        let inside = SmallBlobCheck.hexagonalCentres(spacing: spacing, extent: Double(size) + spacing).filter { c in
            c.y - 2.25 >= 0 && c.x - 2.25 >= 0 && c.y + 2.25 <= Double(size - 1) && c.x + 2.25 <= Double(size - 1)
        }.count
        // the network's merged patch: everything but a one-pixel frame
        var mask = BinaryImage(width: size, height: size)
        for r in 1..<(size - 1) { for c in 1..<(size - 1) { mask[r, c] = true } }
        var p = AnalysisParameters()
        p.overlap = .network
        p.clearBorder = false
        p.markerSmoothingPx = PackedField.smoothingSigmaPx(periodPx: spacing * 3.0.squareRoot() / 2)
        p.markerPeakHeight = PackedField.peakHeight
        let cores = PackedField.coreMap(image, mask: mask, darkParticles: true)
        let result = ParticleAnalysis.analyze(mask, pixelSize: nil, parameters: p, distance: cores)
        #expect(abs(Double(result.particles.count) - Double(inside)) <= 0.1 * Double(inside), "\(result.particles.count) particles, \(inside) drawn")
        let median = result.particles.map(\.equivalentDiameterPx).sorted()[result.particles.count / 2]
        #expect(median > 3.5 && median < 6.5, "median \(median) px")
    }
}
