/// Finds burned-in annotations (scale bars, their labels, boxes behind them, panel letters) in an
/// exported micrograph, so that they are neither counted as particles nor part of the
/// network's normalisation.
///
/// Exports draw annotations in the image's extreme values (pure white and pure black), which a
/// micrograph's own pixels reach only in small numbers. Candidates are the 8-connected
/// components of the pixels equal to the image's minimum or to its maximum; a component is an
/// annotation when it is
/// - a **bar**: a filled rectangle (at least 85 % of its bounding box), at least 4 times longer
///   than thick, at most 5 % of the image's smaller side thick; or
/// - a **box**: a filled rectangle (at least 60 % of its bounding box) at least 8 px a side that
///   holds components of the other extreme (the label written into it);
/// and what lies near one of those (labels above or beside a bar, letters in a box: components
/// of either extreme whose bounding box is within three bar thicknesses, or inside the box) is
/// an annotation too. Each annotation's bounding box, grown by 3 px, is excluded. Particles
/// saturated in the image (bright SEM particles at 255) are round blobs: not rectangles, so not
/// taken, unless they touch a bar or lie in a box.
///
/// Images whose extremes are held by few pixels (the floating-point data of DM files) give
/// nothing.
public enum AnnotationDetector {
    public static func detect(_ image: GrayImage) -> BinaryImage {
        let w = image.width, h = image.height
        var out = BinaryImage(width: w, height: h)
        guard w >= 16, h >= 16, let lo = image.pixels.min(), let hi = image.pixels.max(), hi > lo else { return out }
        let low = BinaryImage(width: w, height: h, pixels: image.pixels.map { $0 == lo })
        let high = BinaryImage(width: w, height: h, pixels: image.pixels.map { $0 == hi })
        let minimumArea = 12
        let lows = low.regions(.eight).filter { $0.area >= 4 }
        let highs = high.regions(.eight).filter { $0.area >= 4 }
        let thickLimit = Double(min(w, h)) * 0.05
        var annotations: [BoundingBox] = []
        var nearBars: [BoundingBox] = []
        for (set, other) in [(lows, highs), (highs, lows)] {
            for r in set where r.area >= minimumArea {
                let b = r.box
                let fill = Double(r.area) / Double(b.width * b.height)
                let long = Double(max(b.width, b.height)), thick = Double(min(b.width, b.height))
                if fill >= 0.85 && long >= 4 * thick && thick <= thickLimit && long >= 12 {
                    annotations.append(b)
                    let m = Int(3 * thick) + 2
                    nearBars.append(BoundingBox(minRow: b.minRow - m, minCol: b.minCol - m, maxRow: b.maxRow + m, maxCol: b.maxCol + m))
                } else if fill >= 0.6 && thick >= 8 && other.contains(where: { inside($0.box, b) }) {
                    annotations.append(b)
                    nearBars.append(b)
                }
            }
        }
        // a data bar along the top or bottom edge: every row of it
        for rows in dataBars(image) {
            for row in rows { for col in 0..<w { out[row, col] = true } }
        }
        guard !annotations.isEmpty else { return out }
        // labels and letters near a bar or inside a box
        for r in lows + highs where nearBars.contains(where: { inside(r.box, $0) }) {
            // a large blob near a bar is not a label (a saturated particle touching the bar's zone)
            if r.area <= annotations.map({ $0.width * $0.height }).max()! { annotations.append(r.box) }
        }
        for b in annotations {
            for row in max(0, b.minRow - 3)...min(h - 1, b.maxRow + 3) {
                for col in max(0, b.minCol - 3)...min(w - 1, b.maxCol + 3) { out[row, col] = true }
            }
        }
        return out
    }

    /// The rows of the data bars along the image's top and bottom edges: the band SEM and TEM
    /// software writes the magnification, voltage, date and scale bar into, in one flat grey
    /// (black, white) across the whole width. From an edge inwards, the rows at least half of
    /// whose pixels lie within 2.5 % of the grey range of that edge row's most common grey
    /// (itself at least 90 % of its row) make the band; it is a data bar where
    /// - it is 2-25 % of the image's height,
    /// - the micrograph beyond it is not that grey (the median over the next 4 rows of the share
    ///   within reach is below 0.3: a dark-field image's own black background is not a bar),
    /// - its grey is the micrograph's extreme (at or below its 2nd or at or above its 98th
    ///   percentile), and
    /// - it holds something written in it: 2-45 % of its pixels out of reach of its grey.
    /// Only exports carry data bars: an image with more than 256 grey levels (a detector's own
    /// data) gives none.
    static func dataBars(_ image: GrayImage) -> [Range<Int>] {
        let w = image.width, h = image.height
        guard h >= 32, w >= 32, let lo = image.pixels.min(), let hi = image.pixels.max(), hi > lo,
              image.hasAtMostGreyLevels(256) else { return [] }
        let reach = 0.025 * Double(hi - lo)
        var bars: [Range<Int>] = []
        for fromBottom in [true, false] {
            // row k counted from the edge
            func row(_ k: Int) -> Int { fromBottom ? h - 1 - k : k }
            let edge = Array(image.pixels[(row(0) * w)..<(row(0) * w + w)])
            var counts: [Float: Int] = [:]
            for v in edge { counts[v, default: 0] += 1 }
            guard let level = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key else { continue }
            func share(_ k: Int) -> Double {
                let base = row(k) * w
                var n = 0
                for c in 0..<w where abs(Double(image.pixels[base + c] - level)) <= reach { n += 1 }
                return Double(n) / Double(w)
            }
            // the shares of the band's rows, from the edge
            var shares = [share(0)]
            guard shares[0] >= 0.9 else { continue }
            while shares.count < h, case let s = share(shares.count), s >= 0.5 { shares.append(s) }
            let depth = shares.count
            guard Double(depth) >= 0.02 * Double(h), Double(depth) <= 0.25 * Double(h), depth + 4 <= h else { continue }
            let beyond = (depth..<(depth + 4)).map(share).sorted()
            guard (beyond[1] + beyond[2]) / 2 < 0.3 else { continue }
            // the micrograph's 2nd and 98th percentiles, from its histogram (256 grey levels at most)
            var histogram: [Float: Int] = [:]
            for k in depth..<h { let base = row(k) * w; for c in 0..<w { histogram[image.pixels[base + c], default: 0] += 1 } }
            let levels = histogram.keys.sorted(), total = (h - depth) * w
            func percentile(_ q: Double) -> Float {
                var cumulative = 0
                for v in levels { cumulative += histogram[v]!; if Double(cumulative) > q * Double(total - 1) { return v } }
                return levels.last!
            }
            guard level <= percentile(0.02) || level >= percentile(0.98) else { continue }
            let writtenShare = 1 - shares.reduce(0, +) / Double(depth)
            guard writtenShare >= 0.02 && writtenShare <= 0.45 else { continue }
            bars.append(fromBottom ? (h - depth)..<h : 0..<depth)
        }
        return bars
    }

    static func inside(_ a: BoundingBox, _ b: BoundingBox) -> Bool {
        a.minRow >= b.minRow && a.maxRow <= b.maxRow && a.minCol >= b.minCol && a.maxCol <= b.maxCol
    }

    /// The union of rectangles `(x, y, width, height)` in pixels (x = column, y = row, 0-based),
    /// clipped to the image.
    public static func rectangles(_ rects: [(x: Int, y: Int, width: Int, height: Int)], width: Int, height: Int) -> BinaryImage {
        var out = BinaryImage(width: width, height: height)
        for r in rects {
            let r0 = max(0, r.y), r1 = min(height, r.y + r.height), c0 = max(0, r.x), c1 = min(width, r.x + r.width)
            guard r0 < r1, c0 < c1 else { continue }
            for row in r0..<r1 { for col in c0..<c1 { out[row, col] = true } }
        }
        return out
    }
}

/// Finds burned-in text in a segmentation: lettering ("AuNPs", "50 nm", "(a)", "200 °C") and
/// the scale bar drawn under it, drawn in the particles' own grey, that the segmenter marked as
/// particles. `AnnotationDetector` finds annotations in the image's extreme values before the
/// segmenter; anti-aliased or JPEG-compressed dark lettering on the support escapes it and is
/// found here, in the segmentation's 8-connected objects, by the shape of a line of text:
///
/// - a **glyph** is an object 6 px or more tall, at most a tenth of the image's smaller side,
///   at most 2.5 times as wide as tall, drawn with strokes: its largest inscribed disc (twice
///   the largest distance to its edge, chamfer 5-7-11) at most half its height. A particle is a
///   blob: its inscribed disc spans its height.
/// - glyphs of similar height (within 1.8 times) on a common baseline (their bottom rows within
///   0.3 of the taller's height) and at most one height apart join a **line**; a line of three
///   glyphs or more whose top or bottom lies in the outer 30 % of the image's height (where
///   figures put labels) and whose surroundings (its box grown by its height) other objects
///   cover less than a quarter of is text: lettering stands on clear support, the edge of a
///   dense monolayer does not.
/// - with the image (`ink`), the line must also be drawn in one ink: lettering is one grey on a
///   plain support, so each glyph's box (grown by a quarter of its height) splits cleanly in two
///   at its Otsu threshold, Otsu's separability (between-class over total variance) 0.75 or
///   more on average over the line's glyphs; only a line on nearly bare support (other objects
///   cover less than 5 % around it) may be fainter. A row of textured or noisy particles (HRTEM
///   particles with fringes on carbon: 0.61-0.67, the grain of a noisy support split at its
///   Otsu threshold: 0.5-0.7) is not text. On the 366 EMPS images every line at 0.75 or more was
///   lettering (training/README.md).
/// - then every object the line's band holds (at most 1.3 times the line's height tall and 3
///   times wide: thick letters and dots the glyph test missed, within one height left or
///   right, the line growing with each) and every **bar** near it (at least 4 times longer than
///   thick, no thicker than the line, a third of its box filled once its holes are filled (a
///   bar segmented tapered or as its outline), within 2.5 line heights) is text.
///
/// Rows of hollow particles or rods could look like glyphs; three in a row with a common
/// baseline near the top or bottom edge is what it takes to be taken for text.
/// Measured on the EMPS validation part (training/README.md).
public enum TextDetector {
    /// The objects of `mask` (8-connected) that are burned-in text or a scale bar beside it.
    /// `image` (the micrograph the mask segments; given where a network saw the image shrunk): an
    /// object segmented as a blob (a letter seen at a network scale below its strokes' width, its
    /// counters filled) is looked at in the image too: its pixels on its own side of the Otsu threshold of its box (the strokes, not
    /// the counters) are tested for the stroke rule; a uniform particle stays solid there.
    /// `ink`: the micrograph, for the one-ink rule (without it, lines are judged by their shape alone).
    public static func text(in mask: BinaryImage, image: GrayImage? = nil, ink: GrayImage? = nil) -> BinaryImage {
        let w = mask.width, h = mask.height
        var out = BinaryImage(width: w, height: h)
        guard w >= 32, h >= 32 else { return out }
        let regions = mask.regions(.eight)
        let maxGlyphHeight = Double(min(w, h)) * 0.1
        var glyphs: [Int] = []
        var buffer: [Int32] = []
        for (k, r) in regions.enumerated() {
            let b = r.box
            guard b.height >= 6 && Double(b.height) <= maxGlyphHeight && Double(b.width) <= 2.5 * Double(b.height) else { continue }
            let strokePx = b.width * 2 <= b.height ? Double(b.width) : 2 * largestInscribedRadius(r, buffer: &buffer)
            if strokePx <= 0.5 * Double(b.height) {
                glyphs.append(k)
            } else if let image, let strokes = strokes(of: r, in: image), 2 * largestInscribedRadius(strokes, buffer: &buffer) <= 0.5 * Double(b.height) {
                glyphs.append(k)
            }
        }
        guard glyphs.count >= 3 else { return out }
        // lines: glyphs joined by union-find
        var parent = Array(0..<glyphs.count)
        func root(_ a: Int) -> Int {
            var a = a
            while parent[a] != a { parent[a] = parent[parent[a]]; a = parent[a] }
            return a
        }
        // by left edge: a glyph's partners start at most one (largest) glyph height after its
        // right edge, so the pairs looked at stay few however many specks a noisy image has
        glyphs.sort { regions[$0].box.minCol < regions[$1].box.minCol }
        for a in 0..<glyphs.count {
            for b in (a + 1)..<glyphs.count {
                let p = regions[glyphs[a]].box, q = regions[glyphs[b]].box
                if Double(q.minCol - p.maxCol - 1) > maxGlyphHeight { break }
                let tall = Double(max(p.height, q.height))
                guard tall <= 1.8 * Double(min(p.height, q.height)),
                      Double(abs(p.maxRow - q.maxRow)) <= 0.3 * tall,
                      Double(max(q.minCol - p.maxCol, p.minCol - q.maxCol) - 1) <= tall else { continue }
                parent[root(a)] = root(b)
            }
        }
        var members: [Int: [Int]] = [:]
        for k in glyphs.indices { members[root(k), default: []].append(glyphs[k]) }
        var taken = Set<Int>()
        for group in members.values where group.count >= 3 {
            var line = regions[group[0]].box
            for k in group { let b = regions[k].box; line = BoundingBox(minRow: min(line.minRow, b.minRow), minCol: min(line.minCol, b.minCol),
                                                                           maxRow: max(line.maxRow, b.maxRow), maxCol: max(line.maxCol, b.maxCol)) }
            let edge = 0.3 * Double(h)
            guard Double(line.minRow) < edge || Double(line.maxRow) > Double(h - 1) - edge else { continue }
            let tall = group.map { regions[$0].box.height }.max()!
            // lettering stands on clear support: around the line (its box grown by its height)
            // other objects cover less than a quarter (a dense monolayer's edge does not)
            let r0 = max(0, line.minRow - tall), r1 = min(h - 1, line.maxRow + tall)
            let c0 = max(0, line.minCol - tall), c1 = min(w - 1, line.maxCol + tall)
            var around = 0
            for r in r0...r1 { for c in c0...c1 where mask[r, c] { around += 1 } }
            around -= group.reduce(0) { $0 + regions[$1].area }
            let aroundArea = Double((r1 - r0 + 1) * (c1 - c0 + 1))
            guard Double(around) < 0.25 * aroundArea else { continue }
            // drawn in one ink (or standing on bare support)
            if let ink = ink ?? image, Double(around) >= 0.05 * aroundArea {
                let separability = group.reduce(0.0) { $0 + inkSeparability(of: regions[$1], in: ink) } / Double(group.count)
                guard separability >= minimumInkSeparability else { continue }
            }
            let half = tall / 2
            for _ in 0..<4 {
                var grown = false
                for (k, o) in regions.enumerated() where !taken.contains(k) {
                    let b = o.box
                    let inBand = b.minRow >= line.minRow - half && b.maxRow <= line.maxRow + half && b.maxCol >= line.minCol - tall
                        && b.minCol <= line.maxCol + tall && b.height <= tall + tall * 3 / 10 && b.width <= 3 * tall
                    // a bar the segmenter saw tapered (a wedge: 38 % of its box on EMPS 6de290c824 at
                    // 0.7 x) or as its outline (a ring round its flat inside, filled first)
                    let bar = b.width >= 4 * b.height && b.height <= tall
                        && Double(b.minRow) < Double(line.maxRow) + 2.5 * Double(tall) && Double(b.maxRow) > Double(line.minRow) - 2.5 * Double(tall)
                        && b.minCol < line.maxCol + 2 * tall && b.maxCol > line.minCol - 2 * tall
                        && 10 * (10 * o.area >= 3 * b.width * b.height ? o.area : o.holesFilled().area) >= 3 * b.width * b.height
                    guard inBand || bar else { continue }
                    taken.insert(k)
                    if inBand && (b.minCol < line.minCol || b.maxCol > line.maxCol) {
                        line.minCol = min(line.minCol, b.minCol); line.maxCol = max(line.maxCol, b.maxCol)
                        grown = true
                    }
                }
                if !grown { break }
            }
        }
        for k in taken { for p in regions[k].pixels { out[p.row, p.col] = true } }
        return out
    }

    /// Lettering found in the image itself rather than in a segmentation: the text `text(in:)`
    /// finds among the image's pixels darker than its Otsu threshold, and among those brighter,
    /// grown by 2 px (4-neighbourhood) to cover anti-aliased edges. For frames a network saw
    /// shrunk, whose segmentation may hold only fragments of the letters.
    public static func textInImage(_ image: GrayImage) -> BinaryImage {
        guard image.width >= 32, image.height >= 32 else { return BinaryImage(width: image.width, height: image.height) }
        let t = ClassicalSegmenter.otsuThreshold(image.pixels)
        var out = text(in: BinaryImage(width: image.width, height: image.height, pixels: image.pixels.map { $0 < t }), ink: image)
        let bright = text(in: BinaryImage(width: image.width, height: image.height, pixels: image.pixels.map { $0 > t }), ink: image)
        for i in out.pixels.indices where bright.pixels[i] { out.pixels[i] = true }
        return out.dilated(by: .cross3).dilated(by: .cross3)
    }

    /// The grey levels of `region`'s box grown by a quarter of its height (clipped to the image).
    static func surroundings(of region: Region, in image: GrayImage) -> [Float] {
        let b = region.box, pad = max(1, b.height / 4)
        let r0 = max(0, b.minRow - pad), r1 = min(image.height - 1, b.maxRow + pad)
        let c0 = max(0, b.minCol - pad), c1 = min(image.width - 1, b.maxCol + pad)
        var values: [Float] = []
        values.reserveCapacity((r1 - r0 + 1) * (c1 - c0 + 1))
        for r in r0...r1 { for c in c0...c1 { values.append(image.pixels[r * image.width + c]) } }
        return values
    }

    /// The least mean `inkSeparability` of a line's glyphs for it to be lettering (unless it stands on bare support).
    static let minimumInkSeparability = 0.75

    /// How cleanly the grey levels of `region`'s box (grown by a quarter of its height) split in
    /// two at their Otsu threshold: Otsu's separability measure, the between-class variance over
    /// the total (Otsu 1979), 1 for two grey levels, lower the more the levels spread (texture,
    /// noise); 1 for a box of one grey level.
    static func inkSeparability(of region: Region, in image: GrayImage) -> Double {
        let values = surroundings(of: region, in: image)
        let t = ClassicalSegmenter.otsuThreshold(values)
        var n = [0.0, 0.0], sum = [0.0, 0.0], sumSquares = 0.0
        for v in values {
            let k = v < t ? 0 : 1, x = Double(v)
            n[k] += 1; sum[k] += x; sumSquares += x * x
        }
        let count = n[0] + n[1], mean = (sum[0] + sum[1]) / count
        let total = sumSquares - count * mean * mean
        guard n[0] > 0, n[1] > 0, total > 0 else { return 1 }
        let between = n[0] * n[1] / count * (sum[0] / n[0] - sum[1] / n[1]) * (sum[0] / n[0] - sum[1] / n[1])
        return min(1, between / total)
    }

    /// The pixels of `region` on its own side (darker or brighter than its surroundings) of the
    /// Otsu threshold of the image over its box grown by a quarter of its height; nil when
    /// there are none or the box holds one grey level.
    static func strokes(of region: Region, in image: GrayImage) -> Region? {
        let values = surroundings(of: region, in: image)
        guard let lo = values.min(), let hi = values.max(), hi > lo else { return nil }
        let t = ClassicalSegmenter.otsuThreshold(values)
        let inside = region.pixels.reduce(0.0) { $0 + Double(image.pixels[$1.row * image.width + $1.col]) } / Double(region.area)
        let all = values.reduce(0.0) { $0 + Double($1) }
        let outsideCount = values.count - region.area
        guard outsideCount > 0 else { return nil }
        let dark = inside < (all - inside * Double(region.area)) / Double(outsideCount)
        let kept = region.pixels.filter { p in
            let v = image.pixels[p.row * image.width + p.col]
            return dark ? v < t : v > t
        }
        return kept.isEmpty ? nil : Region(pixels: kept)
    }

    /// The largest distance (px) from a pixel of `region` to a pixel outside it, by the 5-7-11
    /// chamfer distance (within 2 % of the Euclidean `EuclideanDistance` gives, at a fraction of
    /// its cost; Borgefors 1986), in one pass forward and one back over the region's box.
    static func largestInscribedRadius(_ region: Region, buffer: inout [Int32]) -> Double {
        let b = region.box, pad = 2
        let w = b.width + 2 * pad, h = b.height + 2 * pad
        let far = Int32.max / 2
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: w * h))
        for p in region.pixels { buffer[(p.row - b.minRow + pad) * w + p.col - b.minCol + pad] = far }
        let forward: [(Int, Int, Int32)] = [(-1, -1, 7), (-1, 0, 5), (-1, 1, 7), (0, -1, 5), (-1, -2, 11), (-1, 2, 11), (-2, -1, 11), (-2, 1, 11)]
        var largest: Int32 = 0
        buffer.withUnsafeMutableBufferPointer { d in
            for r in pad..<(h - pad) { for c in pad..<(w - pad) where d[r * w + c] > 0 {
                var v = d[r * w + c]
                for (dr, dc, cost) in forward { v = min(v, d[(r + dr) * w + c + dc] + cost) }
                d[r * w + c] = v
            } }
            for r in stride(from: h - pad - 1, through: pad, by: -1) { for c in stride(from: w - pad - 1, through: pad, by: -1) where d[r * w + c] > 0 {
                var v = d[r * w + c]
                for (dr, dc, cost) in forward { v = min(v, d[(r - dr) * w + c - dc] + cost) }
                d[r * w + c] = v
                largest = max(largest, v)
            } }
        }
        return Double(largest) / 5
    }
}
