import Testing
@testable import Pipeline

let px01 = PixelSizeNm(y: 0.1, x: 0.1)

func only(_ image: BinaryImage, pixelSize: PixelSizeNm = px01, _ configure: (inout AnalysisParameters) -> Void = { _ in }) throws -> ParticleMeasurement {
    var p = AnalysisParameters()
    configure(&p)
    let result = ParticleAnalysis.analyze(image, pixelSize: pixelSize, parameters: p)
    try #require(result.particles.count == 1, "expected one particle, got \(result.particles.count)")
    return result.particles[0]
}

/// Both given and equal within `tolerance` (relative, absolute below 1).
func close(_ a: Double?, _ b: Double?, _ tolerance: Double = 1e-9) -> Bool {
    guard let a, let b else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}

@Suite struct AnalyticShapes {
    @Test("an n x n square: area n², Feret n and n√2, perimeter 4(n-1) straight steps less 4 corners")
    func square() throws {
        var c = Canvas(40, 40)
        c.rect(row: 10, col: 12, height: 10, width: 10)
        let m = try only(c.image)
        #expect(m.areaPx == 100)
        #expect(close(m.areaNm2, 1.0))
        #expect(close(m.equivalentDiameterNm, (4 / Double.pi).squareRoot()))
        let perimeter: Double = (36 * 0.980 - 4 * 0.091) * 0.1
        #expect(close(m.perimeterNm, perimeter))
        #expect(close(m.feretMinNm, 1.0))
        #expect(close(m.feretMaxNm, 2.0.squareRoot()))
        #expect(close(m.aspectRatio, 2.0.squareRoot()))
        let perimeterNm = try #require(m.perimeterNm)
        let circularity: Double = 4 * Double.pi * 1.0 / (perimeterNm * perimeterNm)
        #expect(close(m.circularity, circularity))
        #expect(m.convexity == 1 && m.solidity == 1)
        #expect(m.centroidXPx == 16.5 && m.centroidYPx == 14.5)
        #expect(m.box == BoundingBox(minRow: 10, minCol: 12, maxRow: 19, maxCol: 21))
    }

    @Test("a 6 x 20 rectangle: Feret 6 and sqrt(6² + 20²)")
    func rectangle() throws {
        var c = Canvas(40, 40)
        c.rect(row: 5, col: 5, height: 6, width: 20)
        let m = try only(c.image)
        #expect(close(m.feretMinNm, 0.6))
        let diagonal: Double = (36.0 + 400).squareRoot() * 0.1
        let perimeter: Double = (48 * 0.980 - 4 * 0.091) * 0.1
        #expect(close(m.feretMaxNm, diagonal))
        #expect(close(m.perimeterNm, perimeter))
    }

    @Test("a disc of radius 20 px: area πR² within 1%, diameters near 2R")
    func disc() throws {
        var c = Canvas(64, 64)
        c.disc(row: 32, col: 32, radius: 20)
        let m = try only(c.image)
        #expect(abs(Double(m.areaPx) - Double.pi * 400) / (Double.pi * 400) < 0.01)
        #expect(close(m.equivalentDiameterNm, 4.0, 0.05 / 4))
        #expect(close(m.feretMaxNm, 4.1, 0.1 / 4.1))   // 2R + 1 px of pixel corners
        #expect(close(m.feretMinNm, 4.1, 0.15 / 4.1))
        #expect(m.circularity > 0.95 && m.circularity < 1.05)
        #expect(m.convexity > 0.95)
    }

    @Test("a single pixel: area 1, perimeter 0, Feret 1 and √2 (when specks are allowed)")
    func onePixel() throws {
        var c = Canvas(5, 5)
        c.image[2, 2] = true
        let m = try only(c.image) { $0.minimumDiameterNm = 0 }
        #expect(m.areaPx == 1)
        #expect(m.perimeterNm == 0)
        #expect(m.circularity == 0)
        let diagonal: Double = 2.0.squareRoot() * 0.1
        #expect(close(m.feretMinNm, 0.1))
        #expect(close(m.feretMaxNm, diagonal))
    }

    @Test("holes are filled by default and kept on request; the perimeter is the outer boundary either way")
    func holes() throws {
        var c = Canvas(40, 40)
        c.rect(row: 10, col: 10, height: 20, width: 20)
        c.rect(row: 17, col: 17, height: 6, width: 6, value: false)
        let filled = try only(c.image)
        let kept = try only(c.image) { $0.fillHoles = false }
        #expect(filled.areaPx == 400)
        #expect(kept.areaPx == 364)
        #expect(filled.perimeterNm == kept.perimeterNm)
    }

    @Test("objects touching the border are removed by default and reported; kept on request")
    func border() {
        var c = Canvas(40, 40)
        c.rect(row: 10, col: 0, height: 10, width: 10)
        c.rect(row: 25, col: 25, height: 8, width: 8)
        let r = ParticleAnalysis.analyze(c.image, pixelSize: px01)
        #expect(r.particles.count == 1 && r.borderRegions.count == 1)
        var p = AnalysisParameters(); p.clearBorder = false
        #expect(ParticleAnalysis.analyze(c.image, pixelSize: px01, parameters: p).particles.count == 2)
    }

    @Test("specks below 0.5 nm equivalent diameter are removed: ceil(pi/4 * 5²) = 20 px at 0.1 nm/px")
    func specks() {
        #expect(AnalysisParameters().minimumPixels(pixelSizeNm: 0.1) == 20)
        #expect(AnalysisParameters().minimumPixels(pixelSizeNm: 0.06398699) == 48)
        var c = Canvas(40, 40)
        c.rect(row: 5, col: 5, height: 4, width: 4)     // 16 px: removed
        c.rect(row: 20, col: 20, height: 4, width: 5)   // 20 px: kept
        let r = ParticleAnalysis.analyze(c.image, pixelSize: px01)
        #expect(r.particles.map(\.areaPx) == [20])
    }

    @Test("particles come out in column-major order of their first pixel")
    func order() {
        var c = Canvas(60, 60)
        c.rect(row: 40, col: 30, height: 6, width: 6)
        c.rect(row: 5, col: 30, height: 6, width: 6)
        c.rect(row: 20, col: 10, height: 6, width: 6)
        let r = ParticleAnalysis.analyze(c.image, pixelSize: px01)
        #expect(r.particles.map(\.box.minRow) == [20, 5, 40])
    }
}

@Suite struct MeasurementInvariants {
    static func ellipse() -> BinaryImage {
        var c = Canvas(90, 70)
        c.ellipse(row: 35, col: 45, semiRows: 11, semiCols: 27, angle: 0.5)
        return c.image
    }

    static func rotated90(_ image: BinaryImage) -> BinaryImage {
        var out = BinaryImage(width: image.height, height: image.width)
        for r in 0..<image.height { for c in 0..<image.width where image[r, c] { out[c, image.height - 1 - r] = true } }
        return out
    }

    @Test("transposing or rotating by 90 degrees leaves area, perimeter, Feret diameters and circularity unchanged")
    func rotationAndTransposition() throws {
        let a = try only(Self.ellipse())
        for b in [try only(Self.ellipse().transposed), try only(Self.rotated90(Self.ellipse()))] {
            #expect(a.areaPx == b.areaPx)
            #expect(close(a.perimeterNm, b.perimeterNm))
            #expect(close(a.feretMinNm, b.feretMinNm))
            #expect(close(a.feretMaxNm, b.feretMaxNm))
            #expect(close(a.circularity, b.circularity))
            // the convex image is rasterised with MATLAB's asymmetric edge rule: close, not equal
            #expect(abs(a.convexity - b.convexity) < 0.02)
            #expect(abs(a.solidity - b.solidity) < 0.02)
        }
    }

    @Test("doubling the pixel size doubles lengths, quadruples area, keeps shape factors")
    func pixelSizeScaling() throws {
        var c = Canvas(90, 70)
        c.ellipse(row: 35, col: 45, semiRows: 11, semiCols: 27, angle: 0.5)
        let a = try only(c.image, pixelSize: PixelSizeNm(y: 0.1, x: 0.1))
        let b = try only(c.image, pixelSize: PixelSizeNm(y: 0.2, x: 0.2))
        #expect(close(b.areaNm2, a.areaNm2.map { 4 * $0 }))
        #expect(close(b.equivalentDiameterNm, a.equivalentDiameterNm.map { 2 * $0 }))
        #expect(close(b.perimeterNm, a.perimeterNm.map { 2 * $0 }))
        #expect(close(b.feretMinNm, a.feretMinNm.map { 2 * $0 }) && close(b.feretMaxNm, a.feretMaxNm.map { 2 * $0 }))
        #expect(close(b.circularity, a.circularity) && b.convexity == a.convexity && b.solidity == a.solidity)
    }

    @Test("non-square pixels are measured in physical coordinates: 10 x 10 px at 0.2 x 0.1 nm is a 2 x 1 nm rectangle")
    func nonSquarePixels() throws {
        var c = Canvas(40, 40)
        c.rect(row: 10, col: 10, height: 10, width: 10)
        let m = try only(c.image, pixelSize: PixelSizeNm(y: 0.2, x: 0.1))
        #expect(close(m.areaNm2, 2.0))
        #expect(close(m.feretMinNm, 1.0))
        #expect(close(m.feretMaxNm, 5.0.squareRoot()))
        let horizontal: Double = 18 * 0.980 * 0.1, vertical: Double = 18 * 0.980 * 0.2
        let corners: Double = 4 * 0.091 * (0.02 as Double).squareRoot()
        #expect(close(m.perimeterNm, horizontal + vertical - corners))
    }
}
