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

    /// A synthetic bright-field micrograph with a burned-in scale-bar box in its bottom-right
    /// corner: black, with a white bar and lettering (as the reference micrograph's "10 nm").
    static func withScaleBarBox() -> (image: GrayImage, truth: BinaryImage, box: BinaryImage) {
        let s = SyntheticMicrograph(width: 384, height: 384, pixelSizeNm: 0.1, count: 30, meanDiameterNm: 4, seed: 11)
        var image = GrayImage(width: s.width, height: s.height, pixels: s.pixels)
        let (lo, hi) = (s.pixels.min()!, s.pixels.max()!)
        var box = BinaryImage(width: s.width, height: s.height)
        var truth = BinaryImage(width: s.width, height: s.height, pixels: s.truthMask)
        for r in 300..<384 { for c in 230..<384 {
            box[r, c] = true
            truth[r, c] = false
            let white = (350..<362).contains(r) && (245..<370).contains(c) || (312..<338).contains(r) && (260..<350).contains(c) && (c / 6) % 3 != 0
            image.pixels[r * s.width + c] = white ? hi + (hi - lo) : lo - (hi - lo)
        } }
        return (image, truth, box)
    }

    @Test("a burned-in scale-bar box (black, white lettering) left out: polarity, threshold and mask come from the rest of the micrograph, and nothing is segmented in the box")
    func excludedBoxIsNotSeen() {
        let (image, truth, box) = Self.withScaleBarBox()
        var seg = ClassicalSegmenter()
        seg.contrast = .auto
        let outside: (Int, Int) -> Bool = { r, c in box[r, c] }
        let withBox = seg.segment(image, exclude: nil)
        let leftOut = seg.segment(image, exclude: box)
        print("classical with the box seen: IoU \(iou(withBox, truth, excluding: outside)), left out: \(iou(leftOut, truth, excluding: outside))")
        #expect(iou(leftOut, truth, excluding: outside) > 0.8)
        #expect(!box.pixels.indices.contains { box.pixels[$0] && leftOut.pixels[$0] })
        #expect(iou(withBox, truth, excluding: outside) < 0.5, "the box seen flips the polarity")
    }

    @Test("on the reference micrograph without a calibration, its scale-bar box left out, the classical segmenter takes the dark particles (it took the support with the box in its statistics)", .enabled(if: ReferenceCase.available, ReferenceCase.skip))
    func referenceWithoutCalibration() throws {
        let raster = try PNGFile.read(path: ReferenceCase.folder.appendingPathComponent("image.png").path)
        let image = GrayImage(width: raster.width, height: raster.height, pixels: raster.pixels)
        let box = BinaryImage(width: image.width, height: image.height, pixels: (0..<(image.width * image.height)).map { $0 / image.width >= 911 && $0 % image.width >= 822 })
        var seg = ClassicalSegmenter()
        seg.contrast = .auto
        let truth = try ReferenceCase.mask()
        let score = iou(seg.segment(image, exclude: box), truth) { r, c in r >= 911 && c >= 822 }
        print("classical, no calibration, box left out: particle IoU \(score)")
        #expect(score > 0.5)
        #expect(iou(seg.segment(image), truth) { r, c in r >= 911 && c >= 822 } < 0.1)
    }
}
