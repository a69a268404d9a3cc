import Foundation
import Inference
import Pipeline

/// The scale at which the network sees an image without a calibration, estimated from the image
/// itself as Cellpose estimates object diameters: a first pass at `firstPassScale` (cheap: a
/// quarter of the pixels), the typical diameter of its particles (the area-weighted median
/// equivalent diameter, so that specks and fragments do not decide), then a second pass with the
/// image resampled so that this diameter becomes `targetDiameterPx`, within `range`.
///
/// Where the image itself is a field of small blobs (`smallBlobDiameterPx`: a low-magnification
/// monolayer), a pass at up to twice its pixels is tried first and kept when it finds them
/// (`confirmsSmallParticles`): at half its pixels the first pass may have seen such a field as
/// nothing, as merged patches, or the bare support between monolayer islands as large particles.
/// A calibrated frame is seen zoomed (`calibratedZoom`) only where its first pass left its
/// foreground unresolved and the blobs dominate the image: tried on resolved frames, the zoomed
/// pass drew the noisy support around a few particles as specks.
///
/// Chosen on the tuning third of the EMPS validation part (training/README.md, "Images without a
/// calibration"; the small-particle try in "A field of small particles read as something else").
/// The network does best on EMPS's figure crops at half their pixels (pixel IoU 0.881 against
/// 0.823 at their own), whose particles are mostly 50-250 px across; the estimate adapts that
/// within a factor of √2 either side.
public enum NetworkScale {
    /// The first pass's scale.
    public static let firstPassScale = 0.5
    /// The diameter (px, at the network's input) the typical particle is brought to.
    public static let targetDiameterPx = 80.0
    /// The scales used: the first pass's, a factor of √2 either side.
    public static let range: ClosedRange<Double> = (0.5 / 2.0.squareRoot())...(0.5 * 2.0.squareRoot())
    /// A second pass is run only when its scale differs from the first's by more than this factor.
    public static let secondPassFactor = 1.25

    /// The area-weighted median equivalent diameter in pixels (half of the particles' area lies in
    /// particles at most this large); nil without particles.
    public static func typicalDiameterPx(_ particles: [ParticleMeasurement]) -> Double? {
        areaWeightedMedianDiameterPx(particles.map(\.areaPx))
    }

    /// The equivalent diameter (px) of the object at which half of the objects' area (`areasPx`)
    /// lies in objects at most as large; nil without area.
    static func areaWeightedMedianDiameterPx(_ areasPx: [Int]) -> Double? {
        let sorted = areasPx.sorted()
        let total = sorted.reduce(0, +)
        guard total > 0 else { return nil }
        var cumulative = 0
        for a in sorted {
            cumulative += a
            if 2 * cumulative >= total { return (4 * Double(a) / Double.pi).squareRoot() }
        }
        return nil
    }

    /// The scale of the second pass after a first at `firstPassScale`, from the typical diameter
    /// of its particles, or nil when the first pass stands (no particles, or the scale within
    /// `secondPassFactor` of the first's).
    public static func secondPassScale(after first: FrameOutcome) -> Double? {
        guard let d = areaWeightedMedianDiameterPx(first.objectAreasPx) else { return nil }
        let scale = self.scale(forTypicalDiameterPx: d)
        guard max(scale / firstPassScale, firstPassScale / scale) > secondPassFactor else { return nil }
        return scale
    }

    /// The scale that brings a typical diameter (px of the image) to `targetDiameterPx`, within `range`.
    public static func scale(forTypicalDiameterPx d: Double) -> Double {
        guard d > 0, d.isFinite else { return firstPassScale }
        return min(max(targetDiameterPx / d, range.lowerBound), range.upperBound)
    }
}

extension NetworkScale {
    /// A pass whose particles hold less than this fraction of its foreground did not resolve the
    /// image's particles (a dense monolayer seen as merged patches, noise as a web of specks).
    public static let unresolvedFraction = 0.5
    /// Small particles: the diameter (px) at or below which `smallBlobDiameterPx` finds them.
    public static let smallBlobMaximumPx = 12.0
    /// The Laplacian's first maximum must be at least 0.7 of its largest at blob diameters up to
    /// this (px); larger scales (patches of bare support, the illumination) are not compared.
    public static let smallBlobContextPx = 48.0
    /// Small particles are brought to this diameter (px), at most doubled.
    public static let smallTargetDiameterPx = 16.0
    /// The smallest particle diameter (nm) antema is built to measure (metallic nanoparticles of
    /// 1 to 100 nm): in a calibrated frame, small blobs narrower than this are texture, not a
    /// monolayer the network missed, and do not call for a zoom.
    public static let smallestParticleNm = 1.0

    /// For a calibrated frame the network saw at its model's pixel size (`first.networkInputScale`
    /// times the frame's pixels): the zoom (on the model's choice of scale) to try for small blobs
    /// of `d` px, bringing them to `smallTargetDiameterPx` at the network, at most 2; nil within
    /// `secondPassFactor` of 1. Small blobs narrower than `smallestParticleNm` in a calibrated
    /// frame are not particles: lattice fringes, the grain of a carbon film or noise (nil as well).
    public static func calibratedZoom(after first: FrameOutcome, blobDiameterPx d: Double) -> Double? {
        if let pixelSize = first.pixelSize, d < pixelSize.pixels(nm: smallestParticleNm) { return nil }
        return smallParticleScale(blobDiameterPx: d * (first.networkInputScale ?? 1), current: 1)
    }

    /// A field of small particles read as something else by a first pass: at half its pixels a
    /// crisp monolayer of 5-8 px particles can come out as nothing at all (their 3 px images are
    /// below what the network resolves), as merged patches, or with the bare support between
    /// monolayer islands taken for large particles; a calibrated overview of 4-5 px particles
    /// can be seen at its own pixels as a few merged patches. Where the image itself is a field
    /// of small blobs (`smallBlobDiameterPx`, `d`), a pass at the scale those blobs call for is
    /// tried (`smallParticleScale`) and kept when its particles are what the blobs said
    /// (`confirmsSmallParticles`).
    ///
    /// The scale (a factor of the frame's own pixels, as `networkInputScale`) at which blobs of
    /// `d` px reach the network at `smallTargetDiameterPx`, from 1 to 2 times the frame's pixels,
    /// for a frame the passes so far saw at `current`; nil when that is within
    /// `secondPassFactor` of `current` or below it (they were seen as large as that already).
    public static func smallParticleScale(blobDiameterPx d: Double, current: Double) -> Double? {
        let scale = self.scale(forSmallBlobDiameterPx: d)
        return scale > secondPassFactor * current ? scale : nil
    }

    /// At least this many particles in a pass for it to be a field of small particles.
    public static let smallFieldMinimumParticles = 20
    /// A small-particle pass's typical diameter may be at most this many times the blobs'. The
    /// Laplacian's blob diameter is about 0.7-0.9 of a particle's equivalent diameter, and the
    /// area-weighted median of a packed field counts the pairs and triplets left touching: on
    /// the simulated overviews the typical diameter came out 1.1-6.7 times the blobs'.
    public static let smallFieldDiameterRatio = 6.0
    /// ... and at most this fraction of the earlier pass's typical diameter: it must have read
    /// the frame differently (as smaller particles), not found the same ones again.
    public static let smallFieldChangeRatio = 0.5

    /// ... and its segmentation must stand out from its surroundings by at least this many
    /// standard deviations of their grey levels (`segmentationContrast`). Measured on the
    /// simulated overviews the try is for, 2.4-9.6; on the noisy support around an overlapping
    /// pair, where an enlarged pass draws the noise grain as hundreds of specks, 0.1-1.1.
    public static let smallFieldMinimumContrast = 1.5

    /// How far a segmentation stands out from its surroundings: the difference between the mean
    /// grey level inside it and that of the ring 2-3 px around it (4-connected dilations),
    /// divided by the ring's standard deviation; nil without a segmentation or a ring.
    public static func segmentationContrast(_ outcome: FrameOutcome, image: GrayImage) -> Double? {
        guard let mask = outcome.segmentation, mask.width == image.width, mask.height == image.height else { return nil }
        let near = mask.dilated(by: .cross3)
        let far = near.dilated(by: .cross3).dilated(by: .cross3)
        var inside = 0.0, insideCount = 0, ring = 0.0, ring2 = 0.0, ringCount = 0
        for i in mask.pixels.indices {
            let v = Double(image.pixels[i])
            guard v.isFinite else { continue }
            if mask.pixels[i] {
                inside += v; insideCount += 1
            } else if far.pixels[i] && !near.pixels[i] {
                ring += v; ring2 += v * v; ringCount += 1
            }
        }
        guard insideCount > 0, ringCount > 1 else { return nil }
        let ringMean = ring / Double(ringCount)
        let ringSD = (max(0, ring2 / Double(ringCount) - ringMean * ringMean)).squareRoot()
        let difference = abs(inside / Double(insideCount) - ringMean)
        return ringSD > 0 ? difference / ringSD : (difference > 0 ? .infinity : 0)
    }

    /// The pass tried for small blobs of `d` px found what they said, where `previous` (the first
    /// pass) did not: at least `smallFieldMinimumParticles` particles, its segmentation standing
    /// out from its surroundings in `image` by at least `smallFieldMinimumContrast`, their typical
    /// diameter (image pixels) at most `smallFieldDiameterRatio` times `d` and, where `previous`
    /// has particles, at most `smallFieldChangeRatio` of its typical diameter. Large particles
    /// whose texture or noise made the blobs (an SEM's grainy spheres, a carbon film's grain
    /// around a few rods) come out of it as large as before, and the earlier passes stand.
    public static func confirmsSmallParticles(_ candidate: FrameOutcome, blobDiameterPx d: Double, previous: FrameOutcome, image: GrayImage) -> Bool {
        guard candidate.particles.count >= smallFieldMinimumParticles,
              let contrast = segmentationContrast(candidate, image: image), contrast >= smallFieldMinimumContrast,
              let typical = typicalDiameterPx(candidate.particles), typical <= smallFieldDiameterRatio * d else { return false }
        guard let before = areaWeightedMedianDiameterPx(previous.objectAreasPx) else { return true }
        return typical <= smallFieldChangeRatio * before
    }

    /// A tried pass whose segmentation stands out from its surroundings at least this many times
    /// as much as the earlier pass's (`segmentationContrast`) is kept even where it leaves its
    /// particles merged (`sharpensSegmentation`).
    public static let sharperContrastFactor = 2.0

    /// The pass tried for small blobs drew the field where the earlier pass did not: its
    /// segmentation stands out from the ring around it by at least `smallFieldMinimumContrast`
    /// and by `sharperContrastFactor` times the earlier pass's (or the earlier pass has none). On
    /// a tightly packed field of 3-5 px particles the network leaves the particles merged at any
    /// scale, but at the blobs' scale it covers the field (pixel IoU 0.03 to 0.89 on the
    /// overview set's `sim004`), where at half the pixels it drew a few patches across particles
    /// and gaps alike (contrast 0.2-0.9).
    public static func sharpensSegmentation(_ candidate: FrameOutcome, previous: FrameOutcome, image: GrayImage) -> Bool {
        guard let contrast = segmentationContrast(candidate, image: image), contrast >= smallFieldMinimumContrast else { return false }
        guard let before = segmentationContrast(previous, image: image) else { return true }
        return contrast >= sharperContrastFactor * before
    }

    /// The pass's particles hold less than `unresolvedFraction` of its foreground (false
    /// without foreground).
    static func leftUnresolved(_ first: FrameOutcome) -> Bool {
        let foreground = first.segmentation?.pixels.reduce(0) { $0 + ($1 ? 1 : 0) } ?? 0
        let inParticles = first.objectAreasPx.reduce(0, +)
        return Double(inParticles) < unresolvedFraction * Double(foreground)
    }

    /// The scale for small blobs of diameter `d` (px): to `smallTargetDiameterPx`, from 1 to 2.
    public static func scale(forSmallBlobDiameterPx d: Double) -> Double {
        guard d > 0, d.isFinite else { return 1 }
        return min(max(smallTargetDiameterPx / d, 1), 2)
    }

    /// The diameter (px) of small blobs that dominate the image, or nil: the scale-normalised
    /// Laplacian of Gaussian (σ² ∇²G, σ = 2^(k/4) from 1 to 64 px; a blob of diameter d answers
    /// most at σ = d / 2√2) gives, for dark and for bright blobs, the mean squared response per
    /// scale; when for both polarities its first maximum lies at a diameter of at most
    /// `smallBlobMaximumPx` and is at least 0.7 of its largest up to `smallBlobContextPx`, the
    /// image is a field of small particles (a low-magnification monolayer) and that diameter is
    /// returned. Lattice fringes and noise of images of larger particles pass as well (10 of the
    /// EMPS validation part's 91 images); the pass tried for them finds large particles or
    /// nothing resolved, and is not kept (`confirmsSmallParticles`).
    public static func smallBlobDiameterPx(_ image: GrayImage) -> Double? {
        smallBlobs(image).flatMap { $0.dominant ? $0.diameterPx : nil }
    }

    /// Small blobs in an image, as `smallBlobDiameterPx` finds them.
    public struct SmallBlobs: Sendable, Equatable {
        /// The blobs' diameter (px): the larger of the two polarities' first maxima.
        public var diameterPx: Double
        /// The first maxima are at least 0.7 of the largest at every scale (the image is
        /// dominated by them, `smallBlobDiameterPx`), not only of those up to `smallBlobContextPx`.
        public var dominant: Bool
    }

    /// Small blobs as `smallBlobDiameterPx` looks for them, with the first maxima compared with
    /// the scales up to `smallBlobContextPx` only (not with those of bare patches of support
    /// between monolayer islands or of the illumination), or nil. `dominant` says whether they
    /// pass the comparison with every scale as well.
    public static func smallBlobs(_ image: GrayImage) -> SmallBlobs? {
        guard image.width >= 32, image.height >= 32 else { return nil }
        // the network's robust normalisation (median, 1-99 % range); a flat image has no energy below
        let (centre, spread) = RobustStatistics.centreAndScale(image.pixels, exclude: nil)
        let base = GrayImage(width: image.width, height: image.height,
                             pixels: image.pixels.map { $0.isFinite ? ($0 - centre) / spread : 0 })
        var shrunk: [Int: GrayImage] = [1: base]
        func downsampled(_ f: Int) -> GrayImage {
            if let g = shrunk[f] { return g }
            let w = max(1, base.width / f), h = max(1, base.height / f)
            let g = GrayImage(width: w, height: h, pixels: Resampling.area(base.pixels, width: base.width, height: base.height, toWidth: w, toHeight: h))
            shrunk[f] = g
            return g
        }
        let sigmas = (0...24).map { pow(2, Double($0) / 4) }
        var energy: [[Double]] = [[], []]
        for sigma in sigmas {
            var f = 1
            while Double(f * 2) * 2 <= sigma { f *= 2 }
            let img = downsampled(f)
            // scales beyond a small image's size are not looked at
            if img.width < 8 || img.height < 8 { break }
            let s = sigma / Double(f)
            let blurred = img.gaussianBlurred(sigma: s)
            let w = img.width, h = img.height, margin = min(Int(2 * s) + 1, min(w, h) / 4)
            var pos = 0.0, neg = 0.0, n = 0
            for r in max(1, margin)..<(h - max(1, margin)) { for c in max(1, margin)..<(w - max(1, margin)) {
                let k = r * w + c
                let lap = Double(blurred.pixels[k - 1] + blurred.pixels[k + 1] + blurred.pixels[k - w] + blurred.pixels[k + w] - 4 * blurred.pixels[k])
                let v = s * s * lap
                if v > 0 { pos += v * v } else { neg += v * v }
                n += 1
            } }
            guard n > 0 else { return nil }
            energy[0].append(pos / Double(n)); energy[1].append(neg / Double(n))
        }
        var diameters: [Double] = []
        var dominant = true
        for e in energy {
            guard e.count >= 3, let top = e.max(),
                  let k = (1..<(e.count - 1)).first(where: { e[$0] > e[$0 - 1] && e[$0] >= e[$0 + 1] }) else { return nil }
            let d = sigmas[k] * 2 * 2.0.squareRoot()
            let near = zip(sigmas, e).filter { $0.0 * 2 * 2.0.squareRoot() <= smallBlobContextPx }.map(\.1).max() ?? 0
            guard near > 0, d <= smallBlobMaximumPx, e[k] >= 0.7 * near else { return nil }
            if e[k] < 0.7 * top { dominant = false }
            diameters.append(d)
        }
        guard let d = diameters.max() else { return nil }
        return SmallBlobs(diameterPx: d, dominant: dominant)
    }
}

extension NetworkScale {
    /// A packed field's spectral peak must be at least this many times its flanks' power
    /// (`PowerSpectrum.mostProminentPeak`). Measured on the simulated overviews 3.1-60 for 37 of
    /// 40 (the median 5.4); on the 366 EMPS images, the 150 pair frames and the reference
    /// micrograph at most 2.0 where the peak lies at 12 px or below (training/README.md, "Packed
    /// fields the Laplacian does not see").
    public static let packingMinimumProminence = 3.0
    /// Peaks up to this period (px) are compared: a lattice of larger particles answers most at
    /// its own (larger) period, its harmonics less, and is not taken for a field of small ones.
    public static let packingContextPx = 48.0

    /// The period (px) at which a packed field of small particles repeats, or nil: the radially
    /// averaged power spectrum's most prominent peak among periods up to `packingContextPx`,
    /// where it lies at `smallBlobMaximumPx` or below and stands at least
    /// `packingMinimumProminence` times above its flanks. In a field of touching particles the
    /// period is about their diameter (a hexagonal monolayer of spacing a repeats at a√3/2).
    ///
    /// The Laplacian of `smallBlobs` misses such fields where the particles are 3-5 px across:
    /// the packing leaves no gaps of their size, and the pixel noise's energy at the smallest
    /// scales hides their maximum; their spectrum still has a sharp peak at the period.
    public static func packingPeriodPx(_ image: GrayImage) -> Double? {
        packingPeriodPx(peak: packingPeak(image))
    }

    /// The spectrum's most prominent peak among periods up to `packingContextPx` where it lies at
    /// `smallBlobMaximumPx` or below, however prominent; nil otherwise.
    public static func packingPeak(_ image: GrayImage) -> (periodPx: Double, prominence: Double)? {
        guard let peak = PowerSpectrum(image)?.mostProminentPeak(maximumPeriodPx: packingContextPx),
              peak.periodPx <= smallBlobMaximumPx else { return nil }
        return peak
    }

    /// `packingPeriodPx` from a peak `packingPeak` found.
    public static func packingPeriodPx(peak: (periodPx: Double, prominence: Double)?) -> Double? {
        guard let peak, peak.prominence >= packingMinimumProminence else { return nil }
        return peak.periodPx
    }

    /// A weaker peak is taken as a packed field's period where this many times its flanks' power
    /// (`agreeingPackingPeriodPx`).
    public static let packingWeakProminence = 1.5
    /// ... and the small blobs' diameter lies within this factor of its period.
    public static let packingBlobAgreement = 1.5
    /// ... and the kept pass's typical particle (`typicalDiameterPx`) is at least this many
    /// periods across.
    public static let packingWeakMergedPeriods = 4.0

    /// A packed field's period from a spectral peak `packingMinimumProminence` does not accept,
    /// where two more things say the frame is a field of small particles: the peak stands at
    /// least `packingWeakProminence` above its flanks, the Laplacian's small blobs (of
    /// `blobDiameterPx`) are within `packingBlobAgreement` of its period, and the pass kept for
    /// the frame (`keptPass`, nil unless it is the one those blobs or the period asked for) left
    /// its particles merged, typically `packingWeakMergedPeriods` periods across or more.
    /// Particles touching in a monolayer with gaps repeat less sharply than a packed lattice: on
    /// the simulated overviews `sim000` (7.9 px particles, 8.2 px apart) peaks at 7.2 px with a
    /// prominence of 1.97, its blobs 8 px, the kept pass's typical particle 5.9 periods across;
    /// on the monolayers prominences 1.74-2.22 and 5.0-12 periods. A large particle's lattice
    /// fringes or the support film's speckle can make such a peak and such blobs too (the EMPS
    /// HRTEM frame `291898b7c6`: 4.9 px at 1.63, blobs 5.7 px), but the frame is then seen at its
    /// large particle's scale (0.35 x there), not the blobs'; and SEM spheres of about 36 px seen
    /// at the blobs' scale and resolved by the network (EMPS `5fc8c5b53c`, `6752c27137`: peaks at
    /// 11.2-11.7 px, 2.66) are 3.1-3.2 periods across, which the split would cut into thirds.
    public static func agreeingPackingPeriodPx(peak: (periodPx: Double, prominence: Double)?, blobDiameterPx: Double?, keptPass: FrameOutcome?) -> Double? {
        guard let kept = keptPass, let peak, let d = blobDiameterPx, d > 0, peak.prominence >= packingWeakProminence,
              max(d / peak.periodPx, peak.periodPx / d) <= packingBlobAgreement,
              let typical = typicalDiameterPx(kept.particles), typical >= packingWeakMergedPeriods * peak.periodPx else { return nil }
        return peak.periodPx
    }
}

extension NetworkScale {
    /// A packed field covers at least this fraction of the image with its segmentation: the
    /// simulated overviews 0.21-0.79 (0.29 and more where the network left them merged); the two
    /// EMPS images whose spectra peak below 12 px (a scale bar's ticks, JPEG blocks around a few
    /// SEM spheres) 0.03 and 0.14.
    public static let packedFieldMinimumCoverage = 0.25
    /// A packed field is left merged where the segmentation's typical object (the area-weighted
    /// median equivalent diameter of its 8-connected components) is more than this many periods
    /// across: half of its area lies in patches of several particles.
    public static let packedFieldMergedPeriods = 2.0

    /// The segmentation covers at least `packedFieldMinimumCoverage` of the frame.
    public static func mayBePackedField(_ segmentation: BinaryImage) -> Bool {
        guard !segmentation.pixels.isEmpty else { return false }
        let covered = segmentation.pixels.reduce(0) { $0 + ($1 ? 1 : 0) }
        return Double(covered) >= packedFieldMinimumCoverage * Double(segmentation.pixels.count)
    }

    /// The segmentation's typical object is more than `packedFieldMergedPeriods` times `periodPx`
    /// across (false without objects).
    public static func leftPackedFieldMerged(_ segmentation: BinaryImage, periodPx: Double) -> Bool {
        guard let typical = areaWeightedMedianDiameterPx(segmentation.regions(.eight).map(\.area)) else { return false }
        return typical > packedFieldMergedPeriods * periodPx
    }
}

extension NetworkScale {
    /// A pass resolved a packed field repeating every `periodPx`: its segmentation covers it
    /// (`mayBePackedField`) with objects not left merged (`leftPackedFieldMerged`). A zoomed try
    /// finds nothing more there.
    public static func resolvesPackedField(_ outcome: FrameOutcome, periodPx: Double) -> Bool {
        guard let segmentation = outcome.segmentation else { return false }
        return mayBePackedField(segmentation) && !leftPackedFieldMerged(segmentation, periodPx: periodPx)
    }

    /// A pass tried at the scale a packed field's period calls for (`smallParticleScale`) is
    /// kept where the first pass did not resolve the field (`resolvesPackedField`), the tried
    /// pass covers it (`mayBePackedField`) and stands out from its surroundings at least
    /// `sharperContrastFactor` times as much as the first pass (`segmentationContrast`), however
    /// little that is (`sharpensSegmentation` asks `smallFieldMinimumContrast` too): the
    /// packed-field split then parts it at the image's own cores. On the simulated overviews of
    /// 3.5-4.8 px particles whose bare support the first pass took for particles (`sim008`,
    /// `sim027`, `sim030`), the pass at 2 x covered 0.67-0.91 of the frame and stood out 0.74-1.27
    /// standard deviations, 2.2-3.9 times the first pass's 0.20-0.57 (pixel IoU 0.18-0.39 to
    /// 0.50-0.66). Kept out: a lone 77 px pair whose spectrum peaks at 3.9 px (the pair set's
    /// `sim039`; the 2 x pass covers 0.065 and cuts it into nine), and a dense monolayer beside
    /// bare support whose noise the 2 x pass draws as particles (the monolayer set's `sim036`,
    /// coverage 0.80 against 0.37 true; contrast 1.30, 1.5 times the first pass's 0.84).
    public static func takesPackedFieldPass(_ candidate: FrameOutcome, first: FrameOutcome, periodPx: Double, image: GrayImage) -> Bool {
        guard let segmentation = candidate.segmentation, !resolvesPackedField(first, periodPx: periodPx),
              mayBePackedField(segmentation), let contrast = segmentationContrast(candidate, image: image) else { return false }
        guard let before = segmentationContrast(first, image: image) else { return true }
        return contrast >= sharperContrastFactor * before
    }
}
