import Foundation
import Pipeline

/// Statistics of size distributions as the field reports them: histogram bins, the log-normal
/// fit with confidence intervals, two-sample tests, and numbers with consistent precision.
public enum SizeStatistics {
    // MARK: histogram bins

    /// Bin edges by the Freedman-Diaconis rule, width `2 IQR n^(-1/3)` (robust to the long
    /// right tail of size distributions), rounded to the nearest 1, 2, 2.5 or 5 x 10^k (readable
    /// bin edges; at most a factor 1.4 from the rule) and aligned to multiples
    /// of the width. Where the IQR is zero (few or equal values) Sturges' rule,
    /// `ceil(log2 n) + 1` bins over the range, is used; at most 200 bins.
    public static func binEdges(_ values: [Double]) -> [Double] {
        let v = values.filter(\.isFinite).sorted()
        guard let lo = v.first, let hi = v.last else { return [] }
        let n = Double(v.count)
        let iqr = (Summary.percentile(sorted: v, 0.75) ?? 0) - (Summary.percentile(sorted: v, 0.25) ?? 0)
        var width = iqr > 0 ? 2 * iqr / cbrt(n) : (hi - lo) / (ceil(log2(max(n, 1))) + 1)
        if !(width > 0) { width = max(abs(lo), 1) * 0.1 }
        width = max(niceWidth(width), (hi - lo) / 200)
        let start = floor(lo / width) * width
        var edges = [start]
        while edges.last! <= hi { edges.append(start + Double(edges.count) * width) }
        return edges
    }

    /// The width of 1, 2, 2.5 or 5 x 10^k nearest to `raw` (on a log scale).
    static func niceWidth(_ raw: Double) -> Double {
        let base = pow(10, floor(log10(raw)))
        return [1.0, 2, 2.5, 5, 10].map { $0 * base }.min { abs(log($0 / raw)) < abs(log($1 / raw)) }!
    }

    /// Counts per bin (`edges.count - 1` bins, each `[a, b)`; the last value falls in the last).
    public static func counts(_ values: [Double], edges: [Double]) -> [Int] {
        guard edges.count >= 2 else { return [] }
        var c = [Int](repeating: 0, count: edges.count - 1)
        let w = edges[1] - edges[0]
        for v in values where v.isFinite { c[min(c.count - 1, max(0, Int(((v - edges[0]) / w).rounded(.down))))] += 1 }
        return c
    }

    // MARK: log-normal fit

    /// The log-normal distribution fitted to positive sizes by maximum likelihood on their
    /// logarithms: `mu` = mean of ln d, `sigma` = its sample standard deviation (N - 1). The
    /// geometric mean is `exp(mu)`, the geometric standard deviation `exp(sigma)`; their 95 %
    /// intervals from Student's t (`mu +- t s / sqrt n`) and the chi-square distribution
    /// (`s sqrt((n - 1) / chi2)`).
    public struct LogNormal: Sendable, Equatable {
        public var n: Int
        public var mu: Double
        public var sigma: Double
        public var geometricMean: Double { exp(mu) }
        public var geometricSD: Double { exp(sigma) }
        public var geometricMeanCI95: (low: Double, high: Double)
        public var geometricSDCI95: (low: Double, high: Double)
        /// Density at x.
        public func pdf(_ x: Double) -> Double {
            guard x > 0, sigma > 0 else { return 0 }
            let z = (log(x) - mu) / sigma
            return exp(-0.5 * z * z) / (x * sigma * (2 * Double.pi).squareRoot())
        }
        public static func == (a: LogNormal, b: LogNormal) -> Bool { a.n == b.n && a.mu == b.mu && a.sigma == b.sigma }
    }

    /// nil for fewer than 3 positive values or no spread.
    public static func logNormal(_ values: [Double]) -> LogNormal? {
        let logs = values.filter { $0 > 0 && $0.isFinite }.map { log($0) }
        let n = logs.count
        guard n >= 3 else { return nil }
        let mu = logs.reduce(0, +) / Double(n)
        let s2 = logs.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(n - 1)
        guard s2 > 0 else { return nil }
        let s = s2.squareRoot(), df = Double(n - 1)
        let t = Distributions.studentTQuantile(0.975, df: df)
        let half = t * s / Double(n).squareRoot()
        let sLow = s * (df / Distributions.chiSquareQuantile(0.975, df: df)).squareRoot()
        let sHigh = s * (df / Distributions.chiSquareQuantile(0.025, df: df)).squareRoot()
        return LogNormal(n: n, mu: mu, sigma: s, geometricMeanCI95: (exp(mu - half), exp(mu + half)), geometricSDCI95: (exp(sLow), exp(sHigh)))
    }

    // MARK: two-sample tests

    /// Two-sample Kolmogorov-Smirnov test: D, the largest distance between the empirical
    /// distribution functions, and its asymptotic p-value with Stephens' small-sample correction,
    /// `Q_KS((sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D)`, `ne = n m / (n + m)` (Numerical Recipes
    /// 14.3; within 0.01 of the exact value from about ne = 4).
    public static func kolmogorovSmirnov(_ a: [Double], _ b: [Double]) -> (d: Double, p: Double)? {
        let x = a.filter(\.isFinite).sorted(), y = b.filter(\.isFinite).sorted()
        guard !x.isEmpty, !y.isEmpty else { return nil }
        var i = 0, j = 0, d = 0.0
        let n = Double(x.count), m = Double(y.count)
        while i < x.count && j < y.count {
            let v = min(x[i], y[j])
            while i < x.count && x[i] == v { i += 1 }
            while j < y.count && y[j] == v { j += 1 }
            d = max(d, abs(Double(i) / n - Double(j) / m))
        }
        let ne = (n * m / (n + m)).squareRoot()
        return (d, Distributions.kolmogorovQ((ne + 0.12 + 0.11 / ne) * d))
    }

    /// Mann-Whitney U test (two-sided): U of the first sample, and the p-value of the normal
    /// approximation with the tie correction and a continuity correction of 0.5.
    public static func mannWhitney(_ a: [Double], _ b: [Double]) -> (u: Double, p: Double)? {
        let x = a.filter(\.isFinite), y = b.filter(\.isFinite)
        guard !x.isEmpty, !y.isEmpty else { return nil }
        let all = (x.map { ($0, 0) } + y.map { ($0, 1) }).sorted { $0.0 < $1.0 }
        var ranks = [Double](repeating: 0, count: all.count)
        var tieTerm = 0.0, i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count && all[j + 1].0 == all[i].0 { j += 1 }
            let r = Double(i + j) / 2 + 1
            for k in i...j { ranks[k] = r }
            let t = Double(j - i + 1)
            tieTerm += t * t * t - t
            i = j + 1
        }
        let n1 = Double(x.count), n2 = Double(y.count), n = n1 + n2
        let r1 = zip(all, ranks).filter { $0.0.1 == 0 }.reduce(0) { $0 + $1.1 }
        let u = r1 - n1 * (n1 + 1) / 2
        let mean = n1 * n2 / 2
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return (u, 1) }
        let z = max(0, abs(u - mean) - 0.5) / variance.squareRoot()
        return (u, min(1, 2 * Distributions.normalUpperTail(z)))
    }

    // MARK: numbers

    /// `mean ± sd` with the same decimals for both, from two significant figures of the sd
    /// (1.98 ± 0.70; 12.3 ± 4.1; 153 ± 28).
    public static func meanSD(_ mean: Double, _ sd: Double, unit: String = "") -> String {
        let decimals = sd > 0 && sd.isFinite ? max(0, 1 - Int(floor(log10(sd)))) : 3
        let u = unit.isEmpty ? "" : " " + unit
        return String(format: "%.\(decimals)f ± %.\(decimals)f", mean, sd) + u
    }

    /// `value` with `decimals` chosen like `meanSD` from the width of its interval.
    public static func withInterval(_ value: Double, _ low: Double, _ high: Double) -> String {
        let w = (high - low) / 2
        let decimals = w > 0 && w.isFinite ? max(0, 1 - Int(floor(log10(w)))) : 3
        return String(format: "%.\(decimals)f (%.\(decimals)f–%.\(decimals)f)", value, low, high)
    }
}

/// Distribution functions for the tests and intervals (Numerical Recipes 3rd ed., 6.2, 6.4, 6.14).
public enum Distributions {
    /// ln Gamma(x), Lanczos (g = 7, n = 9), about 15 digits.
    static func logGamma(_ x: Double) -> Double {
        let g: [Double] = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
                           12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
        if x < 0.5 { return log(Double.pi / abs(sin(Double.pi * x))) - logGamma(1 - x) }
        let x = x - 1
        var a = g[0]
        let t = x + 7.5
        for i in 1..<9 { a += g[i] / (x + Double(i)) }
        return 0.5 * log(2 * Double.pi) + (x + 0.5) * log(t) - t + log(a)
    }

    /// Regularized lower incomplete gamma P(a, x).
    static func gammaP(_ a: Double, _ x: Double) -> Double {
        guard x > 0 else { return 0 }
        if x < a + 1 {
            var sum = 1 / a, term = sum, ap = a
            for _ in 0..<1000 { ap += 1; term *= x / ap; sum += term; if abs(term) < abs(sum) * 1e-15 { break } }
            return sum * exp(-x + a * log(x) - logGamma(a))
        }
        // continued fraction for Q (Lentz)
        var b = x + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d
        for i in 1..<1000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b; if abs(d) < 1e-300 { d = 1e-300 }
            c = b + an / c; if abs(c) < 1e-300 { c = 1e-300 }
            d = 1 / d
            let del = d * c
            h *= del
            if abs(del - 1) < 1e-15 { break }
        }
        return 1 - exp(-x + a * log(x) - logGamma(a)) * h
    }

    /// Regularized incomplete beta I_x(a, b).
    static func betaI(_ a: Double, _ b: Double, _ x: Double) -> Double {
        guard x > 0 else { return 0 }
        guard x < 1 else { return 1 }
        let front = exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * log(x) + b * log(1 - x))
        func cf(_ a: Double, _ b: Double, _ x: Double) -> Double {
            var c = 1.0, d = 1 - (a + b) * x / (a + 1)
            if abs(d) < 1e-300 { d = 1e-300 }
            d = 1 / d
            var h = d
            for m in 1..<1000 {
                let m = Double(m)
                var aa = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                d = 1 + aa * d; if abs(d) < 1e-300 { d = 1e-300 }
                c = 1 + aa / c; if abs(c) < 1e-300 { c = 1e-300 }
                d = 1 / d; h *= d * c
                aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                d = 1 + aa * d; if abs(d) < 1e-300 { d = 1e-300 }
                c = 1 + aa / c; if abs(c) < 1e-300 { c = 1e-300 }
                d = 1 / d
                let del = d * c
                h *= del
                if abs(del - 1) < 1e-15 { break }
            }
            return h
        }
        return x < (a + 1) / (a + b + 2) ? front * cf(a, b, x) / a : 1 - front * cf(b, a, 1 - x) / b
    }

    /// Student's t distribution function.
    public static func studentTCDF(_ t: Double, df: Double) -> Double {
        let tail = 0.5 * betaI(df / 2, 0.5, df / (df + t * t))
        return t >= 0 ? 1 - tail : tail
    }

    /// Chi-square distribution function.
    public static func chiSquareCDF(_ x: Double, df: Double) -> Double { gammaP(df / 2, x / 2) }

    /// Inverts a monotone distribution function by bisection to 1e-12.
    static func invert(_ p: Double, low: Double, high: Double, _ cdf: (Double) -> Double) -> Double {
        var lo = low, hi = high
        while cdf(hi) < p { hi *= 2 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-12 * max(1, abs(mid)) { break }
        }
        return (lo + hi) / 2
    }

    public static func studentTQuantile(_ p: Double, df: Double) -> Double {
        p < 0.5 ? -studentTQuantile(1 - p, df: df) : invert(p, low: 0, high: 10) { studentTCDF($0, df: df) }
    }

    public static func chiSquareQuantile(_ p: Double, df: Double) -> Double {
        invert(p, low: 0, high: max(10, 2 * df)) { chiSquareCDF($0, df: df) }
    }

    /// P(Z > z) for the standard normal.
    public static func normalUpperTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    /// The Kolmogorov distribution's upper tail, `2 sum (-1)^(k-1) exp(-2 k^2 x^2)`.
    public static func kolmogorovQ(_ x: Double) -> Double {
        guard x > 0.18 else { return 1 }
        var sum = 0.0, sign = 1.0
        for k in 1...100 {
            let term = sign * exp(-2 * Double(k * k) * x * x)
            sum += term
            if abs(term) < 1e-12 { break }
            sign = -sign
        }
        return min(1, max(0, 2 * sum))
    }
}
