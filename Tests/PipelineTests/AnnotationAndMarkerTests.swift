import Foundation
import ImageFiles
import Testing
@testable import Pipeline

@Suite struct BurnedInAnnotations {
    /// A noisy grey image with values strictly between 10 and 240.
    static func background(_ w: Int, _ h: Int) -> GrayImage {
        var state: UInt64 = 7
        let pixels = (0..<(w * h)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return 60 + Float((state >> 33) % 120)
        }
        return GrayImage(width: w, height: h, pixels: pixels)
    }

    @Test("a white scale bar with a label above it is found; a saturated round particle elsewhere is not")
    func barAndLabel() {
        var g = Self.background(200, 160)
        func paint(_ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int, _ v: Float) { for r in r0..<r1 { for c in c0..<c1 { g.pixels[r * 200 + c] = v } } }
        paint(140, 145, 120, 180, 255)       // the bar: 60 x 5
        paint(128, 137, 130, 133, 255)       // "1"
        paint(128, 137, 140, 148, 255)       // "0" as a block
        paint(0, 200 * 0 + 1, 0, 1, 0)       // one black pixel: the image's minimum, alone
        // a saturated round particle far from the bar
        for r in 30..<50 { for c in 30..<50 where (r - 40) * (r - 40) + (c - 40) * (c - 40) <= 81 { g.pixels[r * 200 + c] = 255 } }
        let found = AnnotationDetector.detect(g)
        #expect(found[142, 150] && found[130, 131] && found[130, 145])
        #expect(!found[40, 40])
        let count = found.pixels.filter { $0 }.count
        #expect(count < 200 * 160 / 10)
    }

    @Test("floating-point data without saturated extremes gives no annotation")
    func nothingInRawData() {
        let g = Self.background(100, 100)
        #expect(AnnotationDetector.detect(g).pixels.allSatisfy { !$0 })
    }

    @Test("the reference micrograph's scale-bar box (822, 911, 202 x 113) is found and little else",
          .enabled(if: ReferenceCase.available, ReferenceCase.skip))
    func referenceScaleBar() throws {
        let raster = try PNGFile.read(path: ReferenceCase.folder.appendingPathComponent("image.png").path)
        let found = AnnotationDetector.detect(GrayImage(width: raster.width, height: raster.height, pixels: raster.pixels))
        var inBox = 0, outside = 0
        for r in 0..<raster.height { for c in 0..<raster.width where found[r, c] {
            if r >= 911 && c >= 822 { inBox += 1 } else { outside += 1 }
        } }
        #expect(Double(inBox) >= 0.95 * 202 * 113, "\(inBox)")
        #expect(outside < 2000, "\(outside)")
    }
}

@Suite struct SeparationFromTheNetworksDistance {
    /// Two discs of radius 11 overlapping by a pixel, with the ideal distance map.
    static func pair(gap: Double = 0) -> (BinaryImage, [Float]) {
        let w = 60, h = 30
        var mask = BinaryImage(width: w, height: h)
        var d = [Float](repeating: 0, count: w * h)
        for (cx, cy) in [(19.5, 14.5), (40.5 + gap, 14.5)] {
            for r in 0..<h { for c in 0..<w {
                let dist = ((Double(c) - cx) * (Double(c) - cx) + (Double(r) - cy) * (Double(r) - cy)).squareRoot()
                if dist <= 11 {
                    mask[r, c] = true
                    d[r * w + c] = max(d[r * w + c], Float(1 - dist / 11))
                }
            } }
        }
        return (mask, d)
    }

    @Test("two touching discs are split in two at their contact, each about its own area")
    func touchingPairSplits() throws {
        let (mask, d) = Self.pair()
        let object = mask.regions(.eight)
        #expect(object.count == 1)
        let pieces = MarkerSeparation.separate(object[0], distance: d, imageWidth: mask.width, imageHeight: mask.height)
        try #require(pieces.count == 2)
        #expect(pieces.map(\.area).reduce(0, +) == object[0].area)
        for p in pieces { #expect(abs(Double(p.area) - Double.pi * 11 * 11) < 45, "\(p.area)") }
        #expect(pieces[0].box.maxCol <= 31 && pieces[1].box.minCol >= 29)
    }

    @Test("one particle with one core is kept whole; without a distance map the network mode falls back to UECS")
    func singleCoreAndFallback() {
        var (mask, d) = Self.pair()
        for r in 0..<mask.height { for c in 30..<mask.width { mask[r, c] = false; d[r * mask.width + c] = 0 } }
        let one = mask.regions(.eight)
        #expect(MarkerSeparation.separate(one[0], distance: d, imageWidth: mask.width, imageHeight: mask.height).count == 1)
        var p = AnalysisParameters()
        p.overlap = .network
        p.minimumDiameterNm = 0
        let (pairMask, pairD) = Self.pair()
        let px = PixelSizeNm(y: 1, x: 1)
        #expect(ParticleAnalysis.analyze(pairMask, pixelSize: px, parameters: p, distance: pairD).particles.count == 2)
        #expect(ParticleAnalysis.analyze(pairMask, pixelSize: px, parameters: p, distance: nil).particles.count
                == { var q = p; q.overlap = .separate; return ParticleAnalysis.analyze(pairMask, pixelSize: px, parameters: q).particles.count }())
    }

    @Test("where the distance map shows one core in a non-convex object (two overlapping discs), the network mode splits it by UECS; what UECS cannot split stays whole, not dropped")
    func uecsWhereTheMapShowsOneCore() {
        var p = AnalysisParameters()
        p.overlap = .network
        p.minimumDiameterNm = 0
        let px = PixelSizeNm(y: 1, x: 1)
        // two discs of radius 25 whose centres are 42 px apart (0.84 of the sum of their radii)
        var pairMask = BinaryImage(width: 120, height: 70)
        for r in 0..<70 { for col in 0..<120 { for cx in [38.5, 80.5] where (Double(col) - cx) * (Double(col) - cx) + (Double(r) - 34.5) * (Double(r) - 34.5) <= 625 {
            pairMask[r, col] = true
        } } }
        let flat = pairMask.pixels.map { $0 ? Float(1) : 0 }  // one core over both discs
        let object = pairMask.regions(.eight)[0]
        #expect(MarkerSeparation.separate(object, distance: flat, imageWidth: pairMask.width, imageHeight: pairMask.height).count == 1)
        let split = ParticleAnalysis.analyze(pairMask, pixelSize: px, parameters: p, distance: flat)
        #expect(split.particles.count == 2 && split.particles.allSatisfy(\.separated))
        for m in split.particles { #expect(abs(m.equivalentDiameterPx - 50) < 6, "\(m.equivalentDiameterPx) px") }
        // a C (an annulus with a quarter cut away): non-convex, one particle
        let w = 60, h = 60
        var c = BinaryImage(width: w, height: h)
        for r in 0..<h { for col in 0..<w {
            let y = Double(r) - 29.5, x = Double(col) - 29.5, dist = (x * x + y * y).squareRoot()
            if dist <= 22 && dist >= 13 && !(x > 0 && y > 0) { c[r, col] = true }
        } }
        let cFlat = c.pixels.map { $0 ? Float(1) : 0 }
        var q = p
        q.overlap = .separate
        let uecs = ParticleAnalysis.analyze(c, pixelSize: px, parameters: q)
        let network = ParticleAnalysis.analyze(c, pixelSize: px, parameters: p, distance: cFlat)
        #expect(uecs.particles.count != 1, "UECS should cut or drop the C (\(uecs.particles.count) particles)")
        #expect(network.particles.count == 1 && network.particles.first?.areaPx == c.pixels.filter { $0 }.count)
    }

    @Test("a particle with a hole is not cut around the hole: holes are filled before the network's separation and the watershed")
    func holeFilledBeforeSeparation() {
        let w = 40, h = 40
        var mask = BinaryImage(width: w, height: h)
        var d = [Float](repeating: 0, count: w * h)
        for r in 0..<h { for c in 0..<w {
            let dist = ((Double(c) - 19.5) * (Double(c) - 19.5) + (Double(r) - 19.5) * (Double(r) - 19.5)).squareRoot()
            if dist <= 14 && dist >= 4 { mask[r, c] = true }   // a ring: a porous particle seen as a ring
            if dist <= 14 { d[r * w + c] = Float(1 - dist / 14) }
        } }
        for mode in [OverlapMode.network, .watershed] {
            var p = AnalysisParameters()
            p.overlap = mode
            p.minimumDiameterNm = 0
            let result = ParticleAnalysis.analyze(mask, pixelSize: PixelSizeNm(y: 1, x: 1), parameters: p, distance: d)
            #expect(result.particles.count == 1, "\(mode)")
            #expect(result.particles.first?.areaPx == mask.holesFilled().pixels.filter { $0 }.count, "\(mode)")
        }
    }

    @Test("a split that leaves only one particle above the minimum size keeps the object whole and unseparated")
    func specksCutOffAreNotSecondParticles() throws {
        // twice the size of the first version of this test, which was drawn for 2 px smoothing
        let w = 120, h = 60
        var mask = BinaryImage(width: w, height: h)
        var d = [Float](repeating: 0, count: w * h)
        for (cx, cy, radius) in [(39.0, 29.0, 22.0), (68.0, 29.0, 9.0)] {
            for r in 0..<h { for c in 0..<w {
                let dist = ((Double(c) - cx) * (Double(c) - cx) + (Double(r) - cy) * (Double(r) - cy)).squareRoot()
                if dist <= radius {
                    mask[r, c] = true
                    d[r * w + c] = max(d[r * w + c], Float(1 - dist / radius))
                }
            } }
        }
        let object = try #require(mask.regions(.eight).first)
        let pieces = MarkerSeparation.separate(object, distance: d, imageWidth: w, imageHeight: h)
        try #require(pieces.count == 2, "the distance map must split off the small bump for this test")
        var p = AnalysisParameters()
        p.overlap = .network
        p.minimumDiameterNm = 20  // 315 px: the bump (about 254 px) is a speck
        let result = ParticleAnalysis.analyze(mask, pixelSize: PixelSizeNm(y: 1, x: 1), parameters: p, distance: d)
        #expect(result.particles.count == 1)
        #expect(result.particles.first?.separated == false)
        #expect(result.particles.first?.areaPx == object.area)
    }

    @Test("two heavily overlapping particles whose map dips only to 0.5 between them are two summits: split by default, one core at the old level 0.4, whole when the summit height asked for exceeds the dip")
    func summitsSplitADipAboveAnyFixedLevel() throws {
        // discs of radius 20 whose centres are 28 px apart (0.7 of the sum of their radii); each
        // pixel's map is the higher of two cones falling to 0 at 28 px, so the pass between the
        // summits (1) lies at 0.5
        let w = 90, h = 50
        var mask = BinaryImage(width: w, height: h)
        var d = [Float](repeating: 0, count: w * h)
        for r in 0..<h { for c in 0..<w { for cx in [30.5, 58.5] {
            let dist = ((Double(c) - cx) * (Double(c) - cx) + (Double(r) - 24.5) * (Double(r) - 24.5)).squareRoot()
            if dist <= 20 { mask[r, c] = true }
            d[r * w + c] = max(d[r * w + c], Float(max(0, 1 - dist / 28)))
        } } }
        let object = try #require(mask.regions(.eight).first)
        let pieces = MarkerSeparation.separate(object, distance: d, imageWidth: w, imageHeight: h)
        try #require(pieces.count == 2)
        #expect(pieces.map(\.area).reduce(0, +) == object.area)
        #expect(abs(pieces[0].area - pieces[1].area) <= object.area / 50, "\(pieces.map(\.area))")
        #expect(MarkerSeparation.separate(object, distance: d, imageWidth: w, imageHeight: h, sigmaPx: 4, markers: .level(0.4)).count == 1)
        var p = AnalysisParameters()
        p.overlap = .network
        p.minimumDiameterNm = 0
        p.convexityThreshold = 0  // no UECS fallback and no neck cut: the map alone decides
        p.neckCut = false
        let px = PixelSizeNm(y: 1, x: 1)
        #expect(ParticleAnalysis.analyze(mask, pixelSize: px, parameters: p, distance: d).particles.count == 2)
        p.markerPeakHeight = 0.6
        #expect(ParticleAnalysis.analyze(mask, pixelSize: px, parameters: p, distance: d).particles.count == 1)
    }

    @Test("a distance map with NaN and infinity (a broken model) splits without trapping; the NaN region is no summit")
    func brokenMapsDoNotTrap() throws {
        let (mask, d) = Self.pair()
        let object = try #require(mask.regions(.eight).first)
        var broken = d
        for r in 0..<mask.height { for c in 0..<25 { broken[r * mask.width + c] = .nan } }
        broken[14 * mask.width + 40] = .infinity
        for sigma in [0.0, 1.5] {
            let pieces = MarkerSeparation.separate(object, distance: broken, imageWidth: mask.width, imageHeight: mask.height, sigmaPx: sigma)
            #expect(pieces.map(\.area).reduce(0, +) == object.area, "sigma \(sigma): every pixel in one piece or another")
        }
    }

    @Test("the summits found are those of the definition: a summit plateau above the floor counts when nothing higher is reachable without descending by the height, and of equal summits so joined exactly one counts (random maps)")
    func summitsFollowTheirDefinition() {
        var state: UInt64 = 99
        func next(_ n: UInt64) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % n)
        }
        let w = 26, h = 22, n = w * h
        let offsets = [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1]
        var summitsSeen = 0, tiesSeen = 0
        for trial in 0..<60 {
            // a blob-shaped mask (no pixel on the frame's edge) and a rough map in 1/255 steps
            var mask = BinaryImage(width: w, height: h)
            let cy = 10.5 + Double(next(3)), cx = 12.5 + Double(next(3)), ry = 6.0 + Double(next(4)), rx = 7.0 + Double(next(5))
            for r in 1..<(h - 1) { for c in 1..<(w - 1) where pow((Double(r) - cy) / ry, 2) + pow((Double(c) - cx) / rx, 2) <= 1 { mask[r, c] = true } }
            let levels = [256, 24, 8][trial % 3]  // coarse levels: plateaus and equal summits
            var raw = (0..<n).map { _ in Float(next(UInt64(levels))) }
            if trial % 2 == 0 {  // smoothed a little: summits of several pixels and real passes
                var out = raw
                for r in 1..<(h - 1) { for c in 1..<(w - 1) { let i = r * w + c; out[i] = (offsets.reduce(raw[i]) { $0 + raw[i + $1] } / 9).rounded() } }
                raw = out
            }
            let d = raw.map { $0 / 255 }
            let height: Float = [0.01, 0.02, 0.05, 0.1][trial % 4], floor: Float = trial % 5 == 0 ? 0.02 : 0
            let found = MarkerSeparation.peaks(d, mask: mask, height: height, floor: floor)
            let q = d.map { Int(($0 * 255).rounded()) }, hq = Int(height * 255), floorQ = Int((floor * 255).rounded())
            func reach(_ from: [Int], while ok: (Int) -> Bool) -> Set<Int> {
                var seen = Set(from), stack = from
                while let i = stack.popLast() {
                    for o in offsets where mask.pixels[i + o] && !seen.contains(i + o) && ok(i + o) { seen.insert(i + o); stack.append(i + o) }
                }
                return seen
            }
            // every summit plateau of the map
            var plateauOf = [Int](repeating: -1, count: n)
            var plateaus: [Set<Int>] = []
            for i in 0..<n where mask.pixels[i] && plateauOf[i] < 0 {
                let p = reach([i]) { q[$0] == q[i] }
                let isSummit = !p.contains { j in offsets.contains { mask.pixels[j + $0] && q[j + $0] > q[i] } }
                for j in p { plateauOf[j] = isSummit ? plateaus.count : -2 }
                if isSummit { plateaus.append(p) }
            }
            summitsSeen += plateaus.count
            let foundSets = found.map { Set($0.pixels.map { $0.row * w + $0.col }) }
            for f in foundSets { #expect(plateaus.contains(f), "trial \(trial): a marker that is not a summit plateau") }
            for (k, p) in plateaus.enumerated() {
                let level = q[p.first!]
                // what the summit reaches without going down by the height or more
                let basin = reach(Array(p)) { q[$0] > level - hq }
                let counted = foundSets.contains(p)
                if level <= floorQ || basin.contains(where: { q[$0] > level }) {
                    #expect(!counted, "trial \(trial): summit \(k) at \(level) should not count")
                } else {
                    let equals = Set(basin.map { plateauOf[$0] }.filter { $0 >= 0 && q[plateaus[$0].first!] == level })
                    if equals.count > 1 { tiesSeen += 1 }
                    #expect(foundSets.filter { f in equals.contains { plateaus[$0] == f } }.count == 1,
                            "trial \(trial): of \(equals.count) equal summits joined above the height, exactly one counts")
                }
            }
        }
        #expect(summitsSeen > 200 && tiesSeen > 5, "the maps must exercise summits and ties (\(summitsSeen), \(tiesSeen))")
    }

    @Test("smoothing only the object's surroundings equals smoothing the whole map, inside the object")
    func localSmoothingEqualsWholeMap() throws {
        let (mask, d) = Self.pair()
        let object = try #require(mask.regions(.eight).first)
        for sigma in [1.0, 2.5, 4.0] {
            let whole = GrayImage(width: mask.width, height: mask.height, pixels: d).gaussianBlurred(sigma: sigma).pixels
            // the whole-map blur, then no further smoothing, splits exactly as the local blur does
            let local = MarkerSeparation.separate(object, distance: d, imageWidth: mask.width, imageHeight: mask.height, sigmaPx: sigma)
            let viaWhole = MarkerSeparation.separate(object, distance: whole, imageWidth: mask.width, imageHeight: mask.height, sigmaPx: 0)
            #expect(local.map(\.pixels) == viaWhole.map(\.pixels), "sigma \(sigma)")
        }
    }
}

@Suite struct DataBars {
    /// A 200 x 160 8-bit micrograph (grey 60-179) with a bar of grey `bar` over `rows`, lettering
    /// (grey `ink`, 3 x 8 px strokes every 12 px) written in its middle rows.
    static func withBar(rows: Range<Int>, bar: Float, ink: Float) -> GrayImage {
        var g = BurnedInAnnotations.background(200, 160)
        for r in rows { for c in 0..<200 { g.pixels[r * 200 + c] = bar } }
        let mid = (rows.lowerBound + rows.upperBound) / 2
        for c0 in stride(from: 10, to: 150, by: 12) { for r in (mid - 4)..<(mid + 4) { for c in c0..<(c0 + 3) { g.pixels[r * 200 + c] = ink } } }
        return g
    }

    static func fullRows(_ m: BinaryImage) -> [Int] { (0..<m.height).filter { r in (0..<m.width).allSatisfy { m[r, $0] } } }

    @Test("a black data bar with white lettering across the bottom is left out whole, every row of it, and the micrograph above it kept")
    func blackBarAtTheBottom() {
        let image = Self.withBar(rows: 136..<160, bar: 0, ink: 255)
        #expect(AnnotationDetector.dataBars(image) == [136..<160])
        // the bar in the image's extreme grey holding the other extreme is also a box (grown by 3 px)
        let found = AnnotationDetector.detect(image)
        #expect(Self.fullRows(found) == Array(133..<160))
        #expect((0..<133).allSatisfy { r in (0..<200).allSatisfy { !found[r, $0] } })
    }

    @Test("a white data bar with grey lettering along the top is left out whole")
    func whiteBarAtTheTop() {
        let image = Self.withBar(rows: 0..<20, bar: 255, ink: 100)
        #expect(AnnotationDetector.dataBars(image) == [0..<20])
        #expect(Self.fullRows(AnnotationDetector.detect(image)) == Array(0..<20))
    }

    @Test("a dark-field frame's black support, with bright particles down to its bottom edge, is no data bar")
    func darkFieldSupportIsNoBar() {
        var g = GrayImage(width: 200, height: 160, pixels: [Float](repeating: 0, count: 200 * 160))
        for cy in stride(from: 8, to: 160, by: 16) { for cx in stride(from: 8, to: 200, by: 16) {
            for r in (cy - 4)...(cy + 4) { for c in (cx - 4)...(cx + 4) where r < 160 && (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 16 {
                g.pixels[r * 200 + c] = 200
            } }
        } }
        #expect(AnnotationDetector.dataBars(g).isEmpty)
    }

    @Test("a band of the micrograph's own darkest grey that goes on beyond its edge is no data bar")
    func darkRegionOfTheMicrographIsNoBar() {
        // the bottom 60 rows black with lettering, and the 30 rows above them half black too
        var g = Self.withBar(rows: 100..<160, bar: 0, ink: 255)
        for r in 70..<100 { for c in 0..<100 { g.pixels[r * 200 + c] = 0 } }
        #expect(AnnotationDetector.dataBars(g).isEmpty)
    }

    @Test("a detector's own data (more than 256 grey levels) has no data bar")
    func rawDataHasNoBar() {
        var g = Self.withBar(rows: 136..<160, bar: 0, ink: 255)
        for i in g.pixels.indices where g.pixels[i] > 0 && g.pixels[i] < 255 { g.pixels[i] += Float(i % 7) * 0.1 }
        #expect(AnnotationDetector.dataBars(g).isEmpty)
    }

    @Test("a particle cut by the frame's edge where a data bar ends it is cleared with the border's; one clear of it is kept")
    func particleCutByTheBarIsCleared() {
        var mask = BinaryImage(width: 100, height: 80)
        // the micrograph ends at row 69 (a bar below); a disc down to row 69, another well above
        for (cy, cx) in [(64, 30), (30, 60)] { for r in (cy - 5)...(cy + 5) { for c in (cx - 5)...(cx + 5) where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 25 {
            mask[r, c] = true
        } } }
        let frame = BoundingBox(minRow: 0, minCol: 0, maxRow: 69, maxCol: 99)
        let cut = ParticleAnalysis.analyze(mask, pixelSize: nil, frame: frame)
        #expect(cut.particles.count == 1 && cut.borderRegions.count == 1)
        #expect(ParticleAnalysis.analyze(mask, pixelSize: nil).particles.count == 2)
    }
}
