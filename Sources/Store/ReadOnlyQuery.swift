import Foundation
import GRDB

/// The result of a query: column names and rows of values.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[DatabaseValue]]
}

/// Read-only access for users and `antemactl`: the connection is opened read-only with
/// `PRAGMA query_only`, and a statement is refused before it runs if it could write, attach a
/// database, change a pragma, or load an extension. One statement at a time.
public final class ReadOnlyDatabase: Sendable {
    let queue: DatabaseQueue

    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError.notFound("database \(path) (has antemad run yet? give --db or --config)")
        }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA query_only = 1") }
        queue = try DatabaseQueue(path: path, configuration: config)
    }

    /// Read access for the library's own queries.
    public func read<T>(_ body: (Database) throws -> T) throws -> T { try queue.read(body) }

    /// Why `sql` is refused, or `nil` when it may run.
    public static func refusal(_ sql: String, statement: Statement) -> String? {
        let words = sql.split(whereSeparator: { $0.isWhitespace || $0 == "(" || $0 == ";" }).map { $0.uppercased() }
        guard let first = words.first else { return "empty statement" }
        if first == "ATTACH" || first == "DETACH" { return "\(first) is not allowed: queries read the antema database only" }
        if first == "PRAGMA" && sql.contains("=") { return "changing pragmas is not allowed" }
        if sql.lowercased().contains("load_extension") { return "loading extensions is not allowed" }
        if !statement.isReadonly { return "the database is read-only here: only statements that read (SELECT, WITH, EXPLAIN, PRAGMA reads) run" }
        return nil
    }

    /// Runs one read-only statement.
    public func query(_ sql: String) throws -> QueryResult {
        try queue.read { db in
            let statements = try db.allStatements(sql: sql)
            guard let statement = try statements.next() else { throw StoreError.refused("no statement in the query") }
            if try statements.next() != nil { throw StoreError.refused("one statement at a time, please") }
            if let why = ReadOnlyDatabase.refusal(statement.sql, statement: statement) { throw StoreError.refused(why) }
            let columns = statement.columnNames
            let rows = try Row.fetchAll(statement).map { row in columns.indices.map { row[$0] as DatabaseValue } }
            return QueryResult(columns: columns, rows: rows)
        }
    }

    /// Samples with their counts and mean equivalent diameter, newest first.
    public func samples() throws -> [SampleSummary] {
        try queue.read { db in
            try SampleSummary.fetchAll(db, sql: """
                SELECT s.id, s.name, s.folder, s.state, s.opened_at, s.last_image_at, s.image_count, s.particle_count,
                       g.mean AS mean_equivalent_diameter_nm, g.sd AS sd_equivalent_diameter_nm
                FROM sample s LEFT JOIN sample_aggregate g ON g.sample_id = s.id AND g.measurement = 'equivalent_diameter_nm'
                ORDER BY s.opened_at DESC, s.id DESC
                """)
        }
    }
}

public struct SampleSummary: Codable, FetchableRecord, Sendable {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public var id: Int64
    public var name: String
    public var folder: String
    public var state: String
    public var openedAt: Date
    public var lastImageAt: Date?
    public var imageCount: Int
    public var particleCount: Int
    public var meanEquivalentDiameterNm: Double?
    public var sdEquivalentDiameterNm: Double?
}
