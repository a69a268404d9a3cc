import Foundation
import ImageFiles
import Pipeline

/// Pictures to check at a glance that the analysis saw what the microscopist sees: the
/// micrograph as it is (contrast-stretched, one picture pixel per image pixel) with vector
/// outlines and text drawn over it by cairo and pango. PNG for the report folder; the particle
/// map also as SVG, which keeps every particle's number (zoom in).
public enum Pictures {
    /// A scale bar length of 1, 2 or 5 x 10^k nm close to a fifth of the image width.
    public static func scaleBarNm(widthPx: Int, pixelSizeNm: Double) -> Double {
        let target = Double(widthPx) * pixelSizeNm / 5
        let exponent = floor(log10(target))
        let base = pow(10, exponent)
        return [5.0, 2, 1].map { $0 * base }.first { $0 <= target } ?? base
    }

    static func label(_ nm: Double) -> String {
        if nm >= 1000 { return "\(formatted(nm / 1000)) µm" }
        return "\(formatted(nm)) nm"
    }

    static func formatted(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }

    /// Text size in picture pixels for an image of this width.
    static func fontPx(_ width: Int) -> Double { max(9, min(40, Double(width) / 70)) }

    /// Where the scale bar goes: the bottom-right corner, or the corner (bottom-left, top-left,
    /// top-right) whose box covers no burned-in annotation and the fewest particle pixels. A
    /// picture with a legend strip below the image (`legendTop`, its top row) gets the bar at the
    /// strip's right end when every corner would cover a particle or an annotation: then it hides
    /// nothing. Returns the bar's top-left corner.
    static func scaleBarPlace(width: Int, height: Int, lengthPx: Int, thickness: Int, labelPx: Double,
                              avoid: BinaryImage?, particles: BinaryImage?, legendTop: Int? = nil) -> (x: Int, y: Int, inLegend: Bool) {
        let margin = max(8, width / 40)
        let labelHeight = Int(labelPx * 1.4) + 4
        let right = width - margin - lengthPx, bottom = height - margin - thickness, top = margin + labelHeight
        let corners = [(right, bottom), (margin, bottom), (margin, top), (right, top)]
        func cost(_ x: Int, _ y: Int) -> Int {
            var c = 0
            for row in stride(from: max(0, y - labelHeight - 2), to: min(height, y + thickness + 2), by: 1) {
                for col in stride(from: max(0, x - 2), to: min(width, x + lengthPx + 2), by: 1) {
                    if let avoid, avoid.width == width, avoid[row, col] { c += 1_000_000 }
                    if let particles, particles.width == width, particles[row, col] { c += 1 }
                }
            }
            return c
        }
        let costs = corners.map { cost($0.0, $0.1) }
        let best = costs.indices.min { costs[$0] < costs[$1] }!
        if let legendTop, costs[best] > 0 {
            let strip = legendHeight(width)
            return (width - Int(labelPx * 0.6) - lengthPx, legendTop + Int(((strip - Double(thickness)) / 2).rounded()), true)
        }
        return (corners[best].0, corners[best].1, false)
    }

    /// A scale bar placed on a picture: its length, where it goes (`scaleBarPlace`), and the
    /// box it and its label cover.
    struct ScaleBar: Sendable {
        let nm: Double
        let x: Int, y: Int, lengthPx: Int, thickness: Int
        let font: Double
        /// In the legend strip below the image (every corner of the image was taken), its label
        /// to its left.
        let inLegend: Bool

        /// nil: no pixel size (an image without a calibration gets no scale bar). `legendTop`:
        /// the top row of the picture's legend strip, where the bar may go (nil: no strip).
        init?(width: Int, height: Int, pixelSizeNm: Double?, avoid: BinaryImage?, particles: BinaryImage?, legendTop: Int? = nil) {
            guard let pixelSizeNm, pixelSizeNm > 0 else { return nil }
            nm = scaleBarNm(widthPx: width, pixelSizeNm: pixelSizeNm)
            lengthPx = max(1, Int((nm / pixelSizeNm).rounded()))
            thickness = max(3, height / 100)
            font = fontPx(width)
            (x, y, inLegend) = scaleBarPlace(width: width, height: height, lengthPx: lengthPx, thickness: thickness, labelPx: font,
                                             avoid: avoid, particles: particles, legendTop: legendTop)
        }

        /// (x, y, width, height) of the bar and its label on the image; nil in the legend strip.
        var box: (Double, Double, Double, Double)? {
            if inLegend { return nil }
            let top = Double(y) - font * 1.5 - 2
            return (Double(x) - 2, top, Double(lengthPx) + 4, Double(y + thickness) + 2 - top)
        }

        /// The width it takes at the right of the legend strip (0 on the image).
        func legendWidth(_ p: Painter, pictureWidth width: Int) -> Double {
            inLegend ? Double(width - x) + p.measure(label(nm), size: font, bold: true).width + font : 0
        }

        func draw(_ p: Painter, pictureWidth width: Int) {
            p.rect(Double(x) - 1.5, Double(y) - 1.5, Double(lengthPx) + 3, Double(thickness) + 3)
            p.colour(.black)
            p.fill()
            p.rect(Double(x), Double(y), Double(lengthPx), Double(thickness))
            p.colour(.white)
            p.fill()
            let text = label(nm)
            if inLegend {
                // left of the bar, on the legend's line
                p.text(text, x: Double(x) - font * 0.5, y: Double(y + thickness / 2) - font * 0.6, size: font, colour: .white, bold: true, anchor: 1)
                return
            }
            // the label centred over the bar, kept inside the picture (small images)
            let w = p.measure(text, size: font, bold: true).width
            let centre = min(max(Double(x) + Double(lengthPx) / 2, w / 2 + 2), Double(width) - w / 2 - 2)
            p.text(text, x: centre, y: Double(y) - font * 1.3 - 2, size: font, colour: .white, bold: true, anchor: 0.5, halo: .black)
        }
    }

    /// The legend strip's height for an image of this width.
    static func legendHeight(_ width: Int) -> Double { fontPx(width) * 2.2 }

    /// The legend entry of a picture without a scale bar because its image has no calibration.
    static func uncalibrated(_ pixelSizeNm: Double?) -> [(String, Colour)] {
        pixelSizeNm == nil ? [("no calibration: sizes in px", Colour(0.12, 0.12, 0.12))] : []
    }

    /// The parts of the frame left out of the analysis (burned-in lettering and scale bars found
    /// automatically, `--exclude` / `analysis.exclude_regions`), outlined dashed in vermillion so
    /// a reader sees why nothing was counted there; its legend entry when there are any.
    static func drawLeftOut(_ p: Painter, _ annotations: BinaryImage?, width: Int) -> [(String, Colour)] {
        guard let annotations, annotations.pixels.contains(true) else { return [] }
        let line = 2 * max(1, Double(width) / 600)  // twice the particles' outlines: whole pixels on each side of the edge
        p.save()
        for region in annotations.regions(.four) { trace(p, outlines(region)) }
        p.colour(Colour(RGB.leftOut), alpha: 0.9)
        p.lineWidth(line)
        p.dash([3 * line, 2 * line])
        p.stroke()
        p.restore()
        return [("left out (lettering, scale bar, excluded)", Colour(RGB.leftOut))]
    }

    /// The closed outlines `loops` as the painter's current path.
    static func trace(_ p: Painter, _ loops: [[(x: Int, y: Int)]]) {
        for loop in loops {
            p.move(Double(loop[0].x), Double(loop[0].y))
            for v in loop.dropFirst() { p.line(Double(v.x), Double(v.y)) }
            p.close()
        }
    }

    /// The legend strip below a picture: its entries from the left, leaving `reservedRight` (a
    /// scale bar placed there) free.
    static func drawLegend(_ p: Painter, width: Int, top: Double, entries: [(String, Colour)], reservedRight: Double = 0) {
        let font = fontPx(width)
        p.rect(0, top, Double(width), legendHeight(width))
        p.colour(Colour(0.12, 0.12, 0.12))
        p.fill()
        var x = font * 0.6
        let y = top + font * 0.55
        for (text, colour) in entries {
            let w = p.measure(text, size: font).width + font * 2.2
            if x + w > Double(width) - reservedRight && x > font { break }  // narrow images: what fits
            p.rect(x, y + font * 0.2, font * 0.8, font * 0.8)
            p.colour(colour)
            p.fill()
            p.text(text, x: x + font * 1.1, y: y, size: font, colour: .white)
            x += w
        }
    }

    /// The micrograph, contrast-stretched, with a scale bar.
    public static func micrograph(_ image: GrayImage, pixelSizeNm: Double?, annotations: BinaryImage? = nil) -> Figure {
        let gray = Canvas(gray: image.pixels, width: image.width, height: image.height)
        let rgb = gray.rgbBytes()
        return Figure(widthPt: Double(image.width), heightPt: Double(image.height)) { p in
            p.image(rgb, width: image.width, height: image.height)
            ScaleBar(width: image.width, height: image.height, pixelSizeNm: pixelSizeNm, avoid: annotations, particles: nil)?.draw(p, pictureWidth: image.width)
        }
    }

    /// The micrograph with the segmentation tinted over it.
    public static func segmentationOverlay(_ image: GrayImage, mask: BinaryImage, pixelSizeNm: Double?, annotations: BinaryImage? = nil) -> Figure {
        var c = Canvas(gray: image.pixels, width: image.width, height: image.height)
        for i in mask.pixels.indices where mask.pixels[i] { c.blend(i % c.width, i / c.width, .segmentation, 0.45) }
        let rgb = c.rgbBytes()
        return Figure(widthPt: Double(image.width), heightPt: Double(image.height) + legendHeight(image.width)) { p in
            p.image(rgb, width: image.width, height: image.height)
            let leftOut = drawLeftOut(p, annotations, width: image.width)
            let bar = ScaleBar(width: image.width, height: image.height, pixelSizeNm: pixelSizeNm, avoid: annotations, particles: mask, legendTop: image.height)
            drawLegend(p, width: image.width, top: Double(image.height),
                       entries: [("segmentation (before clean-up)", Colour(RGB.segmentation))] + leftOut + uncalibrated(pixelSizeNm),
                       reservedRight: bar?.legendWidth(p, pictureWidth: image.width) ?? 0)
            bar?.draw(p, pictureWidth: image.width)
        }
    }

    /// Where each particle's number goes: centred on the particle when it fits inside it,
    /// else beside it (right, left, above, below), never over another particle or another
    /// number; nil where it fits nowhere (the SVG keeps every number at the particle's centre).
    static func labelPlaces(_ particles: [(Region, ParticleMeasurement)], width: Int, height: Int, font: Double,
                            reserved: [(Double, Double, Double, Double)] = [],
                            measure: (String) -> (width: Double, height: Double)) -> [(x: Double, y: Double)?] {
        var owner = [Int32](repeating: -1, count: width * height)
        for (k, (r, _)) in particles.enumerated() { for px in r.pixels { owner[px.row * width + px.col] = Int32(k) } }
        var taken = reserved
        var out: [(x: Double, y: Double)?] = []
        for (k, (r, m)) in particles.enumerated() {
            let size = measure(String(k + 1))
            let w = size.width, h = size.height
            let cx = m.centroidXPx + 0.5, cy = m.centroidYPx + 0.5
            let b = r.box
            let candidates = [(cx - w / 2, cy - h / 2), (Double(b.maxCol) + 2, cy - h / 2), (Double(b.minCol) - 1 - w, cy - h / 2),
                              (cx - w / 2, Double(b.minRow) - 1 - h), (cx - w / 2, Double(b.maxRow) + 2)]
            var placed: (x: Double, y: Double)? = nil
            for (i, (x, y)) in candidates.enumerated() {
                guard x >= 0, y >= 0, x + w <= Double(width), y + h <= Double(height) else { continue }
                if taken.contains(where: { x < $0.0 + $0.2 && $0.0 < x + w && y < $0.1 + $0.3 && $0.1 < y + h }) { continue }
                var fits = true
                scan: for row in Int(y)..<min(height, Int(ceil(y + h))) {
                    for col in Int(x)..<min(width, Int(ceil(x + w))) {
                        let o = owner[row * width + col]
                        // centred: inside its own particle only; beside: over no particle at all
                        if (i == 0 && o != Int32(k)) || (i > 0 && o >= 0) { fits = false; break scan }
                    }
                }
                if fits { placed = (x, y); break }
            }
            if let placed { taken.append((placed.x, placed.y, w, h)) }
            out.append(placed)
        }
        return out
    }

    /// The outline of a region as closed paths along pixel edges (x = column, y = row, in
    /// pixel-corner coordinates: pixel (r, c) spans [c, c + 1] x [r, r + 1]).
    static func outlines(_ region: Region) -> [[(x: Int, y: Int)]] {
        let m = region.mask(pad: 1)
        let ox = region.box.minCol - 1, oy = region.box.minRow - 1
        var next: [Int: [Int]] = [:]  // start vertex -> end vertices, vertex = y * (w + 1) + x
        let w1 = m.width + 1
        func add(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) { next[y0 * w1 + x0, default: []].append(y1 * w1 + x1) }
        for r in 1..<(m.height - 1) {
            for c in 1..<(m.width - 1) where m[r, c] {
                if !m[r - 1, c] { add(c, r, c + 1, r) }
                if !m[r, c + 1] { add(c + 1, r, c + 1, r + 1) }
                if !m[r + 1, c] { add(c + 1, r + 1, c, r + 1) }
                if !m[r, c - 1] { add(c, r + 1, c, r) }
            }
        }
        var loops: [[(x: Int, y: Int)]] = []
        while let start = next.keys.min() {
            var loop: [(x: Int, y: Int)] = []
            var v = start
            while var ends = next[v], !ends.isEmpty {
                let e = ends.removeLast()
                next[v] = ends.isEmpty ? nil : ends
                let p = (x: v % w1 + ox, y: v / w1 + oy)
                // keep corners only
                if loop.count >= 2 {
                    let a = loop[loop.count - 2], b = loop[loop.count - 1]
                    if (a.x == b.x && b.x == p.x) || (a.y == b.y && b.y == p.y) { loop.removeLast() }
                }
                loop.append(p)
                v = e
                if v == start { break }
            }
            if loop.count >= 3 { loops.append(loop) }
        }
        return loops
    }

    /// The particles outlined and numbered as in the workbook: measured particles in blue,
    /// separated ones in purple, flagged overlaps in orange, border particles (excluded) grey,
    /// what was left out of the analysis (`annotations`) dashed vermillion; the legend names
    /// the kinds the picture shows.
    /// Numbers where they fit without covering a particle (all of them in `particleMapSVG`).
    public static func particleMap(_ image: GrayImage, particles: [(Region, ParticleMeasurement)], borderExcluded: [Region], pixelSizeNm: Double?,
                                   annotations: BinaryImage? = nil, dropped: [Region] = []) -> Figure {
        var c = Canvas(gray: image.pixels, width: image.width, height: image.height)
        for i in c.pixels.indices { c.pixels[i] = RGB(UInt8(40 + Int(c.pixels[i].r) * 6 / 10), UInt8(40 + Int(c.pixels[i].g) * 6 / 10), UInt8(40 + Int(c.pixels[i].b) * 6 / 10)) }
        let rgb = c.rgbBytes()
        var occupied = BinaryImage(width: image.width, height: image.height)
        for (r, _) in particles { for px in r.pixels { occupied[px.row, px.col] = true } }
        let width = image.width, height = image.height
        let shapes = particles.map { (outlines($0.0), $0.1.overlapFlag ? RGB.flagged : $0.1.separated ? RGB.separated : RGB.particle) }
        let borders = borderExcluded.map(outlines)
        let droppedOutlines = dropped.map(outlines)
        let bar = ScaleBar(width: width, height: height, pixelSizeNm: pixelSizeNm, avoid: annotations, particles: occupied, legendTop: height)
        return Figure(widthPt: Double(width), heightPt: Double(height) + legendHeight(width)) { p in
            p.image(rgb, width: width, height: height)
            let line = max(1, Double(width) / 600)
            func stroke(_ loops: [[(x: Int, y: Int)]], _ colour: Colour, alpha: Double) {
                trace(p, loops)
                p.colour(colour, alpha: alpha)
                p.lineWidth(line)
                p.stroke()
            }
            let leftOut = drawLeftOut(p, annotations, width: width)
            for b in borders { stroke(b, Colour(RGB.border), alpha: 0.7) }
            for d in droppedOutlines { stroke(d, Colour(RGB.dropped), alpha: 0.8) }
            for (loops, colour) in shapes { stroke(loops, Colour(colour), alpha: 1) }
            let font = fontPx(width) * (particles.count > 150 ? 0.75 : 1)
            let places = labelPlaces(particles, width: width, height: height, font: font, reserved: bar?.box.map { [$0] } ?? []) { p.measure($0, size: font) }
            for (k, place) in places.enumerated() {
                if let place { p.text(String(k + 1), x: place.x, y: place.y, size: font, colour: .white, halo: .black) }
            }
            let shown = places.compactMap { $0 }.count
            // what the picture shows: a narrow picture's legend has room for few entries
            let entries: [(String, Colour)] = [("particle", Colour(RGB.particle))]
                + (particles.contains { $0.1.separated && !$0.1.overlapFlag } ? [("separated", Colour(RGB.separated))] : [])
                + (particles.contains { $0.1.overlapFlag } ? [("overlap, kept whole", Colour(RGB.flagged))] : [])
                + (borders.isEmpty ? [] : [("touches border, excluded", Colour(RGB.border))])
                + (droppedOutlines.isEmpty ? [] : [("unsure or debris, dropped", Colour(RGB.dropped))])
            drawLegend(p, width: width, top: Double(height), entries: entries + leftOut + uncalibrated(pixelSizeNm) + (shown < particles.count
                ? [("\(shown) of \(particles.count) numbered (all in the SVG)", Colour(0.12, 0.12, 0.12))] : []),
                       reservedRight: bar?.legendWidth(p, pictureWidth: width) ?? 0)
            bar?.draw(p, pictureWidth: width)
        }
    }
}

extension Pictures {
    /// The particle map as SVG over the micrograph picture it links (`micrographFile`, beside
    /// it): every particle's outline and its number at its centre, small, for zooming in. Linking
    /// instead of embedding keeps it a few tens of kB and quick to write for every image.
    public static func particleMapSVG(width: Int, height: Int, micrographFile: String, particles: [(Region, ParticleMeasurement)],
                                      borderExcluded: [Region], dropped: [Region] = []) -> String {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func hex(_ c: RGB) -> String { String(format: "#%02x%02x%02x", c.r, c.g, c.b) }
        func path(_ loops: [[(x: Int, y: Int)]]) -> String {
            loops.map { loop in "M" + loop.map { "\($0.x) \($0.y)" }.joined(separator: "L") + "Z" }.joined()
        }
        let line = max(1, Double(width) / 600)
        let font = max(3, fontPx(width) * 0.45)
        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
            <title>antema particle map: \(particles.count) particles, numbered as in the tables</title>
            <image x="0" y="0" width="\(width)" height="\(height)" xlink:href="\(escape(micrographFile))" href="\(escape(micrographFile))" style="image-rendering:pixelated"/>
            <g fill="none" stroke-width="\(line)" stroke-linejoin="round">

            """
        for r in borderExcluded { svg += "<path d=\"\(path(outlines(r)))\" stroke=\"\(hex(.border))\" stroke-opacity=\"0.7\"/>\n" }
        for r in dropped { svg += "<path d=\"\(path(outlines(r)))\" stroke=\"\(hex(.dropped))\" stroke-opacity=\"0.8\"/>\n" }
        for (r, m) in particles {
            svg += "<path d=\"\(path(outlines(r)))\" stroke=\"\(hex(m.overlapFlag ? .flagged : m.separated ? .separated : .particle))\"/>\n"
        }
        svg += "</g>\n<g font-family=\"DejaVu Sans, sans-serif\" font-size=\"\(String(format: "%.1f", font))\" text-anchor=\"middle\" dominant-baseline=\"central\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"\(String(format: "%.2f", font / 6))\" paint-order=\"stroke\">\n"
        for (k, (_, m)) in particles.enumerated() {
            svg += String(format: "<text x=\"%.2f\" y=\"%.2f\">%d</text>\n", m.centroidXPx + 0.5, m.centroidYPx + 0.5, k + 1)
        }
        svg += "</g>\n</svg>\n"
        return svg
    }
}

extension Figure {
    /// A picture (one point per image pixel) as PNG with antema's fast encoder (the daemon
    /// writes pictures for every image: cairo's own PNG encoder takes several times longer).
    public func picturePNG() throws -> [UInt8] {
        let (rgb, w, h) = try rasterRGB()
        // grey pictures (the micrograph with its scale bar) as grey PNGs: a third of the data
        var gray = [UInt8](repeating: 0, count: w * h), isGray = true
        for i in 0..<(w * h) {
            let r = rgb[3 * i]
            if r != rgb[3 * i + 1] || r != rgb[3 * i + 2] { isGray = false; break }
            gray[i] = r
        }
        if isGray { return try PNGFile.encode(gray8: gray, width: w, height: h, compression: .fast) }
        return try PNGFile.encode(rgb8: rgb, width: w, height: h, compression: .fast)
    }
}
