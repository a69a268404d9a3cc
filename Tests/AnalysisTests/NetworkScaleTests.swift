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
