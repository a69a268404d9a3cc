import Foundation
import ImageFiles
import Testing
@testable import Pipeline

func iou(_ a: BinaryImage, _ b: BinaryImage, excluding: ((Int, Int) -> Bool)? = nil) -> Double {
    var inter = 0, union = 0
    for r in 0..<a.height {
        for c in 0..<a.width {
            if let excluding, excluding(r, c) { continue }
            let x = a[r, c], y = b[r, c]
            if x && y { inter += 1 }
            if x || y { union += 1 }
        }
    }
    return union == 0 ? 1 : Double(inter) / Double(union)
}

@Suite struct ClassicalSegmentation {
    @Test("Otsu splits a two-level histogram between the levels")
    func otsuTwoLevels() {
        let values = [Float](repeating: 2, count: 300) + [Float](repeating: 10, count: 100)
        let t = ClassicalSegmenter.otsuThreshold(values)
        #expect(t > 2 && t <= 10)
        #expect(ClassicalSegmenter.otsuThreshold([5, 5, 5]) == 5)
    }

    @Test("a synthetic bright-field micrograph is segmented close to its truth, and its particles counted")
    func syntheticMicrograph() {
        let s = SyntheticMicrograph(width: 384, height: 384, pixelSizeNm: 0.1, count: 30, meanDiameterNm: 4, seed: 11)
        let mask = ClassicalSegmenter().segment(GrayImage(width: s.width, height: s.height, pixels: s.pixels), pixelSizeNm: 0.1)
        let truth = BinaryImage(width: s.width, height: s.height, pixels: s.truthMask)
        #expect(iou(mask, truth) > 0.85)
        let found = ParticleAnalysis.analyze(mask, pixelSize: PixelSizeNm(y: 0.1, x: 0.1)).particles.count
        #expect(abs(found - s.particles.count) <= 2)
    }

    @Test("bright particles on a dark background (HAADF) are found when asked for")
    func brightParticles() {
        let s = SyntheticMicrograph(width: 256, height: 256, pixelSizeNm: 0.1, count: 15, meanDiameterNm: 4, seed: 5)
        let inverted = GrayImage(width: s.width, height: s.height, pixels: s.pixels.map { 2000 - $0 })
        var seg = ClassicalSegmenter()
        seg.contrast = .brightParticles
        #expect(iou(seg.segment(inverted, pixelSizeNm: 0.1), BinaryImage(width: s.width, height: s.height, pixels: s.truthMask)) > 0.85)
    }

    @Test("on the reference micrograph the classical segmenter agrees with the reference network's mask", .enabled(if: ReferenceCase.available, ReferenceCase.skip))
    func referenceMicrograph() throws {
        let raster = try PNGFile.read(path: ReferenceCase.folder.appendingPathComponent("image.png").path)
        let mask = ClassicalSegmenter().segment(GrayImage(width: raster.width, height: raster.height, pixels: raster.pixels), pixelSizeNm: ReferenceCase.pixelSizeNm)
        // the scale bar box (rows 911-1023, columns 822-1023) is left out
        let score = iou(mask, try ReferenceCase.mask()) { r, c in r >= 911 && c >= 822 }
        print("classical segmenter vs reference network mask: particle IoU \(score)")
        #expect(score > 0.74)
    }
}
