import Foundation
import Pipeline

/// Charts of size and shape distributions, as figures (PNG at 300 dpi, SVG, PDF).
public enum Charts {
    /// Figure size: 160 x 110 mm, a page-wide figure in a lab book or a paper.
    static let widthPt = 453.5, heightPt = 311.8
    static let font = 9.0

    /// A plot area with axes, nice ticks and labels.
    struct Axes {
        var x0: Double, x1: Double, y0: Double, y1: Double
        var left = 62.0, right = 18.0, top = 40.0, bottom = 46.0
        /// The figure's width (the plot area runs from `left` to `figureWidth - right`).
        var figureWidth = Charts.widthPt
        var width: Double { figureWidth - left - right }
        var height: Double { Charts.heightPt - top - bottom }
        func x(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * width }
        func y(_ v: Double) -> Double { top + height - (v - y0) / (y1 - y0) * height }

        func draw(_ p: Painter, xLabel: String, yLabel: String, yFormat: ((Double) -> String)? = nil) {
            p.colour(.black)
            p.lineWidth(0.8)
            p.segment(left, top + height, left + width, top + height)
            p.segment(left, top, left, top + height)
            for v in Charts.ticks(x0, x1) {
                let px = x(v)
                p.segment(px, top + height, px, top + height + 3.5)
                p.text(Charts.tickLabel(v, step: Charts.tickStep(x0, x1)), x: px, y: top + height + 5, size: Charts.font, anchor: 0.5)
            }
            for v in Charts.ticks(y0, y1) {
                let py = y(v)
                p.segment(left - 3.5, py, left, py)
                let label = yFormat?(v) ?? Charts.tickLabel(v, step: Charts.tickStep(y0, y1))
                let size = p.measure(label, size: Charts.font)
                p.text(label, x: left - 5, y: py - size.height / 2, size: Charts.font, anchor: 1)
            }
            p.text(xLabel, x: left + width / 2, y: Charts.heightPt - 17, size: Charts.font + 1, anchor: 0.5)
            p.text(yLabel, x: left - 50, y: top + height / 2, size: Charts.font + 1, anchor: 0.5, rotated: true)
        }
    }

    static func tickStep(_ lo: Double, _ hi: Double) -> Double {
        let raw = (hi - lo) / 6
        guard raw > 0, raw.isFinite else { return 1 }
        let base = pow(10, floor(log10(raw)))
        return [1.0, 2, 2.5, 5, 10].map { $0 * base }.first { $0 >= raw } ?? 10 * base
    }

    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let step = tickStep(lo, hi)
        var v = ceil(lo / step - 1e-9) * step, out: [Double] = []
        while v <= hi + step * 1e-9 { out.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return out
    }

    static func tickLabel(_ v: Double, step: Double) -> String {
        let decimals = max(0, -Int(floor(log10(step) + 1e-9)) + (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0))
        return String(format: "%.\(decimals)f", v)
    }

    /// The axis label of a measurement: its name and unit in parentheses.
    static func axisLabel(_ title: String, unit: String) -> String { unit.isEmpty ? title : "\(title) (\(unit))" }

    /// The top of a y axis whose data reach `dataMax`, leaving the top `reservedPt` of the plot
    /// area (a legend, the statistics) free of data.
    static func yMax(dataMax: Double, reservedPt: Double, plotHeightPt: Double) -> Double {
        dataMax * 1.05 / max(0.3, 1 - (reservedPt + 6) / plotHeightPt)
    }

    /// A histogram of `values` (Freedman-Diaconis bins, counts), with the log-normal fit drawn
    /// over it (`fit`: sizes; the curve is n x bin width x density) and its parameters, n and
    /// mean ± sd in the top right.
    public static func histogram(_ values: [Double], title: String, unit: String, fit: Bool) -> Figure {
        let finite = values.filter(\.isFinite)
        let edges = SizeStatistics.binEdges(finite)
        let counts = SizeStatistics.counts(finite, edges: edges)
        let logNormal = fit ? SizeStatistics.logNormal(finite) : nil
        let summary = Summary(finite)
        return Figure(widthPt: widthPt, heightPt: heightPt) { p in
            p.text(title, x: 62, y: 12, size: font + 3, bold: true)
            guard let first = edges.first, let last = edges.last, let maxCount = counts.max() else {
                p.text("no particles", x: widthPt / 2, y: heightPt / 2, size: font + 2, colour: .grey, anchor: 0.5)
                return
            }
            let width = edges[1] - edges[0]
            var top = Double(maxCount)
            if let f = logNormal {
                let peak = exp(f.mu - f.sigma * f.sigma)  // the log-normal's mode
                top = max(top, Double(finite.count) * width * f.pdf(peak))
            }
            // the statistics, top right, above the data
            var lines: [(String, Colour)] = [("n = \(finite.count)", .black)]
            if let mean = summary.mean, let sd = summary.sd { lines.append(("mean ± sd = " + SizeStatistics.meanSD(mean, sd, unit: unit), .black)) }
            if let f = logNormal {
                lines.append(("log-normal fit:", Colour.series[1]))
                lines.append(("GM = " + SizeStatistics.withInterval(f.geometricMean, f.geometricMeanCI95.low, f.geometricMeanCI95.high) + (unit.isEmpty ? "" : " \(unit)"), Colour.series[1]))
                lines.append(("GSD = " + SizeStatistics.withInterval(f.geometricSD, f.geometricSDCI95.low, f.geometricSDCI95.high), Colour.series[1]))
                lines.append(("(95 % confidence intervals)", .black))
            }
            var axes = Axes(x0: first, x1: last, y0: 0, y1: 1)
            axes.y1 = max(1, yMax(dataMax: top, reservedPt: Double(lines.count) * font * 1.35, plotHeightPt: axes.height))
            for (k, c) in counts.enumerated() where c > 0 {
                let x = axes.x(edges[k]), w = axes.x(edges[k + 1]) - x
                p.rect(x, axes.y(Double(c)), w, axes.y(0) - axes.y(Double(c)))
                p.colour(Colour.series[0], alpha: 0.75)
                p.fillPreserve()
                p.colour(.white)
                p.lineWidth(0.5)
                p.stroke()
            }
            if let f = logNormal {
                p.colour(Colour.series[1])
                p.lineWidth(1.6)
                let steps = 240
                for i in 0...steps {
                    let x = first + (last - first) * Double(i) / Double(steps)
                    let y = Double(finite.count) * width * f.pdf(x)
                    if i == 0 { p.move(axes.x(x), axes.y(y)) } else { p.line(axes.x(x), axes.y(y)) }
                }
                p.stroke()
            }
            axes.draw(p, xLabel: axisLabel(title, unit: unit), yLabel: "Count (bin width \(tickLabel(width, step: width)) \(unit))".replacingOccurrences(of: " )", with: ")"),
                      yFormat: { String(format: "%.0f", $0) })
            var y = axes.top + 4
            for (line, colour) in lines {
                p.text(line, x: axes.left + axes.width - 4, y: y, size: font, colour: colour, anchor: 1, halo: .white)
                y += font * 1.35
            }
        }
    }

    /// Samples side by side: the empirical distribution functions of `values` per sample on the
    /// left, their histograms (as outlines, density) on the right.
    public static func comparison(_ samples: [(name: String, values: [Double])], title: String, unit: String) -> Figure {
        let all = samples.flatMap(\.values).filter(\.isFinite)
        return Figure(widthPt: widthPt * 1.5, heightPt: heightPt) { p in
            p.text(title, x: 62, y: 12, size: font + 3, bold: true)
            guard let lo = all.min(), let hi = all.max() else {
                p.text("no particles", x: widthPt * 0.75, y: heightPt / 2, size: font + 2, colour: .grey, anchor: 0.5)
                return
            }
            let span = hi > lo ? hi - lo : max(abs(lo), 1)
            let x0 = lo - span * 0.02, x1 = hi + span * 0.02
            // left: ECDFs
            let figureWidth = widthPt * 1.5
            var ecdf = Axes(x0: x0, x1: x1, y0: 0, y1: 1)
            ecdf.figureWidth = figureWidth
            ecdf.right = figureWidth / 2 + 20
            ecdf.draw(p, xLabel: axisLabel(title, unit: unit), yLabel: "Cumulative fraction", yFormat: { String(format: "%.1f", $0) })
            for (k, s) in samples.enumerated() {
                let v = s.values.filter(\.isFinite).sorted()
                guard !v.isEmpty else { continue }
                p.colour(Colour.series[k % Colour.series.count])
                p.lineWidth(1.4)
                p.move(ecdf.x(x0), ecdf.y(0))
                for (i, value) in v.enumerated() {
                    p.line(ecdf.x(value), ecdf.y(Double(i) / Double(v.count)))
                    p.line(ecdf.x(value), ecdf.y(Double(i + 1) / Double(v.count)))
                }
                p.line(ecdf.x(x1), ecdf.y(1))
                p.stroke()
            }
            // right: density histograms on common bins
            let edges = SizeStatistics.binEdges(all)
            let width = edges.count > 1 ? edges[1] - edges[0] : 1
            let densities = samples.map { s -> [Double] in
                let c = SizeStatistics.counts(s.values, edges: edges), n = Double(max(1, s.values.count))
                return c.map { Double($0) / (n * width) }
            }
            var hist = Axes(x0: edges.first ?? x0, x1: edges.last ?? x1, y0: 0, y1: 1)
            hist.y1 = max(1e-9, yMax(dataMax: densities.flatMap { $0 }.max() ?? 1, reservedPt: Double(samples.count) * font * 1.4, plotHeightPt: hist.height))
            hist.figureWidth = figureWidth
            hist.left = figureWidth / 2 + 62
            hist.draw(p, xLabel: axisLabel(title, unit: unit), yLabel: unit.isEmpty ? "Density" : "Density (1/\(unit))")
            for (k, d) in densities.enumerated() {
                p.colour(Colour.series[k % Colour.series.count])
                p.lineWidth(1.4)
                p.move(hist.x(edges[0]), hist.y(0))
                for (i, v) in d.enumerated() { p.line(hist.x(edges[i]), hist.y(v)); p.line(hist.x(edges[i + 1]), hist.y(v)) }
                p.line(hist.x(edges.last!), hist.y(0))
                p.stroke()
            }
            // legend
            var y = 40.0
            for (k, s) in samples.enumerated() {
                let x = hist.left + hist.width - 4
                let label = "\(s.name) (n = \(s.values.count))"
                let w = p.measure(label, size: font).width
                p.colour(Colour.series[k % Colour.series.count])
                p.lineWidth(2)
                p.segment(x - w - 22, y + font * 0.6, x - w - 6, y + font * 0.6)
                p.text(label, x: x, y: y, size: font, anchor: 1, halo: .white)
                y += font * 1.4
            }
        }
    }
}
