/// The statistics antema reports for a measurement, computed in one place for the database's
/// aggregates, the reports and the command line: n, mean, sample standard deviation (N - 1; 0 for
/// one value), min, p10, median, p90, max. Percentiles interpolate linearly between order
/// statistics (position `(n - 1) p`: numpy's default, R type 7, Excel's PERCENTILE.INC).
/// Non-finite values are left out.
public struct Summary: Sendable, Equatable {
    public var n: Int
    public var mean: Double?, sd: Double?, min: Double?, p10: Double?, median: Double?, p90: Double?, max: Double?

    public init(_ values: [Double]) {
        let v = values.filter(\.isFinite).sorted()
        n = v.count
        guard !v.isEmpty else { return }
        let m = v.reduce(0, +) / Double(v.count)
        mean = m
        sd = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
        min = v.first
        max = v.last
        p10 = Summary.percentile(sorted: v, 0.1)
        median = Summary.percentile(sorted: v, 0.5)
        p90 = Summary.percentile(sorted: v, 0.9)
    }

    public static func percentile(sorted v: [Double], _ p: Double) -> Double? {
        guard !v.isEmpty else { return nil }
        let h = Double(v.count - 1) * p
        let lo = Int(h.rounded(.down)), hi = Swift.min(lo + 1, v.count - 1)
        return v[lo] + (h - Double(lo)) * (v[hi] - v[lo])
    }
}
