import Testing
@testable import Pipeline

@Suite struct SyntheticMicrographs {
    @Test("the same seed gives the same image; another seed another")
    func deterministic() {
        let a = SyntheticMicrograph(width: 128, height: 128, count: 5, seed: 7)
        let b = SyntheticMicrograph(width: 128, height: 128, count: 5, seed: 7)
        let c = SyntheticMicrograph(width: 128, height: 128, count: 5, seed: 8)
        #expect(a.pixels == b.pixels && a.particles == b.particles)
        #expect(a.pixels != c.pixels)
    }

    @Test("particles lie inside the frame, apart from each other, and the truth mask has their area")
    func truthIsExact() {
        let s = SyntheticMicrograph(width: 256, height: 256, pixelSizeNm: 0.1, count: 20, meanDiameterNm: 3, seed: 3)
        #expect(s.particles.count == 20)
        for (i, p) in s.particles.enumerated() {
            #expect(p.centerRow - p.radiusPx >= 0 && p.centerRow + p.radiusPx < 256)
            #expect(p.centerCol - p.radiusPx >= 0 && p.centerCol + p.radiusPx < 256)
            for q in s.particles[(i + 1)...] {
                let d = ((p.centerRow - q.centerRow) * (p.centerRow - q.centerRow) + (p.centerCol - q.centerCol) * (p.centerCol - q.centerCol)).squareRoot()
                #expect(d >= p.radiusPx + q.radiusPx + 2)
            }
        }
        let area = Double(s.truthMask.filter { $0 }.count)
        let expected = s.particles.reduce(0) { $0 + Double.pi * $1.radiusPx * $1.radiusPx }
        #expect(abs(area - expected) / expected < 0.03)
        // particles are darker than the background on average
        let mask = s.truthMask
        let inside = zip(s.pixels, mask).filter { $0.1 }.map { Double($0.0) }
        let outside = zip(s.pixels, mask).filter { !$0.1 }.map { Double($0.0) }
        let meanInside = inside.reduce(0, +) / Double(inside.count)
        let meanOutside = outside.reduce(0, +) / Double(outside.count)
        #expect(meanInside < meanOutside - 300)
    }
}
