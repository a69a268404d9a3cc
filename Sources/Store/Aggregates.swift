import GRDB
import Pipeline

/// Per-sample statistics of every measurement over the sample's current particles (the nm
/// measurements over the particles of calibrated images, n counting them).
///
/// n, mean, sample standard deviation (N - 1; 0 for one particle), min, p10, median, p90, max.
/// Percentiles interpolate linearly between order statistics (position `(n - 1) p`, the default
/// of numpy, R type 7 and Excel's PERCENTILE.INC).
public enum Aggregates {
    public static func percentile(sorted v: [Double], _ p: Double) -> Double? { Summary.percentile(sorted: v, p) }

    static func refresh(_ db: Database, sampleId: Int64) throws {
        let columns = MeasurementCatalog.summarised.map(\.column)
        var values = [[Double]](repeating: [], count: columns.count)
        var overlaps = 0, count = 0
        let rows = try Row.fetchCursor(db, sql: """
            SELECT \(columns.joined(separator: ", ")), separated, overlap_flag FROM current_particle WHERE sample_id = ?
            """, arguments: [sampleId])
        while let row = try rows.next() {
            // NULL (nm values of a particle without a calibration) is not a value
            for k in columns.indices { if let v: Double = row[k] { values[k].append(v) } }
            let separated: Bool = row[columns.count], flagged: Bool = row[columns.count + 1]
            if separated || flagged { overlaps += 1 }
            count += 1
        }
        try db.execute(sql: "DELETE FROM sample_aggregate WHERE sample_id = ?", arguments: [sampleId])
        for (k, name) in columns.enumerated() {
            let s = Summary(values[k])
            var aggregate = AggregateRecord(sampleId: sampleId, measurement: name, n: s.n, mean: s.mean, sd: s.sd, min: s.min,
                                            p10: s.p10, median: s.median, p90: s.p90, max: s.max)
            try aggregate.insert(db)
        }
        let images = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE sample_id = ? AND state = 'done' AND superseded_by IS NULL", arguments: [sampleId]) ?? 0
        try db.execute(sql: "UPDATE sample SET image_count = ?, particle_count = ?, overlap_fraction = ? WHERE id = ?",
                       arguments: [images, count, count > 0 ? Double(overlaps) / Double(count) : nil, sampleId])
    }
}
