import GRDB

/// Per-sample statistics of every measurement over the sample's current particles.
///
/// n, mean, sample standard deviation (N - 1; 0 for one particle), min, p10, median, p90, max.
/// Percentiles interpolate linearly between order statistics (position `(n - 1) p`, the default
/// of numpy, R type 7 and Excel's PERCENTILE.INC).
public enum Aggregates {
    public static func percentile(sorted v: [Double], _ p: Double) -> Double? {
        guard !v.isEmpty else { return nil }
        let h = Double(v.count - 1) * p
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, v.count - 1)
        return v[lo] + (h - Double(lo)) * (v[hi] - v[lo])
    }

    static func refresh(_ db: Database, sampleId: Int64) throws {
        let columns = Schema.measurements
        var values = [[Double]](repeating: [], count: columns.count)
        var overlaps = 0, count = 0
        let rows = try Row.fetchCursor(db, sql: """
            SELECT \(columns.joined(separator: ", ")), separated, overlap_flag FROM current_particle WHERE sample_id = ?
            """, arguments: [sampleId])
        while let row = try rows.next() {
            for k in columns.indices { values[k].append(row[k]) }
            let separated: Bool = row[columns.count], flagged: Bool = row[columns.count + 1]
            if separated || flagged { overlaps += 1 }
            count += 1
        }
        try db.execute(sql: "DELETE FROM sample_aggregate WHERE sample_id = ?", arguments: [sampleId])
        for (k, name) in columns.enumerated() {
            let v = values[k].sorted()
            let n = v.count
            let mean = n > 0 ? v.reduce(0, +) / Double(n) : nil
            var sd: Double? = nil
            if let mean { sd = n > 1 ? (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot() : 0 }
            var aggregate = AggregateRecord(sampleId: sampleId, measurement: name, n: n, mean: mean, sd: sd, min: v.first,
                                            p10: percentile(sorted: v, 0.1), median: percentile(sorted: v, 0.5),
                                            p90: percentile(sorted: v, 0.9), max: v.last)
            try aggregate.insert(db)
        }
        let images = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE sample_id = ? AND state = 'done'", arguments: [sampleId]) ?? 0
        try db.execute(sql: "UPDATE sample SET image_count = ?, particle_count = ?, overlap_fraction = ? WHERE id = ?",
                       arguments: [images, count, count > 0 ? Double(overlaps) / Double(count) : nil, sampleId])
    }
}
