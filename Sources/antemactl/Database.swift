import Analysis
import AntemaService
import ArgumentParser
import Facility
import Foundation
import GRDB
import Store

/// Where the database is: `--db PATH`, else `store.database` of the configuration
/// (`--config PATH`, default /etc/antema/config.toml), else the daemon's default path.
struct DatabaseOptions: ParsableArguments {
    static let defaultConfig = "/etc/antema/config.toml"

    @Option(name: .customLong("db"), help: "The antema database (overrides the configuration's store.database).")
    var databasePath: String?

    @Option(name: .customLong("config"), help: "antemad's configuration, for its database path (default \(DatabaseOptions.defaultConfig)).")
    var configPath: String?

    var configuration: AntemaService.Configuration {
        get throws {
            let config = configPath ?? DatabaseOptions.defaultConfig
            if configPath != nil || FileManager.default.fileExists(atPath: config) {
                do { return try AntemaService.Configuration.load(path: config) } catch {
                    throw Failure(.configuration, "\(error)")
                }
            }
            return AntemaService.Configuration()
        }
    }

    var path: String {
        get throws {
            if let databasePath { return databasePath }
            return try configuration.store.database
        }
    }

    func open() throws -> ReadOnlyDatabase {
        let p = try path
        do { return try ReadOnlyDatabase(path: p) } catch let error as StoreError { throw error } catch {
            throw Failure(.unavailable, "cannot open \(p): \(error)")
        }
    }

    /// Read-write access, for the commands that ask the daemon to do something.
    func openForWriting() throws -> AntemaStore {
        let p = try path
        try ReadOnlyDatabase.checkReadable(p)
        do { return try AntemaStore(path: p) } catch {
            throw Failure(access(p, W_OK) != 0 && errno == EACCES ? .noPermission : .unavailable, "cannot open \(p) for writing: \(error)")
        }
    }
}

/// Where `query`, `samples` and `show` read: the local file, or the facility's PostgreSQL.
struct HistoryOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("The facility's PostgreSQL, as a read-only role (postgresql://USER@HOST/DATABASE); default: store.reader_url, else store.url of the configuration.",
                               discussion: "The password comes from PGPASSFILE or ~/.pgpass."))
    var url: String?

    @Flag(help: "Read the local database even when the configuration names a facility database.")
    var local = false

    enum Source {
        case local(ReadOnlyDatabase)
        case facility(FacilityReader)
    }

    func source(timeoutSeconds: Double = 30) throws -> Source {
        if !local && database.databasePath == nil {
            var text = url
            if text == nil {
                let c = try database.configuration
                text = c.store.readerUrl ?? c.store.url
            }
            if let text {
                do { return .facility(FacilityReader(target: try PostgresTarget.parse(text, key: url != nil ? "--url" : "store.url"), timeoutSeconds: timeoutSeconds)) } catch {
                    throw Failure(.configuration, "\(error)")
                }
            }
        }
        return .local(try database.open())
    }
}

/// Runs a facility read and turns its errors into antemactl's exit codes.
func facility<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    do { return try waitFor(body) } catch let e as FacilityError {
        switch e.kind {
        case .configuration: throw Failure(.configuration, e.message)
        case .unreachable: throw Failure(.unavailable, e.message)
        case .refused: throw Failure(.dataError, "query refused or failed: \(e.message)")
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json
}

/// Renders query results as an aligned text table, RFC 4180 CSV, or a JSON array of objects.
enum ResultFormatter {
    static func text(_ v: DatabaseValue) -> String {
        switch v.storage {
        case .null: return ""
        case .int64(let i): return String(i)
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .blob(let b): return "<\(b.count) bytes>"
        }
    }

    static func jsonValue(_ v: DatabaseValue) -> Any {
        switch v.storage {
        case .null: return NSNull()
        case .int64(let i): return i
        case .double(let d): return d.isFinite ? d : NSNull()
        case .string(let s): return s
        case .blob(let b): return b.base64EncodedString()
        }
    }

    static func render(_ r: QueryResult, as format: OutputFormat) throws -> String {
        switch format {
        case .csv:
            var t = CSVTable(header: r.columns)
            for row in r.rows { t.append(row.map(text)) }
            return t.text(lineEnding: "\n")
        case .json:
            let objects: [[String: Any]] = r.rows.map { row in
                var o: [String: Any] = [:]
                for (c, v) in zip(r.columns, row) { o[c] = jsonValue(v) }
                return o
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        case .table:
            let cells = r.rows.map { $0.map { text($0).replacingOccurrences(of: "\n", with: "\\n") } }
            var widths = r.columns.map(\.count)
            for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], min(c.count, 60)) } }
            func line(_ values: [String]) -> String {
                zip(values, widths).map { v, w in
                    let s = v.count > 60 ? String(v.prefix(57)) + "..." : v
                    return s.padding(toLength: w, withPad: " ", startingAt: 0)
                }.joined(separator: "  ").trimmingTrailingSpaces()
            }
            var out = line(r.columns) + "\n" + line(widths.map { String(repeating: "-", count: $0) }) + "\n"
            for row in cells { out += line(row) + "\n" }
            out += "(\(r.rows.count) row\(r.rows.count == 1 ? "" : "s"))\n"
            return out
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// Writes query rows to standard output as they come: CSV and JSON row by row; the table's
/// column widths are taken from the first 1,000 rows (later longer values widen their line only).
final class StreamingRenderer {
    let format: OutputFormat
    var columns: [String] = []
    var pending: [[String]] = []
    var widths: [Int] = []
    var rows = 0
    var started = false
    var buffer = ""

    init(format: OutputFormat) { self.format = format }

    func emit(_ text: String) {
        buffer += text
        if buffer.utf8.count > 65536 { flush() }
    }

    func flush() {
        FileHandle.standardOutput.write(Data(buffer.utf8))
        buffer = ""
    }

    func begin(_ columns: [String]) {
        self.columns = columns
        switch format {
        case .csv: emit(CSVTable(header: columns).text(lineEnding: "\n"))
        case .json: emit("[")
        case .table: widths = columns.map(\.count)
        }
    }

    func cell(_ v: DatabaseValue) -> String { ResultFormatter.text(v).replacingOccurrences(of: "\n", with: "\\n") }

    func line(_ values: [String]) -> String {
        zip(values, widths).map { v, w in
            let s = v.count > 60 ? String(v.prefix(57)) + "..." : v
            return s.padding(toLength: max(w, s.count), withPad: " ", startingAt: 0)
        }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
    }

    func startTable() {
        started = true
        emit(line(columns) + line(widths.map { String(repeating: "-", count: $0) }))
        for r in pending { emit(line(r)) }
        pending = []
    }

    func add(_ row: [DatabaseValue]) throws {
        rows += 1
        switch format {
        case .csv:
            emit(row.map { CSVTable.field(ResultFormatter.text($0)) }.joined(separator: ",") + "\n")
        case .json:
            var o: [String: Any] = [:]
            for (c, v) in zip(columns, row) { o[c] = ResultFormatter.jsonValue(v) }
            let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])
            emit((rows > 1 ? ",\n  " : "\n  ") + String(decoding: data, as: UTF8.self))
        case .table:
            let cells = row.map(cell)
            if started { emit(line(cells)); return }
            for (i, c) in cells.enumerated() { widths[i] = max(widths[i], min(c.count, 60)) }
            pending.append(cells)
            if pending.count >= 1000 { startTable() }
        }
    }

    func finish() {
        switch format {
        case .csv: break
        case .json: emit(rows > 0 ? "\n]\n" : "]\n")
        case .table:
            if !started { startTable() }
            emit("(\(rows) row\(rows == 1 ? "" : "s"))\n")
        }
        flush()
    }
}

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a read-only SQL query over the antema database.",
        discussion: """
            The connection is read-only (query_only): statements that write, ATTACH, change pragmas \
            or load extensions are refused. Tables, views and columns: docs/database.md.

            Example: antemactl query "SELECT sample, mean, sd FROM sample_statistics WHERE measurement = 'equivalent_diameter_nm'"
            """)

    @Argument(help: "One SQL statement.") var sql: String
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @Option(help: "Stop a query that runs longer than this many seconds.") var timeout: Double = 30
    @OptionGroup var history: HistoryOptions

    func validate() throws {
        guard timeout > 0 && timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        let out = StreamingRenderer(format: format)
        switch try history.source(timeoutSeconds: timeout) {
        case .local(let db):
            do {
                try db.stream(sql, timeoutSeconds: timeout, columns: out.begin, row: out.add)
            } catch {
                out.flush()
                throw Failure(.dataError, "query refused or failed: \(error)")
            }
        case .facility(let reader):
            let sql = self.sql
            let sink = UncheckedSink(out)
            do {
                _ = try facility { try await reader.stream(sql, columns: { sink.value.begin($0) }, row: { try sink.value.add($0) }) }
            } catch {
                out.flush()
                throw error
            }
        }
        out.finish()
    }
}

/// The renderer handed to the facility's row callbacks, which run one after another on one task.
final class UncheckedSink: @unchecked Sendable {
    let value: StreamingRenderer
    init(_ value: StreamingRenderer) { self.value = value }
}

struct Samples: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the samples with their counts and mean equivalent diameter.")
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @OptionGroup var history: HistoryOptions

    func run() throws {
        func rounded(_ v: Double?) -> DatabaseValue { v.map { (($0 * 10_000).rounded() / 10_000).databaseValue } ?? .null }
        let samples: [SampleSummary]
        switch try history.source() {
        case .local(let db): samples = try db.samples()
        case .facility(let reader): samples = try facility { try await reader.samples() }
        }
        let rows = samples.map { s -> [DatabaseValue] in
            [s.instrument.databaseValue, s.name.databaseValue, s.state.databaseValue, s.openedAt.databaseValue, s.lastImageAt?.databaseValue ?? .null,
             s.imageCount.databaseValue, s.particleCount.databaseValue, rounded(s.meanEquivalentDiameterNm), rounded(s.sdEquivalentDiameterNm),
             s.folder.databaseValue]
        }
        let result = QueryResult(columns: ["instrument", "sample", "state", "opened_at", "last_image_at", "images", "particles", "mean_equivalent_diameter_nm",
                                           "sd_equivalent_diameter_nm", "folder"], rows: rows)
        print(try ResultFormatter.render(result, as: format), terminator: "")
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summarise one sample: its images, their states, and its statistics.")
    @Argument(help: "Sample name (or folder).") var sample: String
    @Option(help: "The instrument (when samples of this name exist on several).") var instrument: String?
    @OptionGroup var history: HistoryOptions

    func run() throws {
        let found: SampleOverview?
        switch try history.source() {
        case .local(let db): found = try db.overview(of: sample, instrument: instrument)
        case .facility(let reader):
            let (name, instrument) = (sample, instrument)
            found = try facility { try await reader.overview(of: name, instrument: instrument) }
        }
        guard let o = found else { throw Failure(.noInput, "no sample named \(sample)\(instrument.map { " on \($0)" } ?? "")") }
        let s = o.sample
        let fields: [(String, DatabaseValue)] = [
            ("instrument", s.instrument.databaseValue), ("name", s.name.databaseValue), ("folder", s.folder.databaseValue), ("state", s.state.rawValue.databaseValue),
            ("opened_at", s.openedAt.databaseValue), ("last_image_at", s.lastImageAt?.databaseValue ?? .null),
            ("closed_at", s.closedAt?.databaseValue ?? .null), ("image_count", s.imageCount.databaseValue),
            ("particle_count", s.particleCount.databaseValue), ("overlap_fraction", s.overlapFraction.map { CSVTable.number($0).databaseValue } ?? .null),
        ]
        for (c, v) in fields { print("\(c): \(ResultFormatter.text(v))") }
        print("\nimages by state:")
        print(try ResultFormatter.render(QueryResult(columns: ["state", "images"], rows: o.imagesByState.map { [$0.state.databaseValue, $0.images.databaseValue] }),
                                         as: .table), terminator: "")
        print("\nstatistics of the current analyses:")
        let statistics = o.statistics.map { g -> [DatabaseValue] in
            [g.measurement.databaseValue, g.n.databaseValue] + [g.mean, g.sd, g.min, g.p10, g.median, g.p90, g.max].map { $0.map { CSVTable.number($0).databaseValue } ?? .null }
        }
        print(try ResultFormatter.render(QueryResult(columns: ["measurement", "n", "mean", "sd", "min", "p10", "median", "p90", "max"], rows: statistics),
                                         as: .table), terminator: "")
        if !o.notAnalysed.isEmpty {
            print("\nimages not analysed:")
            let rows = o.notAnalysed.map { [$0.path.databaseValue, $0.frame.databaseValue, $0.error?.databaseValue ?? .null] }
            print(try ResultFormatter.render(QueryResult(columns: ["path", "frame", "error"], rows: rows), as: .table), terminator: "")
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database, consistently, while antemad runs.",
        discussion: """
            SQLite's online backup in one read transaction: the copy holds every analysis committed \
            before it started and none half-written, and passes integrity_check. Copying the file \
            by hand is not a backup: with the daemon running most recent data sits in the -wal file \
            beside it. Restore: stop antemad, put the copy at store.database (removing the old \
            -wal and -shm files), start antemad.
            """)
    @Argument(help: "The new file (must not exist).") var destination: String
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let db = try database.open()
        let start = Date()
        do { try db.backup(to: destination) } catch let error as StoreError {
            if case .refused = error { throw Failure(.cannotCreate, "\(error)") }
            throw error
        } catch {
            throw Failure(.cannotCreate, "backup to \(destination) failed: \(error)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? NSNumber)?.intValue ?? 0
        print(String(format: "backed up to %@ (%.1f MB, integrity ok) in %.1f s", destination, Double(size) / 1e6, Date().timeIntervalSince(start)))
    }
}
