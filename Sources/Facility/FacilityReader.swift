import Dispatch
import Foundation
import GRDB
import Logging
import PostgresNIO
import Store
import Synchronization

/// Read-only access to the facility database for `antemactl query/samples/show`: every
/// statement runs in a `READ ONLY` transaction with a statement timeout and is rolled back;
/// the role it connects as should have no write grants at all (docs/database.md gives the SQL),
/// so a write is refused twice. One statement at a time (the extended protocol takes one).
/// Values come back as the local database's (`DatabaseValue`: integers, reals, text; dates as
/// the local text form), so listings look the same on both engines.
public struct FacilityReader: Sendable {
    public let target: PostgresTarget
    public var timeoutSeconds: Double
    let logger: Logger

    public init(target: PostgresTarget, timeoutSeconds: Double = 30, logger: Logger = Logger(label: "antemactl")) {
        self.target = target
        self.timeoutSeconds = timeoutSeconds
        self.logger = logger
    }

    func readOnly<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let c = try await target.connect(logger: logger)
        do {
            try await c.query("BEGIN TRANSACTION READ ONLY", logger: logger)
            try await c.query(PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(max(1, Int(timeoutSeconds * 1000)))"), logger: logger)
            let value = try await body(c)
            try? await c.query("ROLLBACK", logger: logger)
            try? await c.close()
            return value
        } catch {
            try? await c.close()
            if let e = error as? PSQLError, e.serverInfo?[.sqlState] == "57014" {
                throw FacilityError(.refused, "the query ran longer than \(Int(timeoutSeconds)) s and was stopped (--timeout)")
            }
            if error is FacilityError { throw error }
            throw FacilityError(FacilityError.isConnectionProblem(error) ? .unreachable : .refused, FacilityError.describe(error))
        }
    }

    /// A cell as the local database would hold it.
    static func value(_ cell: PostgresCell) -> DatabaseValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2: return (try? cell.decode(Int16.self)).map { Int64($0).databaseValue } ?? .null
        case .int4: return (try? cell.decode(Int32.self)).map { Int64($0).databaseValue } ?? .null
        case .int8, .oid: return (try? cell.decode(Int64.self))?.databaseValue ?? .null
        case .float4: return (try? cell.decode(Float.self)).map { Double($0).databaseValue } ?? .null
        case .float8: return (try? cell.decode(Double.self))?.databaseValue ?? .null
        case .numeric:
            if let d = try? cell.decode(Decimal.self) { return NSDecimalNumber(decimal: d).doubleValue.databaseValue }
            return .null
        case .bool: return (try? cell.decode(Bool.self)).map { ($0 ? 1 : 0).databaseValue } ?? .null
        case .timestamptz, .timestamp, .date: return (try? cell.decode(Date.self))?.databaseValue ?? .null
        default:
            if let s = try? cell.decode(String.self) { return s.databaseValue }
            return "<\(cell.dataType)>".databaseValue
        }
    }

    /// Runs one read-only statement, handing on its column names and then each row.
    @discardableResult
    public func stream(_ sql: String, columns: @Sendable ([String]) throws -> Void, row: @Sendable ([DatabaseValue]) throws -> Void) async throws -> Int {
        try await readOnly { c in
            let rows = try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            try columns(rows.columns.map(\.name))
            var n = 0
            for try await r in rows {
                try row(r.map(FacilityReader.value))
                n += 1
            }
            return n
        }
    }

    /// Rows of one statement with bound values, as GRDB rows (decoded by the store's records).
    func rows(_ query: PostgresQuery, on c: PostgresConnection) async throws -> [Row] {
        var out: [Row] = []
        for try await r in try await c.query(query, logger: logger) {
            var dictionary: [String: DatabaseValue] = [:]
            for cell in r { dictionary[cell.columnName] = FacilityReader.value(cell) }
            out.append(Row(dictionary))
        }
        return out
    }

    /// Every instrument's samples with counts and mean equivalent diameter, newest first.
    public func samples() async throws -> [SampleSummary] {
        try await readOnly { c in
            try await rows("""
                SELECT s.id, s.name, s.folder, s.state, s.opened_at, s.last_image_at, s.image_count, s.particle_count,
                       g.mean AS mean_equivalent_diameter_nm, g.sd AS sd_equivalent_diameter_nm, s.instrument
                FROM sample s LEFT JOIN sample_aggregate g
                  ON g.instrument = s.instrument AND g.sample_id = s.id AND g.measurement = 'equivalent_diameter_nm'
                ORDER BY s.opened_at DESC, s.instrument, s.id DESC
                """, on: c).map { try SampleSummary(row: $0) }
        }
    }

    /// The newest sample of this name or folder (on `instrument` when given).
    public func overview(of nameOrFolder: String, instrument: String?) async throws -> SampleOverview? {
        try await readOnly { c in
            let found = try await rows("""
                SELECT * FROM sample WHERE (name = \(nameOrFolder) OR folder = \(nameOrFolder)) AND (\(instrument)::text IS NULL OR instrument = \(instrument))
                ORDER BY opened_at DESC LIMIT 1
                """, on: c)
            guard let row = found.first else { return nil }
            let sample = try SampleRecord(row: row)
            let id = sample.id ?? -1
            let states = try await rows("""
                SELECT state, COUNT(*) AS images FROM image WHERE instrument = \(sample.instrument) AND sample_id = \(id) GROUP BY state ORDER BY state
                """, on: c).map { (state: $0["state"] as String, images: $0["images"] as Int) }
            let statistics = try await rows("""
                SELECT * FROM sample_aggregate WHERE instrument = \(sample.instrument) AND sample_id = \(id) ORDER BY measurement
                """, on: c).map { try AggregateRecord(row: $0) }
            let failed = try await rows("""
                SELECT path, frame, error FROM image WHERE instrument = \(sample.instrument) AND sample_id = \(id) AND state IN ('failed', 'skipped') ORDER BY path
                """, on: c).map { (path: $0["path"] as String, frame: $0["frame"] as Int, error: $0["error"] as String?) }
            return SampleOverview(sample: sample, imagesByState: states, statistics: statistics, notAnalysed: failed)
        }
    }
}

/// Runs async work from synchronous code (antemactl's commands) and waits for it.
public func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        result.withLock { $0 = r }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
