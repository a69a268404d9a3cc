/// Which particles are in the image: dark on bright (bright-field TEM, the default) or bright on
/// dark (HAADF-STEM).
public enum Contrast: String, Sendable, Codable, CaseIterable {
    case darkParticles = "dark"
    case brightParticles = "bright"
    /// Decided per image: for the classical segmenter by the sign of the skewness of the
    /// flattened image (particles are the tail of the histogram: a dark tail, negative skew, means
    /// dark particles); a network trained on both polarities takes the image as it is.
    case auto
}

/// How the classical segmenter picks its threshold.
public enum ThresholdMethod: Sendable, Equatable, Codable {
    /// Otsu's threshold on the flattened image's histogram (256 bins), global.
    case otsu
    /// Local mean over a square window of `windowPx`, minus `offset` (in units of the flattened
    /// image's standard deviation): for images whose background flattening is not enough.
    case localMean(windowPx: Int, offset: Double)
}

/// Thresholding after background flattening: segments whole micrographs before (or instead of)
/// the neural network.
///
/// 1. Smooth with a Gaussian of `smoothingSigmaNm` (0.3 nm: wipes out lattice fringes of
///    0.2-0.25 nm and shot noise, keeps 1 nm particles), at least 1 px; 2 px where the pixel
///    size is unknown (what the reference program uses before its network).
/// 2. Flatten: subtract a background estimated by a wide blur of sigma `backgroundSigmaPx`
///    (default: a sixteenth of the image's shorter side), removing illumination gradients.
/// 3. Orient so that particles are bright (invert for dark particles).
/// 4. Threshold (Otsu by default); particles are the pixels above it.
public struct ClassicalSegmenter: Sendable, Equatable, Codable {
    public var contrast: Contrast = .darkParticles
    public var smoothingSigmaNm: Double = 0.3
    /// `nil`: a sixteenth of the shorter image side.
    public var backgroundSigmaPx: Double? = nil
    public var threshold: ThresholdMethod = .otsu

    public init() {}

    /// The smoothing in pixels for a pixel size (nm), or 2 px where it is unknown.
    public func smoothingSigmaPx(pixelSizeNm: Double?) -> Double {
        guard let p = pixelSizeNm, p > 0, p.isFinite else { return 2 }
        return max(1, smoothingSigmaNm / p)
    }

    /// `exclude`: pixels left out (burned-in annotations, excluded regions): they take the
    /// median grey of the rest before smoothing and flattening, and neither the polarity, the
    /// threshold nor the mask sees them (a black scale-bar box with white lettering flips the
    /// skewness of a micrograph of dark particles).
    public func segment(_ image: GrayImage, pixelSizeNm: Double? = nil, exclude: BinaryImage? = nil) -> BinaryImage {
        guard image.width > 0, image.height > 0 else { return BinaryImage(width: image.width, height: image.height) }
        var image = image
        let excluded = exclude.flatMap { $0.pixels.count == image.pixels.count && $0.pixels.contains(true) ? $0.pixels : nil }
        if let excluded {
            // the median of at most 262,144 evenly strided pixels
            let kept = Swift.stride(from: 0, to: image.pixels.count, by: max(1, image.pixels.count / 262_144))
                .filter { !excluded[$0] }.map { image.pixels[$0] }.sorted()
            if !kept.isEmpty {
                for i in image.pixels.indices where excluded[i] { image.pixels[i] = kept[kept.count / 2] }
            }
        }
        var smooth = image.gaussianBlurred(sigma: smoothingSigmaPx(pixelSizeNm: pixelSizeNm))
        let bgSigma = backgroundSigmaPx ?? Double(min(image.width, image.height)) / 16
        if bgSigma > 0 {
            let background = smooth.boxBlurred(sigma: bgSigma)
            for i in smooth.pixels.indices { smooth.pixels[i] -= background.pixels[i] }
        }
        // polarity and threshold from the pixels not excluded
        var values = excluded.map { e in smooth.pixels.indices.filter { !e[$0] }.map { smooth.pixels[$0] } } ?? smooth.pixels
        if contrast == .darkParticles || (contrast == .auto && ClassicalSegmenter.skewness(values) < 0) {
            for i in smooth.pixels.indices { smooth.pixels[i] = -smooth.pixels[i] }
            for i in values.indices { values[i] = -values[i] }
        }
        var mask = BinaryImage(width: image.width, height: image.height)
        switch threshold {
        case .otsu:
            let t = ClassicalSegmenter.otsuThreshold(values)
            for i in smooth.pixels.indices where smooth.pixels[i] > t { mask.pixels[i] = true }
        case .localMean(let window, let offset):
            let mean = smooth.runningMean(half: max(1, window / 2))
            let m = values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1))
            let sd = (values.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(max(values.count, 1))).squareRoot()
            for i in smooth.pixels.indices where Double(smooth.pixels[i] - mean.pixels[i]) > offset * sd { mask.pixels[i] = true }
        }
        if let excluded { for i in mask.pixels.indices where excluded[i] { mask.pixels[i] = false } }
        return mask
    }

    /// The third standardised moment of the finite values (0 for fewer than 3 or a constant).
    public static func skewness(_ values: [Float]) -> Double {
        var n = 0.0, mean = 0.0
        for v in values where v.isFinite { n += 1; mean += Double(v) }
        guard n >= 3 else { return 0 }
        mean /= n
        var m2 = 0.0, m3 = 0.0
        for v in values where v.isFinite { let d = Double(v) - mean; m2 += d * d; m3 += d * d * d }
        m2 /= n; m3 /= n
        return m2 > 0 ? m3 / (m2 * m2.squareRoot()) : 0
    }

    /// Otsu's threshold (maximum between-class variance) over a 256-bin histogram of the finite
    /// values; returns a value in the data's range.
    public static func otsuThreshold(_ values: [Float]) -> Float {
        var lo = Float.infinity, hi = -Float.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        guard lo < hi else { return lo }
        var hist = [Double](repeating: 0, count: 256)
        let scale = 255 / (hi - lo)
        for v in values where v.isFinite { hist[min(255, Int((v - lo) * scale))] += 1 }
        let total = hist.reduce(0, +)
        var sumAll = 0.0
        for i in 0..<256 { sumAll += Double(i) * hist[i] }
        var weightB = 0.0, sumB = 0.0, best = -1.0, bestIndex = 0
        for i in 0..<256 {
            weightB += hist[i]
            guard weightB > 0 else { continue }
            let weightF = total - weightB
            guard weightF > 0 else { break }
            sumB += Double(i) * hist[i]
            let meanB = sumB / weightB, meanF = (sumAll - sumB) / weightF
            let between = weightB * weightF * (meanB - meanF) * (meanB - meanF)
            if between > best { best = between; bestIndex = i }
        }
        // pixels in bins above bestIndex are foreground
        return lo + (Float(bestIndex) + 1) / scale
    }
}
