import Foundation
import Pipeline

/// The scale at which an image goes through the network when its pixel size does not say it
/// well: uncalibrated figures and exports (EMPS: particles from 10 to 300 px across), where a
/// network that sees 256 px at a time breaks large particles into pieces. As Cellpose
/// estimates object diameters first, antema looks at the image once at a quarter of its size
/// (1/16 of the work), measures the particles found there, and resizes the image so that the
/// typical particle (the area-weighted median diameter) is about `targetDiameterPx` across;
/// images are only shrunk, by at most 4, and only when that changes the size by 1.4 or more.
public enum NetworkScale {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// By the image's pixel size (the model's pixel-size range).
        case calibration
        /// Estimated from the particles, whatever the pixel size says.
        case estimate
    }

    /// Typical particle diameter at the network's input, chosen on the EMPS training split
    /// (training/README.md).
    public static let targetDiameterPx = 32.0
    static let probeScale = 0.25

    /// The input scale for `input` (1 when no resizing helps); `probe(image, scale)` returns the
    /// network's particle probability at the image's size for an input scale.
    public static func estimate(_ input: InputFrame, probe: (InputFrame, Double) throws -> [Float]) throws -> Double? {
        let w = input.image.width, h = input.image.height
        guard min(w, h) >= 64 else { return nil }
        let p = try probe(input, probeScale)
        let mask = BinaryImage(width: w, height: h, pixels: p.map { $0 >= 0.5 })
        guard let d = typicalDiameterPx(mask) else { return nil }
        let shrink = min(4, d / targetDiameterPx)
        return shrink >= 1.4 ? 1 / shrink : nil
    }

    /// The area-weighted median equivalent diameter of the connected foreground (8-connected),
    /// in pixels: large particles count by their area, so a few big ones are not outvoted by
    /// specks; nil when there is no foreground of at least 16 px.
    public static func typicalDiameterPx(_ mask: BinaryImage) -> Double? {
        let regions = mask.regions(.eight).filter { $0.area >= 16 }
        guard !regions.isEmpty else { return nil }
        let sorted = regions.map { (d: (4 * Double($0.area) / Double.pi).squareRoot(), a: Double($0.area)) }.sorted { $0.d < $1.d }
        let half = sorted.reduce(0) { $0 + $1.a } / 2
        var acc = 0.0
        for r in sorted {
            acc += r.a
            if acc >= half { return r.d }
        }
        return sorted.last?.d
    }
}
