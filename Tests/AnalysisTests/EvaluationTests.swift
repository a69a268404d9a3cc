import Analysis
import GatanDM
import Pipeline
import Testing

@Suite("Segmentation scores")
struct EvaluationTests {
    static func square(_ size: Int, _ r0: Int, _ c0: Int, _ side: Int, into m: inout BinaryImage) {
        for r in r0..<(r0 + side) { for c in c0..<(c0 + side) { m.pixels[r * size + c] = true } }
    }

    @Test("pixel scores of a square shifted by a known amount equal their closed forms")
    func shiftedSquare() {
        // truth: 10 x 10 square; prediction: the same square shifted 2 columns right, in 20 x 20
        var truth = BinaryImage(width: 20, height: 20), predicted = BinaryImage(width: 20, height: 20)
        Self.square(20, 5, 5, 10, into: &truth)
        Self.square(20, 5, 7, 10, into: &predicted)
        let c = Confusion(predicted: predicted, truth: truth)
        #expect(c == Confusion(truePositive: 80, falsePositive: 20, falseNegative: 20, trueNegative: 280))
        #expect(c.particleIoU == 80.0 / 120 && c.particleDice == 160.0 / 200)
        #expect(c.globalAccuracy == 360.0 / 400 && c.particleAccuracy == 0.8 && c.backgroundAccuracy == 280.0 / 300)
        #expect(c.backgroundIoU == 280.0 / 320 && c.backgroundDice == 560.0 / 600)
    }

    @Test("ignored pixels count for nothing; a perfect prediction scores 1 everywhere")
    func ignoreAndPerfect() {
        var truth = BinaryImage(width: 10, height: 10), ignore = BinaryImage(width: 10, height: 10)
        Self.square(10, 0, 0, 4, into: &truth)
        Self.square(10, 6, 6, 4, into: &ignore)
        var predicted = truth
        predicted.pixels[99] = true  // inside the ignored box
        let c = Confusion(predicted: predicted, truth: truth, ignore: ignore)
        #expect(c.total == 84 && c.falsePositive == 0 && c.particleIoU == 1 && c.particleDice == 1 && c.globalAccuracy == 1)
    }

    @Test("instances match one to one at IoU >= 0.5: precision, recall and F1 from counts")
    func instances() {
        // truth: three squares; prediction: the first exact, the second half-covered (IoU 0.5),
        // the third missed, plus one spurious square
        let size = 60
        var truth = BinaryImage(width: size, height: size), predicted = BinaryImage(width: size, height: size)
        Self.square(size, 2, 2, 10, into: &truth); Self.square(size, 2, 2, 10, into: &predicted)
        Self.square(size, 20, 20, 10, into: &truth)
        var half = BinaryImage(width: size, height: size)
        Self.square(size, 20, 20, 10, into: &half)
        for i in half.pixels.indices where half.pixels[i] && (i % size) >= 25 { half.pixels[i] = false }
        for i in half.pixels.indices where half.pixels[i] { predicted.pixels[i] = true }   // 10 x 5 inside a 10 x 10: IoU 0.5
        Self.square(size, 40, 2, 8, into: &truth)
        Self.square(size, 40, 40, 8, into: &predicted)
        let m = InstanceMatch(predicted: predicted.regions(.eight), truth: truth.regions(.eight), width: size, height: size)
        #expect(m == InstanceMatch(truthCount: 3, predictedCount: 3, matched: 2))
        #expect(m.precision == 2.0 / 3 && m.recall == 2.0 / 3 && m.f1 == 2.0 / 3)
    }

    @Test("scores pool by adding counts; the mean-diameter error compares the analysed particles")
    func pooledAndDiameter() {
        let size = 64
        var truth = BinaryImage(width: size, height: size)
        Self.square(size, 10, 10, 20, into: &truth)
        var predicted = BinaryImage(width: size, height: size)
        Self.square(size, 10, 10, 22, into: &predicted)
        let s = SegmentationScore.score(image: "a", segmenter: "x", predicted: predicted, truth: truth, ignore: nil,
                                        pixelSize: PixelSizeNm(y: 0.5, x: 0.5), parameters: AnalysisParameters(), seconds: 0)
        // equivalent diameter of a square of side a: a * 2 / sqrt(pi)
        let expected = (22.0 - 20.0) / 20.0
        #expect(abs(s.meanDiameterRelativeError! - expected) < 1e-9)
        let pooled = SegmentationScore.pooled([s, s], name: "all")
        #expect(pooled.confusion.truePositive == 2 * s.confusion.truePositive && pooled.instances.truthCount == 2)
        #expect(pooled.confusion.particleIoU == s.confusion.particleIoU)
    }
}

@Suite struct FrameWithinExcludedBands {
    @Test("excluded bands across the whole image along its edges end the frame; a box in a corner does not")
    func bandsAndBoxes() {
        var e = BinaryImage(width: 50, height: 40)
        for r in 30..<40 { for c in 0..<50 { e[r, c] = true } }       // a data bar: the bottom 10 rows
        for r in 0..<40 { for c in 0..<3 { e[r, c] = true } }         // a band down the left edge
        for r in 0..<8 { for c in 40..<50 { e[r, c] = true } }        // a box in the top right corner
        let frame = BatchAnalysis.frame(within: e)
        #expect(frame == BoundingBox(minRow: 0, minCol: 3, maxRow: 29, maxCol: 49))
        var box = BinaryImage(width: 50, height: 40)
        for r in 0..<8 { for c in 40..<50 { box[r, c] = true } }
        #expect(BatchAnalysis.frame(within: box) == nil)
    }
}
