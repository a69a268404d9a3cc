import Testing
@testable import Pipeline

@Suite struct OverlapSeparation {
    static func pair(radius R: Double, distance f: Double) -> (BinaryImage, [(Double, Double)]) {
        var c = Canvas(200, 200)
        let centres = [(100.0, 100 - f * R / 2), (100.0, 100 + f * R / 2)]
        for (r, k) in centres { c.disc(row: r, col: k, radius: R) }
        return (c.image, centres)
    }

    @Test("two overlapping discs split into two particles near their true size and place", arguments: [(15.0, 1.6), (15.0, 1.8), (25.0, 1.6), (25.0, 1.8)])
    func twoDiscs(radius: Double, distance: Double) {
        let (image, centres) = Self.pair(radius: radius, distance: distance)
        let r = ParticleAnalysis.analyze(image, pixelSize: px01)
        #expect(r.particles.count == 2)
        for (m, (row, col)) in zip(r.particles.sorted { $0.centroidXPx < $1.centroidXPx }, centres) {
            #expect(m.separated)
            let truth: Double = Double.pi * radius * radius
            #expect(abs(Double(m.areaPx) - truth) / truth < 0.15)
            #expect(abs(m.centroidYPx - row) < 2 && abs(m.centroidXPx - col) < 3)
        }
    }

    @Test("discs overlapping so much that the pair is convex (convexity > 0.95) stay one particle, as in the reference")
    func heavyOverlapStaysWhole() {
        let (image, _) = Self.pair(radius: 15, distance: 1.2)
        let r = ParticleAnalysis.analyze(image, pixelSize: px01)
        #expect(r.particles.count == 1 && !r.particles[0].separated)
    }

    @Test("three discs in a row and in a triangle split into three", arguments: [12.0, 20.0])
    func threeDiscs(radius R: Double) {
        var row = Canvas(200, 200), triangle = Canvas(200, 200)
        for k in [-1.0, 0, 1] { row.disc(row: 100, col: 100 + k * 1.8 * R, radius: R) }
        triangle.disc(row: 100 - 1.8 * R * 0.577, col: 100, radius: R)
        triangle.disc(row: 100 + 1.8 * R * 0.289, col: 100 - 0.9 * R, radius: R)
        triangle.disc(row: 100 + 1.8 * R * 0.289, col: 100 + 0.9 * R, radius: R)
        for image in [row.image, triangle.image] {
            let r = ParticleAnalysis.analyze(image, pixelSize: px01)
            #expect(r.particles.count == 3)
            let truth: Double = Double.pi * R * R
            for m in r.particles {
                #expect(m.separated)
                #expect(abs(Double(m.areaPx) - truth) / truth < 0.15)
            }
        }
    }

    @Test("a lone ellipse is not split, whatever the mode", arguments: OverlapMode.allCases)
    func loneEllipse(mode: OverlapMode) {
        var c = Canvas(200, 200)
        c.ellipse(row: 100, col: 100, semiRows: 12, semiCols: 40, angle: 0.5)
        var p = AnalysisParameters(); p.overlap = mode
        let r = ParticleAnalysis.analyze(c.image, pixelSize: px01, parameters: p)
        #expect(r.particles.count == 1)
        #expect(!r.particles[0].separated && !r.particles[0].overlapFlag)
    }

    @Test("flag mode keeps a non-convex pair whole and marks it")
    func flagMode() {
        let (image, _) = Self.pair(radius: 15, distance: 1.7)
        var p = AnalysisParameters(); p.overlap = .flag
        let r = ParticleAnalysis.analyze(image, pixelSize: px01, parameters: p)
        #expect(r.particles.count == 1)
        #expect(r.particles[0].overlapFlag && !r.particles[0].separated)
        #expect(r.particles[0].convexity <= 0.95)
    }

    @Test("watershed mode splits pairs with a neck, even when they look convex", arguments: [1.2, 1.6])
    func watershed(distance: Double) {
        let (image, _) = Self.pair(radius: 15, distance: distance)
        var p = AnalysisParameters(); p.overlap = .watershed
        let r = ParticleAnalysis.analyze(image, pixelSize: px01, parameters: p)
        #expect(r.particles.count == 2)
        let truth: Double = Double.pi * 225
        for m in r.particles { #expect(m.separated && Double(m.areaPx) > 0.6 * truth) }
    }

    @Test("the distance transform is exact on a known case")
    func distanceTransform() {
        var c = Canvas(9, 9)
        c.rect(row: 1, col: 1, height: 7, width: 7)
        let d = EuclideanDistance.transform(c.image)
        #expect(d[4 * 9 + 4] == 4)       // centre: 4 px to the background ring
        #expect(d[1 * 9 + 1] == 1)       // corner
        #expect(d[0] == 0)
    }
}
