import Foundation
import Pipeline

/// Pictures to check at a glance that the analysis saw what the microscopist sees.
public enum Pictures {
    /// A scale bar length of 1, 2 or 5 x 10^k nm close to a fifth of the image width.
    public static func scaleBarNm(widthPx: Int, pixelSizeNm: Double) -> Double {
        let target = Double(widthPx) * pixelSizeNm / 5
        let exponent = floor(log10(target))
        let base = pow(10, exponent)
        return [5.0, 2, 1].map { $0 * base }.first { $0 <= target } ?? base
    }

    static func label(_ nm: Double) -> String {
        if nm >= 1000 { return "\(formatted(nm / 1000)) um" }
        return "\(formatted(nm)) nm"
    }

    static func formatted(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%g", v)
    }

    static func textScale(_ width: Int) -> Int { max(1, min(6, width / 320)) }

    /// Draws a labelled scale bar in the bottom-right corner, or, where the micrograph's own
    /// burned-in annotations (`avoid`) lie there, in the first free corner of bottom-left,
    /// top-left, top-right (bottom-right again when none is free).
    public static func drawScaleBar(_ c: inout Canvas, pixelSizeNm: Double, avoid: BinaryImage? = nil) {
        guard pixelSizeNm > 0 else { return }
        let nm = scaleBarNm(widthPx: c.width, pixelSizeNm: pixelSizeNm)
        let lengthPx = max(1, Int((nm / pixelSizeNm).rounded()))
        let s = textScale(c.width)
        let thickness = max(3, c.height / 100)
        let margin = max(8, c.width / 40)
        let labelHeight = 9 * s + 4
        // the box the bar and its label cover, for a bar whose top-left is (x, y)
        func free(_ x: Int, _ y: Int) -> Bool {
            guard let avoid, avoid.width == c.width, avoid.height == c.height else { return true }
            for row in max(0, y - labelHeight - 2)..<min(c.height, y + thickness + 2) {
                for col in max(0, x - 2)..<min(c.width, x + lengthPx + 2) where avoid[row, col] { return false }
            }
            return true
        }
        let right = c.width - margin - lengthPx, bottom = c.height - margin - thickness, top = margin + labelHeight
        let corners = [(right, bottom), (margin, bottom), (margin, top), (right, top)]
        let (x, y) = corners.first { free($0.0, $0.1) } ?? corners[0]
        c.fillRect(x: x - 2, y: y - 2, width: lengthPx + 4, height: thickness + 4, .black)
        c.fillRect(x: x, y: y, width: lengthPx, height: thickness, .white)
        let text = label(nm)
        let tw = Canvas.textWidth(text, scale: s)
        c.text(text, x: x + (lengthPx - tw) / 2, y: y - 9 * s - 4, scale: s, .white, halo: .black)
    }

    /// The micrograph, contrast-stretched, with a scale bar.
    public static func micrograph(_ image: GrayImage, pixelSizeNm: Double, annotations: BinaryImage? = nil) -> Canvas {
        var c = Canvas(gray: image.pixels, width: image.width, height: image.height)
        drawScaleBar(&c, pixelSizeNm: pixelSizeNm, avoid: annotations)
        return c
    }

    /// The micrograph with the segmentation tinted over it.
    public static func segmentationOverlay(_ image: GrayImage, mask: BinaryImage, pixelSizeNm: Double, annotations: BinaryImage? = nil) -> Canvas {
        var c = Canvas(gray: image.pixels, width: image.width, height: image.height)
        for i in mask.pixels.indices where mask.pixels[i] { c.blend(i % c.width, i / c.width, .segmentation, 0.45) }
        drawScaleBar(&c, pixelSizeNm: pixelSizeNm, avoid: annotations)
        return withLegend(c, [("segmentation (before clean-up)", .segmentation)])
    }

    /// The particles outlined and numbered as in the workbook: measured particles in blue,
    /// separated ones in purple, flagged overlaps in orange, border particles (excluded) faint.
    public static func particleMap(_ image: GrayImage, particles: [(Region, ParticleMeasurement)], borderExcluded: [Region], pixelSizeNm: Double,
                                   annotations: BinaryImage? = nil) -> Canvas {
        var c = Canvas(gray: image.pixels, width: image.width, height: image.height)
        for i in c.pixels.indices { c.pixels[i] = RGB(UInt8(40 + Int(c.pixels[i].r) * 6 / 10), UInt8(40 + Int(c.pixels[i].g) * 6 / 10), UInt8(40 + Int(c.pixels[i].b) * 6 / 10)) }
        for r in borderExcluded { outline(&c, r, .border, alpha: 0.6) }
        for (r, m) in particles { outline(&c, r, m.overlapFlag ? .flagged : m.separated ? .separated : .particle, alpha: 1) }
        let s = max(1, textScale(image.width) - (particles.count > 150 ? 1 : 0))
        for (k, (_, m)) in particles.enumerated() {
            let t = String(k + 1)
            c.text(t, x: Int(m.centroidXPx) - Canvas.textWidth(t, scale: s) / 2, y: Int(m.centroidYPx) - 7 * s / 2, scale: s, .white, halo: .black)
        }
        drawScaleBar(&c, pixelSizeNm: pixelSizeNm, avoid: annotations)
        return withLegend(c, [("particle", .particle), ("separated", .separated), ("overlap, kept whole", .flagged), ("touches border, excluded", .border)])
    }

    /// Outlines a region: its boundary pixels, thickened inwards to stay visible on large images.
    static func outline(_ c: inout Canvas, _ region: Region, _ color: RGB, alpha: Double) {
        let m = region.mask(pad: 1)
        let t = max(1, c.width / 512)
        var painted = Set<Int>()
        for r in 1..<(m.height - 1) {
            for k in 1..<(m.width - 1) where m[r, k] && (!m[r - 1, k] || !m[r + 1, k] || !m[r, k - 1] || !m[r, k + 1]) {
                for dr in 0..<t {
                    for dk in 0..<t {
                        let rr = r + (m[r + 1, k] ? dr : -dr), kk = k + (m[r, k + 1] ? dk : -dk)
                        guard rr >= 0, kk >= 0, rr < m.height, kk < m.width, m[rr, kk] else { continue }
                        let x = kk + region.box.minCol - 1, y = rr + region.box.minRow - 1
                        if painted.insert(y * c.width + x).inserted { c.blend(x, y, color, alpha) }
                    }
                }
            }
        }
    }

    /// The picture with a legend strip below it (so that the legend hides no particle): the
    /// entries side by side, wrapping to more lines on narrow images.
    static func withLegend(_ c: Canvas, _ entries: [(String, RGB)]) -> Canvas {
        let s = max(1, textScale(c.width))
        let line = 12 * s, pad = 4 * s
        var placed: [(x: Int, row: Int)] = []
        var x = pad, row = 0
        for (text, _) in entries {
            let w = 10 * s + Canvas.textWidth(text, scale: s) + 4 * pad
            if x + w > c.width && x > pad { x = pad; row += 1 }
            placed.append((x, row))
            x += w
        }
        let strip = (row + 1) * line + 2 * pad
        var out = Canvas(width: c.width, height: c.height + strip, fill: RGB(30, 30, 30))
        for y in 0..<c.height { for k in 0..<c.width { out.pixels[y * c.width + k] = c.pixels[y * c.width + k] } }
        for ((text, color), p) in zip(entries, placed) {
            let y = c.height + pad + p.row * line
            out.fillRect(x: p.x, y: y, width: 7 * s, height: 7 * s, color)
            out.text(text, x: p.x + 10 * s, y: y, scale: s, .white)
        }
        return out
    }

    /// A histogram with axes, counts and `n, mean ± sd` (sample standard deviation).
    public static func histogram(_ values: [Double], title: String, unit: String, width: Int = 900, height: Int = 560) -> Canvas {
        var c = Canvas(width: width, height: height)
        let s = 2
        let left = 90, right = 30, top = 70, bottom = 80
        let plotW = width - left - right, plotH = height - top - bottom
        c.text(title, x: left, y: 16, scale: 3, .black)
        let finite = values.filter(\.isFinite)
        guard let lo0 = finite.min(), let hi0 = finite.max() else {
            c.text("no particles", x: left, y: top + plotH / 2, scale: s, .black)
            return c
        }
        let n = Double(finite.count)
        let summary = Summary(finite)
        let mean = summary.mean ?? 0, sd = summary.sd ?? 0
        // bins: Freedman-Diaconis-like count between 8 and 40
        let bins = max(8, min(40, Int(sqrt(n).rounded())))
        let span = hi0 > lo0 ? hi0 - lo0 : max(abs(lo0), 1) * 0.1
        let step = niceStep(span / Double(bins))
        let lo = floor(lo0 / step) * step, hi = max(lo + step, ceil(hi0 / step) * step + (hi0 == ceil(hi0 / step) * step ? step : 0))
        let count = max(1, Int(((hi - lo) / step).rounded()))
        var counts = [Int](repeating: 0, count: count)
        for v in finite { counts[min(count - 1, max(0, Int((v - lo) / step)))] += 1 }
        let maxCount = max(1, counts.max()!)
        // axes
        c.line(left, top + plotH, left + plotW, top + plotH, .black)
        c.line(left, top, left, top + plotH, .black)
        let barW = Double(plotW) / Double(count)
        for (i, k) in counts.enumerated() where k > 0 {
            let h = Int(Double(plotH) * Double(k) / Double(maxCount))
            let x = left + Int(Double(i) * barW)
            c.fillRect(x: x + 1, y: top + plotH - h, width: max(1, Int(barW) - 1), height: h, .bar)
        }
        // x ticks: about 6 labels
        let labelEvery = max(1, count / 6)
        for i in stride(from: 0, through: count, by: labelEvery) {
            let x = left + Int(Double(i) * barW)
            c.line(x, top + plotH, x, top + plotH + 6, .black)
            let t = String(format: "%g", ((lo + Double(i) * step) * 1e6).rounded() / 1e6)
            c.text(t, x: x - Canvas.textWidth(t, scale: s) / 2, y: top + plotH + 12, scale: s, .black)
        }
        let xlabel = unit.isEmpty ? title : "\(title) [\(unit)]"
        c.text(xlabel, x: left + (plotW - Canvas.textWidth(xlabel, scale: s)) / 2, y: height - 30, scale: s, .black)
        // y ticks
        let yStep = max(1, Int(niceStep(Double(maxCount) / 5)))
        for k in stride(from: 0, through: maxCount, by: yStep) {
            let y = top + plotH - Int(Double(plotH) * Double(k) / Double(maxCount))
            c.line(left - 6, y, left, y, .black)
            let t = String(k)
            c.text(t, x: left - 10 - Canvas.textWidth(t, scale: s), y: y - 7, scale: s, .black)
        }
        let stats = String(format: "n = %d   mean = %.3g ± %.2g %@", finite.count, mean, sd, unit)
        c.text(stats, x: width - right - Canvas.textWidth(stats, scale: s), y: top - 26, scale: s, .black)
        return c
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let base = pow(10, floor(log10(raw)))
        return [1.0, 2, 2.5, 5, 10].map { $0 * base }.first { $0 >= raw } ?? 10 * base
    }
}

#if canImport(Glibc)
import Glibc
#endif
