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
    /// Dark discs of `diameter` px on a hexagonal grid `spacing` apart (a monolayer), on a bright support with a little noise.
    static func monolayer(size: Int, diameter: Double, spacing: Double) -> GrayImage {
        var pixels = [Float](repeating: 200, count: size * size)
        var state: UInt64 = 7
        for k in pixels.indices { state = state &* 6364136223846793005 &+ 1442695040888963407; pixels[k] += Float(state >> 60) }
        let rowStep = spacing * 3.0.squareRoot() / 2
        var y = 0.0, row = 0
        while y < Double(size) {
            var x = row % 2 == 0 ? 0 : spacing / 2
            while x < Double(size) {
                let r = diameter / 2
                for yy in max(0, Int(y - r))...min(size - 1, Int(y + r)) { for xx in max(0, Int(x - r))...min(size - 1, Int(x + r))
                    where (Double(yy) - y) * (Double(yy) - y) + (Double(xx) - x) * (Double(xx) - x) <= r * r { pixels[yy * size + xx] = 60 } }
                x += spacing
            }
            y += rowStep; row += 1
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
        let flat = GrayImage(width: 256, height: 256, pixels: [Float](repeating: 1, count: 256 * 256))
        let big = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 100) }
        let area = big.reduce(0) { $0 + $1.areaPx }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: big, foregroundPx: area), image: flat).map { abs($0 - 0.5 * 2.0.squareRoot()) < 1e-12 } == true)
        let typical = (0..<4).map { _ in NetworkScaleEstimate.particle(diameterPx: 160) }
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: typical, foregroundPx: typical.reduce(0) { $0 + $1.areaPx }), image: flat) == nil)
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: [], foregroundPx: 0), image: flat) == nil)
    }

    @Test("a first pass that resolved little of its foreground on a monolayer of 5 px particles asks for twice the pixels")
    func unresolvedMonolayer() {
        let image = SmallBlobCheck.monolayer(size: 256, diameter: 5, spacing: 7)
        let patch = [NetworkScaleEstimate.particle(diameterPx: 60)]
        #expect(NetworkScale.secondPassScale(after: Self.outcome(particles: patch, foregroundPx: 30_000), image: image) == 2)
    }
}
