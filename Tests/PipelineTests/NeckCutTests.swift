import Foundation
import Testing
@testable import Pipeline

@Suite struct NeckCutSeparation {
    /// Two discs of radius `radius` whose centres are `k` times the sum of their radii apart,
    /// side by side on a blank image, and the object they make.
    static func pair(radius: Double, k: Double, secondRadius: Double? = nil) -> (BinaryImage, Region) {
        let r2 = secondRadius ?? radius
        var c = Canvas(Int(4 * (radius + r2)) + 20, Int(2 * max(radius, r2)) + 20)
        let row = Double(c.image.height) / 2, left = 10 + radius + 2
        c.disc(row: row, col: left, radius: radius)
        c.disc(row: row, col: left + k * (radius + r2), radius: r2)
        return (c.image, c.image.regions(.eight)[0])
    }

    @Test("two overlapping discs come apart at their neck: two pieces, each near the disc's visible half, the cut between the centres",
          arguments: [(8.0, 0.75), (8.0, 0.9), (15.0, 0.7), (15.0, 0.85), (25.0, 0.8), (25.0, 0.95)])
    func overlappingDiscsAreCut(radius: Double, k: Double) throws {
        let (_, object) = Self.pair(radius: radius, k: k)
        let pieces = NeckCut.separate(object, minimumPixels: 10)
        try #require(pieces.count == 2, "\(pieces.count) pieces")
        #expect(pieces.map(\.area).reduce(0, +) == object.area, "every pixel goes to one piece")
        // the cut is the chord through the two discs' intersection points: each piece is the
        // disc minus the lens's half beyond the chord, so both are half the object's area
        #expect(abs(pieces[0].area - pieces[1].area) <= object.area / 20, "\(pieces.map(\.area))")
        let centreCol = { (r: Region) in Double(r.pixels.map(\.col).reduce(0, +)) / Double(r.area) }
        let cols = pieces.map(centreCol).sorted()
        let midpoint = Double(object.box.minCol + object.box.maxCol) / 2
        #expect(cols[0] < midpoint && cols[1] > midpoint)
    }

    @Test("a lone disc, an ellipse and a rectangle stay whole: no two concavities")
    func convexShapesStayWhole() {
        var c = Canvas(120, 60)
        c.disc(row: 30, col: 20, radius: 12)
        c.ellipse(row: 30, col: 60, semiRows: 8, semiCols: 18, angle: 0.4)
        c.rect(row: 15, col: 85, height: 30, width: 25)
        for object in c.image.regions(.eight) {
            #expect(NeckCut.separate(object, minimumPixels: 10).count == 1)
        }
    }

    @Test("a bean (one concavity) and a C stay whole: a cut needs a bend on both sides")
    func oneSidedConcavityStaysWhole() {
        var bean = Canvas(80, 60)
        bean.disc(row: 30, col: 40, radius: 20)
        bean.disc(row: 8, col: 40, radius: 9)
        for r in 0..<60 { for col in 0..<80 where (Double(col) - 40) * (Double(col) - 40) + (Double(r) - 8) * (Double(r) - 8) <= 81 { bean.image[r, col] = false } }
        var c = BinaryImage(width: 60, height: 60)
        for r in 0..<60 { for col in 0..<60 {
            let y = Double(r) - 29.5, x = Double(col) - 29.5, dist = (x * x + y * y).squareRoot()
            if dist <= 22 && dist >= 13 && !(x > 0 && y > 0) { c[r, col] = true }
        } }
        for image in [bean.image, c] {
            let object = image.regions(.eight)[0]
            #expect(NeckCut.separate(object, minimumPixels: 10).count == 1)
        }
    }

    @Test("discs overlapping by half their width stay whole (k = 0.5): the waist is about as wide as a piece, not a neck")
    func wideWaistStaysWhole() {
        let (_, object) = Self.pair(radius: 15, k: 0.5)
        #expect(NeckCut.separate(object, minimumPixels: 10).count == 1)
    }

    @Test("a small bump on a large particle is not cut off: the smaller piece must be at least half the larger")
    func bumpIsNotCut() {
        let (_, object) = Self.pair(radius: 20, k: 0.9, secondRadius: 8)
        #expect(NeckCut.separate(object, minimumPixels: 10).count == 1)
    }

    @Test("a chain of three overlapping discs comes apart in two cuts")
    func chainOfThree() {
        var c = Canvas(140, 50)
        for col in [25.0, 52.0, 79.0] { c.disc(row: 25, col: col, radius: 15) }
        let object = c.image.regions(.eight)[0]
        let pieces = NeckCut.separate(object, minimumPixels: 10)
        #expect(pieces.count == 3, "\(pieces.map(\.area))")
        #expect(pieces.map(\.area).reduce(0, +) == object.area)
    }

    @Test("in the network mode a pair the map shows as one core and that is too convex for UECS (k = 0.75, convexity 0.96) is cut at its neck; the separate mode (ANTEMA's) keeps it whole")
    func networkModeCutsWhereUECSDoesNot() throws {
        let (image, object) = Self.pair(radius: 15, k: 0.75)
        #expect(Shape(object).convexity > 0.95)
        let flat = image.pixels.map { $0 ? Float(1) : 0 }  // one core over both discs
        var p = AnalysisParameters()
        p.overlap = .network
        let px = PixelSizeNm(y: 0.1, x: 0.1)
        let network = ParticleAnalysis.analyze(image, pixelSize: px, parameters: p, distance: flat)
        try #require(network.particles.count == 2)
        #expect(network.particles.allSatisfy { $0.separated })
        p.neckCut = false
        #expect(ParticleAnalysis.analyze(image, pixelSize: px, parameters: p, distance: flat).particles.count == 1)
        p.overlap = .separate
        p.neckCut = true
        #expect(ParticleAnalysis.analyze(image, pixelSize: px, parameters: p).particles.count == 1)
    }
}
