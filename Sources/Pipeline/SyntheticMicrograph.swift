/// A simple synthetic bright-field micrograph with exact ground truth: dark discs (particles) on a
/// bright, slightly uneven, noisy background. For demos and tests that need an image whose
/// particles are known; the physically detailed simulator for training lives in `training/`.
///
/// Coordinates: row-major, (row, col) with the origin at the top-left pixel's centre.
public struct SyntheticMicrograph: Sendable {
    public struct Particle: Sendable, Equatable {
        /// Centre in pixels (row, col).
        public var centerRow: Double
        public var centerCol: Double
        public var radiusPx: Double
    }

    public let width: Int
    public let height: Int
    public let pixelSizeNm: Double
    /// Intensities, row-major, background near 1000, particles darker.
    public let pixels: [Float]
    public let particles: [Particle]

    /// - Parameters:
    ///   - meanDiameterNm / sdDiameterNm: particle size distribution (normal, clipped at 0.5 nm).
    ///   - noise: standard deviation of the additive Gaussian noise, relative to the contrast.
    public init(width: Int = 512, height: Int = 512, pixelSizeNm: Double = 0.1, count: Int = 40,
                meanDiameterNm: Double = 4, sdDiameterNm: Double = 0.8, noise: Double = 0.15, seed: UInt64 = 1) {
        var rng = SeededGenerator(seed: seed)
        var placed: [Particle] = []
        var attempts = 0
        while placed.count < count && attempts < count * 200 {
            attempts += 1
            let d = max(0.5, meanDiameterNm + sdDiameterNm * rng.normal()) / pixelSizeNm
            let r = d / 2
            let margin = r + 2
            guard Double(width) > 2 * margin, Double(height) > 2 * margin else { continue }
            let row = margin + rng.uniform() * (Double(height) - 2 * margin)
            let col = margin + rng.uniform() * (Double(width) - 2 * margin)
            // keep particles apart (a gap of at least 2 px) so the truth is one particle per disc
            if placed.contains(where: { p in
                let dr = p.centerRow - row, dc = p.centerCol - col
                return (dr * dr + dc * dc).squareRoot() < p.radiusPx + r + 2
            }) { continue }
            placed.append(Particle(centerRow: row, centerCol: col, radiusPx: r))
        }
        var image = [Float](repeating: 0, count: width * height)
        let background = 1000.0, contrast = 400.0
        for row in 0..<height {
            for col in 0..<width {
                let gradient = 60 * (Double(col) / Double(max(width, 1)) - 0.5) + 40 * (Double(row) / Double(max(height, 1)) - 0.5)
                image[row * width + col] = Float(background + gradient + noise * contrast * rng.normal())
            }
        }
        for p in placed {
            let r0 = max(0, Int((p.centerRow - p.radiusPx).rounded(.down))), r1 = min(height - 1, Int((p.centerRow + p.radiusPx).rounded(.up)))
            let c0 = max(0, Int((p.centerCol - p.radiusPx).rounded(.down))), c1 = min(width - 1, Int((p.centerCol + p.radiusPx).rounded(.up)))
            for row in r0...r1 {
                for col in c0...c1 {
                    let dr = Double(row) - p.centerRow, dc = Double(col) - p.centerCol
                    if dr * dr + dc * dc <= p.radiusPx * p.radiusPx { image[row * width + col] -= Float(contrast) }
                }
            }
        }
        self.width = width
        self.height = height
        self.pixelSizeNm = pixelSizeNm
        self.pixels = image
        self.particles = placed
    }

    /// The exact particle mask (true = particle), row-major: pixel centres inside a disc.
    public var truthMask: [Bool] {
        var mask = [Bool](repeating: false, count: width * height)
        for p in particles {
            for row in 0..<height {
                let dr = Double(row) - p.centerRow
                guard abs(dr) <= p.radiusPx else { continue }
                for col in 0..<width {
                    let dc = Double(col) - p.centerCol
                    if dr * dr + dc * dc <= p.radiusPx * p.radiusPx { mask[row * width + col] = true }
                }
            }
        }
        return mask
    }
}

/// SplitMix64 with Box-Muller normals: small, fast, and the same sequence on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64
    var spare: Double? = nil
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// Standard normal.
    public mutating func normal() -> Double {
        if let s = spare { spare = nil; return s }
        var u = uniform()
        while u <= .leastNormalMagnitude { u = uniform() }
        let v = uniform()
        let r = (-2 * log(u)).squareRoot()
        spare = r * sin(2 * .pi * v)
        return r * cos(2 * .pi * v)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
