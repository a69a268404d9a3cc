import Testing
@testable import Pipeline

@Suite struct BurnedInText {
    static func rect(_ m: inout BinaryImage, _ r0: Int, _ r1: Int, _ c0: Int, _ c1: Int) {
        for r in r0..<r1 { for c in c0..<c1 { m[r, c] = true } }
    }
    static func disc(_ m: inout BinaryImage, _ cy: Int, _ cx: Int, _ radius: Int) {
        for r in (cy - radius)...(cy + radius) { for c in (cx - radius)...(cx + radius)
            where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= radius * radius { m[r, c] = true } }
    }
    static func ring(_ m: inout BinaryImage, _ cy: Int, _ cx: Int, _ outer: Int, _ inner: Int) {
        for r in (cy - outer)...(cy + outer) { for c in (cx - outer)...(cx + outer) {
            let d = (r - cy) * (r - cy) + (c - cx) * (c - cx)
            if d <= outer * outer && d > inner * inner { m[r, c] = true }
        } }
    }
    /// "50 nm" as block letters 20 px tall with 4 px strokes, baseline at row `base`, from column `left`,
    /// and (`bar`) a 6 x 90 px scale bar 8 px below.
    static func label(_ m: inout BinaryImage, base: Int, left: Int, bar: Bool = true) {
        let top = base - 20
        // 5
        rect(&m, top, top + 4, left, left + 12); rect(&m, top, top + 11, left, left + 4)
        rect(&m, top + 8, top + 12, left, left + 12); rect(&m, top + 8, base, left + 8, left + 12); rect(&m, base - 4, base, left, left + 12)
        // 0
        rect(&m, top, top + 4, left + 16, left + 28); rect(&m, base - 4, base, left + 16, left + 28)
        rect(&m, top, base, left + 16, left + 20); rect(&m, top, base, left + 24, left + 28)
        // n (14 px tall)
        rect(&m, base - 14, base - 10, left + 36, left + 48); rect(&m, base - 14, base, left + 36, left + 40); rect(&m, base - 14, base, left + 44, left + 48)
        // m
        rect(&m, base - 14, base - 10, left + 52, left + 72); rect(&m, base - 14, base, left + 52, left + 56)
        rect(&m, base - 14, base, left + 60, left + 64); rect(&m, base - 14, base, left + 68, left + 72)
        // the bar
        if bar { rect(&m, base + 8, base + 14, left, left + 90) }
    }

    @Test("a '50 nm' label and its scale bar near the bottom edge are text; round particles, even in a row near the edge, are not")
    func labelAndBar() {
        var m = BinaryImage(width: 300, height: 300)
        Self.label(&m, base: 270, left: 20)
        for (cy, cx) in [(100, 100), (150, 200), (60, 230)] { Self.disc(&m, cy, cx, 12) }
        for cx in [150, 175, 200] { Self.disc(&m, 280, cx, 10) }   // a row of touching-free particles on the same baseline
        let text = TextDetector.text(in: m)
        var expected = BinaryImage(width: 300, height: 300)
        Self.label(&expected, base: 270, left: 20)
        #expect(text == expected)
    }

    @Test("a scale bar the segmenter saw tapered (a wedge filling 39 % of its box, as on EMPS 6de290c824) or as its outline is text beside its label; a rod below the label is not a bar")
    func taperedAndHollowBars() {
        for shape in ["wedge", "outline"] {
            var m = BinaryImage(width: 300, height: 300)
            Self.label(&m, base: 250, left: 20, bar: false)
            var bar = BinaryImage(width: 300, height: 300)
            if shape == "wedge" {
                // 90 px long, 1 px thick at its left end, 12 px at its right, thickening as c²:
                // 39 % of its box (a 'bar' needed half before)
                for c in 0..<90 { let t = 1 + c * c * 11 / (89 * 89); Self.rect(&bar, 270 - t, 270, 20 + c, 21 + c) }
            } else {
                Self.rect(&bar, 258, 270, 20, 110)
                Self.rect(&bar, 261, 267, 23, 107)
                for r in 261..<267 { for c in 23..<107 { bar[r, c] = false } }
            }
            for i in bar.pixels.indices where bar.pixels[i] { m.pixels[i] = true }
            let text = TextDetector.text(in: m)
            #expect(bar.pixels.indices.allSatisfy { !bar.pixels[$0] || text.pixels[$0] }, "the \(shape) bar is not taken")
        }
        // a thick rod (aspect 3) under the label is a particle
        var m = BinaryImage(width: 300, height: 300)
        Self.label(&m, base: 250, left: 20, bar: false)
        Self.rect(&m, 258, 276, 30, 84)
        #expect(!TextDetector.text(in: m)[266, 50])
    }

    @Test("lettering is found in the image itself, dark on light or light on dark, with a margin for its edges; particles are not")
    func textInTheImage() {
        var label = BinaryImage(width: 300, height: 300), discs = BinaryImage(width: 300, height: 300)
        Self.label(&label, base: 270, left: 20)
        for (cy, cx) in [(100, 100), (150, 200), (60, 230)] { Self.disc(&discs, cy, cx, 12) }
        for dark in [true, false] {
            let (ink, support): (Float, Float) = dark ? (40, 200) : (220, 60)
            let image = GrayImage(width: 300, height: 300, pixels: (0..<(300 * 300)).map { label.pixels[$0] || discs.pixels[$0] ? ink : support })
            let text = TextDetector.textInImage(image)
            #expect(label.pixels.indices.allSatisfy { !label.pixels[$0] || text.pixels[$0] }, "dark \(dark): the label is not all taken")
            #expect(!discs.pixels.indices.contains { discs.pixels[$0] && text.pixels[$0] }, "dark \(dark): a particle taken for text")
            #expect(text[250, 18] && !text[250, 16], "dark \(dark): the margin is 2 px")  // the '5' starts at column 20
        }
    }

    @Test("three hollow particles in a row in the middle of the image are not text; the same row at the top edge is")
    func ringsAwayFromTheEdge() {
        var m = BinaryImage(width: 300, height: 300)
        for cx in [100, 130, 160] { Self.ring(&m, 150, cx, 10, 6) }
        #expect(!TextDetector.text(in: m).pixels.contains(true))
        var top = BinaryImage(width: 300, height: 300)
        for cx in [100, 130, 160] { Self.ring(&top, 20, cx, 10, 6) }
        #expect(TextDetector.text(in: top) == top)
    }

    @Test("two glyphs are not a line of text")
    func twoGlyphs() {
        var m = BinaryImage(width: 200, height: 200)
        Self.rect(&m, 170, 190, 20, 24); Self.rect(&m, 170, 174, 20, 32); Self.rect(&m, 170, 190, 28, 32)   // a 'n'
        Self.rect(&m, 170, 190, 40, 44); Self.rect(&m, 186, 190, 40, 52)                                   // an 'L'
        #expect(!TextDetector.text(in: m).pixels.contains(true))
    }

    /// A grey image: 200 where `m` is false, 50 where it is true (dark strokes or particles on a bright support).
    static func grey(_ m: BinaryImage) -> GrayImage {
        GrayImage(width: m.width, height: m.height, pixels: m.pixels.map { $0 ? 50 : 200 })
    }

    @Test("letters the segmentation fills into blobs (a network at a small scale) are text when the image shows their strokes; solid dark particles in a row at the edge are not")
    func blobLettersWithTheirStrokesInTheImage() {
        // the image: "50 nm" drawn in strokes; the segmentation: each letter's box filled
        var strokes = BinaryImage(width: 300, height: 300)
        Self.label(&strokes, base: 270, left: 20)
        var blobs = BinaryImage(width: 300, height: 300)
        for (c0, c1, r0) in [(20, 32, 250), (36, 48, 250), (56, 68, 256), (72, 92, 256)] { Self.rect(&blobs, r0, 270, c0, c1) }
        #expect(!TextDetector.text(in: blobs).pixels.contains(true), "blobs alone are not strokes")
        let found = TextDetector.text(in: blobs, image: Self.grey(strokes))
        var letters = BinaryImage(width: 300, height: 300)
        for (c0, c1, r0) in [(20, 32, 250), (36, 48, 250), (56, 68, 256), (72, 92, 256)] { Self.rect(&letters, r0, 270, c0, c1) }
        #expect(found == letters)
        // solid particles in a row near the edge, the image showing them solid too: not text
        var row = BinaryImage(width: 300, height: 300)
        for cx in [150, 175, 200, 225] { Self.disc(&row, 280, cx, 8) }
        #expect(!TextDetector.text(in: row, image: Self.grey(row)).pixels.contains(true))
    }

    @Test("a line is text only when drawn in one ink: the '50 nm' label in one grey on its support is; the same shapes over grainy texture (a row of HRTEM particles on carbon) are not, unless the line stands on bare support")
    func oneInk() {
        var m = BinaryImage(width: 300, height: 300)
        Self.label(&m, base: 270, left: 20)   // with its bar: other objects cover 5-25 % around the line
        var rng = SeededGenerator(seed: 16)
        let ink = GrayImage(width: 300, height: 300, pixels: m.pixels.map { Float(($0 ? 50 : 200) + 5 * rng.normal()) })
        let grain = GrayImage(width: 300, height: 300, pixels: m.pixels.map { _ in Float(128 + 40 * rng.normal()) })
        var letters = BinaryImage(width: 300, height: 300)
        Self.label(&letters, base: 270, left: 20, bar: false)
        let glyph = letters.regions(.eight)[0]
        #expect(TextDetector.inkSeparability(of: glyph, in: ink) > 0.9)
        #expect(TextDetector.inkSeparability(of: glyph, in: grain) < 0.7, "normal grain splits at 2/π ≈ 0.64")
        #expect(TextDetector.text(in: m, ink: ink) == m)
        #expect(!TextDetector.text(in: m, ink: grain).pixels.contains(true))
        #expect(TextDetector.text(in: m) == m, "without the image, the shape alone decides")
        // without the bar the line stands on bare support: faint lettering is kept
        #expect(TextDetector.text(in: letters, ink: grain) == letters)
        // a box of one grey level splits perfectly
        #expect(TextDetector.inkSeparability(of: glyph, in: GrayImage(width: 300, height: 300, pixels: Array(repeating: 7, count: 300 * 300))) == 1)
    }
}
