import Foundation
import Inference
import Pipeline

/// The scale at which the network sees an image without a calibration, estimated from the image
/// itself as Cellpose estimates object diameters: a first pass at `firstPassScale` (cheap: a
/// quarter of the pixels), the typical diameter of its particles (the area-weighted median
/// equivalent diameter, so that specks and fragments do not decide), then a second pass with the
/// image resampled so that this diameter becomes `targetDiameterPx`, within `range`.
///
/// A first pass whose particles hold less than half of its foreground has not resolved them (a
/// dense monolayer of particles a few pixels across is seen as merged patches, and its patches
/// would call for a smaller scale still); then the image itself is asked for small particles
/// (`smallBlobDiameterPx`), and where it holds them the network sees it at up to twice its pixels.
///
/// Chosen on the tuning third of the EMPS validation part (training/README.md, "Images without a
/// calibration"). The network does best on EMPS's figure crops at half their pixels (pixel IoU
/// 0.881 against 0.823 at their own), whose particles are mostly 50-250 px across; the estimate
/// adapts that within a factor of √2 either side.
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
        let sorted = particles.sorted { $0.areaPx < $1.areaPx }
        let total = sorted.reduce(0) { $0 + $1.areaPx }
        guard total > 0 else { return nil }
        var cumulative = 0
        for p in sorted {
            cumulative += p.areaPx
            if 2 * cumulative >= total { return p.equivalentDiameterPx }
        }
        return sorted.last?.equivalentDiameterPx
    }

    /// The scale of the second pass after a first at `firstPassScale` on `image`, or nil when the
    /// first pass stands (no particles, or the scale within `secondPassFactor` of the first's).
    /// A first pass whose particles hold less than `unresolvedFraction` of its foreground did not
    /// resolve them: small particles (a monolayer) are looked for in the image itself.
    public static func secondPassScale(after first: FrameOutcome, image: GrayImage) -> Double? {
        var scale: Double? = nil
        if leftUnresolved(first), let d = smallBlobDiameterPx(image) {
            scale = self.scale(forSmallBlobDiameterPx: d)
        } else if let d = typicalDiameterPx(first.particles) {
            scale = self.scale(forTypicalDiameterPx: d)
        }
        guard let scale, max(scale / firstPassScale, firstPassScale / scale) > secondPassFactor else { return nil }
        return scale
    }

    /// The scale that brings a typical diameter (px of the image) to `targetDiameterPx`, within `range`.
    public static func scale(forTypicalDiameterPx d: Double) -> Double {
        guard d > 0, d.isFinite else { return firstPassScale }
        return min(max(targetDiameterPx / d, range.lowerBound), range.upperBound)
    }
}

extension NetworkScale {
    /// A first pass whose particles hold less than this fraction of its foreground did not
    /// resolve the image's particles (a dense monolayer seen as merged patches).
    public static let unresolvedFraction = 0.5
    /// Small particles: the diameter (px) at or below which `smallBlobDiameterPx` finds them.
    public static let smallBlobMaximumPx = 12.0
    /// Small particles are brought to this diameter (px), at most doubled.
    public static let smallTargetDiameterPx = 16.0
    /// The smallest particle diameter (nm) antema is built to measure (metallic nanoparticles of
    /// 1 to 100 nm): in a calibrated frame, small blobs narrower than this are texture, not a
    /// monolayer the network missed, and do not call for a zoom.
    public static let smallestParticleNm = 1.0

    /// For a calibrated frame the network saw at its model's pixel size (`first.networkInputScale`
    /// times the frame's pixels): the zoom that brings the small particles of a first pass that
    /// did not resolve them (as `secondPassScale`) to `smallTargetDiameterPx` at the network, at
    /// most 2; nil when the first pass stands (resolved, no small blobs, or a zoom within
    /// `secondPassFactor` of 1).
    /// Small blobs narrower than `smallestParticleNm` in a calibrated frame are not particles:
    /// lattice fringes, the grain of a carbon film or noise (nil as well).
    public static func calibratedZoom(after first: FrameOutcome, image: GrayImage) -> Double? {
        guard leftUnresolved(first), let d = smallBlobDiameterPx(image) else { return nil }
        if let pixelSize = first.pixelSize, d < pixelSize.pixels(nm: smallestParticleNm) { return nil }
        let atNetwork = d * (first.networkInputScale ?? 1)
        let zoom = scale(forSmallBlobDiameterPx: atNetwork)
        return zoom > secondPassFactor ? zoom : nil
    }

    /// The first pass's particles hold less than `unresolvedFraction` of its foreground (false
    /// without foreground).
    static func leftUnresolved(_ first: FrameOutcome) -> Bool {
        let foreground = first.segmentation?.pixels.reduce(0) { $0 + ($1 ? 1 : 0) } ?? 0
        let inParticles = first.particles.reduce(0) { $0 + $1.areaPx }
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
    /// `smallBlobMaximumPx` and is at least 0.7 of its largest, the image is a field of small
    /// particles (a low-magnification monolayer) and that diameter is returned. Lattice fringes
    /// and noise of images of larger particles seldom pass both (23 of EMPS's 366 images).
    public static func smallBlobDiameterPx(_ image: GrayImage) -> Double? {
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
        for e in energy {
            guard e.count >= 3, let top = e.max(), top > 0,
                  let k = (1..<(e.count - 1)).first(where: { e[$0] > e[$0 - 1] && e[$0] >= e[$0 + 1] }) else { return nil }
            let d = sigmas[k] * 2 * 2.0.squareRoot()
            guard d <= smallBlobMaximumPx, e[k] >= 0.7 * top else { return nil }
            diameters.append(d)
        }
        return diameters.max()
    }
}
