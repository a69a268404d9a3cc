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
}
