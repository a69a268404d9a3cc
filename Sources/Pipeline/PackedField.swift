/// A packed field of small particles the segmentation left merged: touching particles a few
/// pixels across, packed so tightly that the network draws them as one patch at any scale.
/// Where the micrograph itself repeats at the particles' spacing, each particle is a grey-level
/// extreme of the image (a dark core in bright-field TEM, a bright one in HAADF-STEM or SEM),
/// and the patches are split at those: the image's grey levels, brought to a map that is 1 at
/// the particles' cores and 0 at the web between them, stand in for the network's distance
/// map in `MarkerSeparation` (its summits seed the particles, its flood assigns the pixels).
public enum PackedField {
    /// The grey-level map's smoothing (px) before its summits are sought, for a field repeating
    /// every `periodPx`: `smoothingPeriods` of the period, at least `minimumSmoothingPx`. Just
    /// enough to take the pixel noise off a particle's core: `MarkerSeparation`'s 1.5 px, chosen
    /// for the network's map of particles tens of pixels across, would blur a 4.5 px period to a
    /// tenth of its contrast, and a fixed 0.5 px left the texture of 9-10 px particles as summits
    /// that cut them in two.
    public static func smoothingSigmaPx(periodPx: Double) -> Double {
        max(minimumSmoothingPx, smoothingPeriods * periodPx)
    }
    /// See `smoothingSigmaPx(periodPx:)`.
    public static let minimumSmoothingPx = 0.5
    /// See `smoothingSigmaPx(periodPx:)`. Chosen on the uncalibrated overviews with summits 0.05
    /// apart: instance F1 0.731 with a fixed 0.5 px, 0.746 at 0.111 periods, 0.747 at 0.09;
    /// calibrated overviews 0.740, 0.757, 0.759 (the 9.8 px period of `sim011` 0.458 -> 0.926);
    /// monolayers 0.132, 0.125, 0.130.
    public static let smoothingPeriods = 0.09
    /// A summit must stand this much above the pass to a higher one (of the map's 0-1 range).
    /// Chosen on the uncalibrated overviews (instance F1 0.692 at 0.1, 0.731 at 0.05, 0.720 at
    /// 0.035, 0.639 at 0.15, with smoothing 0.5 px; 0.703 at 0.8 px and 0.05), checked on the
    /// calibrated overviews (0.694, 0.740, 0.731) and the monolayers (0.081, 0.132, 0.135).
    public static let peakHeight = 0.05
    /// The map's ends: the grey levels at this fraction of the segmentation's pixels from either
    /// end of their range are the cores (1) and the web (0).
    public static let rangeFraction = 0.02

    /// The map (row-major, the image's size): within the range of the grey levels under `mask`
    /// (the `rangeFraction` and 1 - `rangeFraction` quantiles), 1 at the particles' extreme, 0 at
    /// the other; 0 where the image is not finite and everywhere when the mask is empty or its
    /// grey levels are flat. `darkParticles`: the cores are the darkest.
    public static func coreMap(_ image: GrayImage, mask: BinaryImage, darkParticles: Bool) -> [Float] {
        precondition(mask.width == image.width && mask.height == image.height, "the mask and the image differ in size")
        var values: [Float] = []
        values.reserveCapacity(mask.pixels.count)
        for i in mask.pixels.indices where mask.pixels[i] && image.pixels[i].isFinite { values.append(image.pixels[i]) }
        guard !values.isEmpty else { return [Float](repeating: 0, count: image.pixels.count) }
        values.sort()
        let k = Int(Double(values.count - 1) * rangeFraction)
        let low = values[k], high = values[values.count - 1 - k]
        guard high > low else { return [Float](repeating: 0, count: image.pixels.count) }
        let span = high - low
        return image.pixels.map { v in
            guard v.isFinite else { return 0 }
            let t = darkParticles ? (high - v) / span : (v - low) / span
            return min(max(t, 0), 1)
        }
    }

    /// Whether the particles are darker than their surroundings: the mean grey level under the
    /// mask against that of the rest of the image (finite pixels); true when either is empty.
    public static func darkParticles(_ image: GrayImage, mask: BinaryImage) -> Bool {
        var inside = 0.0, insideCount = 0, outside = 0.0, outsideCount = 0
        for i in mask.pixels.indices where image.pixels[i].isFinite {
            if mask.pixels[i] { inside += Double(image.pixels[i]); insideCount += 1 } else { outside += Double(image.pixels[i]); outsideCount += 1 }
        }
        guard insideCount > 0, outsideCount > 0 else { return true }
        return inside / Double(insideCount) <= outside / Double(outsideCount)
    }

    /// The bare support between a packed field's particles is part of the field where the
    /// network drew it as one patch. Where the brighter (for dark particles) of the two Otsu
    /// classes of the grey levels under the segmentation is within this many standard
    /// deviations of the support around it (the mean of the pixels outside the segmentation,
    /// neither excluded nor non-finite), those pixels are support, and the field is trimmed to
    /// the other class before it is split (`trimmedToParticles`). Chosen on the uncalibrated
    /// overviews (training/README.md, "Packed fields trimmed to their particles"): in frames
    /// whose mask covered 1.1-1.9 times the true particles the class lay 0.7 below to 0.9 above
    /// the support (pixel IoU 0.47-0.90 -> 0.75-1.00 trimmed); where the mask was about right,
    /// 1.1-4.9 standard deviations darker (rims and overlaps of the particles, which trimming
    /// would take away).
    public static let gapSupportSDs = 1.0
    /// ... and the two classes stand apart by at least this many of their pooled standard
    /// deviations: the grey levels under the segmentation are two populations, not one. One
    /// normal population split at its mean (where Otsu splits it) gives 2.65 (class means
    /// ±0.798 σ, class standard deviations 0.603 σ); the simulated monolayers, whose touching
    /// particles leave no support inside the field, 2.60-3.01 (16 grey levels); the overviews
    /// whose fields were trimmed 3.2-7.4.
    public static let twoClassSeparation = 3.1

    /// `mask` without the pixels of the support's class where `segmentation` (whose grey levels
    /// decide, against the rest of the image outside `excluded`) holds the support between its
    /// particles (`twoClassSeparation`, `gapSupportSDs`); nil where it does not, or where a
    /// class or the support is empty or flat.
    public static func trimmedToParticles(_ image: GrayImage, mask: BinaryImage, segmentation: BinaryImage, excluded: BinaryImage?, darkParticles: Bool) -> BinaryImage? {
        precondition(mask.width == image.width && mask.height == image.height && segmentation.width == image.width && segmentation.height == image.height,
                     "the masks and the image differ in size")
        var inside: [Float] = []
        var support = Moments()
        for i in image.pixels.indices where image.pixels[i].isFinite {
            if segmentation.pixels[i] {
                inside.append(image.pixels[i])
            } else if excluded?.pixels[i] != true {
                support.add(image.pixels[i])
            }
        }
        guard inside.count > 1, support.count > 1 else { return nil }
        let t = ClassicalSegmenter.otsuThreshold(inside)
        // the support's side of the threshold: the brighter class for dark particles
        func supportSide(_ v: Float) -> Bool { darkParticles ? v >= t : v < t }
        var gap = Moments(), core = Moments()
        for v in inside { if supportSide(v) { gap.add(v) } else { core.add(v) } }
        guard gap.count > 1, core.count > 1 else { return nil }
        let pooledSD = (0.5 * (gap.variance + core.variance)).squareRoot()
        guard pooledSD > 0, abs(gap.mean - core.mean) / pooledSD >= twoClassSeparation else { return nil }
        let sd = support.variance.squareRoot()
        guard sd > 0 else { return nil }
        let z = (darkParticles ? support.mean - gap.mean : gap.mean - support.mean) / sd
        guard z < gapSupportSDs else { return nil }
        var trimmed = mask
        for i in trimmed.pixels.indices where trimmed.pixels[i] {
            let v = image.pixels[i]
            if !v.isFinite || supportSide(v) { trimmed.pixels[i] = false }
        }
        return trimmed
    }

    /// Count, mean and population variance of grey levels added one at a time.
    struct Moments {
        private(set) var count = 0
        private var sum = 0.0, sumSquares = 0.0
        mutating func add(_ v: Float) { let x = Double(v); count += 1; sum += x; sumSquares += x * x }
        var mean: Double { sum / Double(count) }
        var variance: Double { max(0, sumSquares / Double(count) - mean * mean) }
    }
}
