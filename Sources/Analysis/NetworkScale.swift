import Foundation
import Pipeline

/// The scale at which the network sees an image without a calibration, estimated from the image
/// itself as Cellpose estimates object diameters: a first pass at `firstPassScale` (cheap: a
/// quarter of the pixels), the typical diameter of its particles (the area-weighted median
/// equivalent diameter, so that specks and fragments do not decide), then a second pass with the
/// image resampled so that this diameter becomes `targetDiameterPx`, within `range`.
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

    /// The scale that brings a typical diameter (px of the image) to `targetDiameterPx`, within `range`.
    public static func scale(forTypicalDiameterPx d: Double) -> Double {
        guard d > 0, d.isFinite else { return firstPassScale }
        return min(max(targetDiameterPx / d, range.lowerBound), range.upperBound)
    }
}
