import Dispatch
import Foundation
import GRDB
import Synchronization

/// The result of a query: column names and rows of values.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[DatabaseValue]]
    public init(columns: [String], rows: [[DatabaseValue]]) { self.columns = columns; self.rows = rows }
}

/// Read-only access for users and `antemactl`: the connection is opened read-only with
/// `PRAGMA query_only`, and a statement is refused before it runs if it could write, attach a
/// database, change a pragma, or load an extension. One statement at a time.
public final class ReadOnlyDatabase: Sendable {
    let queue: DatabaseQueue

    /// Throws `notFound` when there is no database at `path`, `permissionDenied` when this user
    /// may not read it (or its folder), saying which.
    public static func checkReadable(_ path: String) throws {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == EACCES {
                throw StoreError.permissionDenied("\(path): this user may not enter its folder (the database is readable by the antema group: ask for membership, or use sudo)")
            }
            throw StoreError.notFound("database \(path) (has antemad run yet? give --db or --config)")
        }
        if access(path, R_OK) != 0 {
            throw StoreError.permissionDenied("\(path): this user may not read it (the database is readable by the antema group: ask for membership, or use sudo)")
        }
    }

    public init(path: String) throws {
        try Self.checkReadable(path)
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA query_only = 1") }
        queue = try DatabaseQueue(path: path, configuration: config)
    }

    /// A consistent copy of the whole database at `destination` (SQLite's online backup, in one
    /// read transaction: every commit before it, none after, while antemad goes on writing),
    /// checked with `integrity_check`, written under a temporary name beside the destination
    /// and renamed into place. Refuses to replace an existing file.
    public func backup(to destination: String) throws {
        if FileManager.default.fileExists(atPath: destination) {
            throw StoreError.refused("\(destination) exists; choose a new name (a backup never replaces a file)")
        }
        let folder = (destination as NSString).deletingLastPathComponent
        let temp = (folder.isEmpty ? "." : folder) + "/." + (destination as NSString).lastPathComponent + "." + UUID().uuidString + ".tmp"
        do {
            let copy = try DatabaseQueue(path: temp)
            try queue.backup(to: copy)
            let check = try copy.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            guard check == ["ok"] else { throw StoreError.refused("the copy failed its integrity check: \(check.prefix(3).joined(separator: "; "))") }
            try copy.close()
            guard link(temp, destination) == 0 else {  // never replaces: link fails when the name exists
                throw StoreError.refused("cannot create \(destination): \(String(cString: strerror(errno)))")
            }
            unlink(temp)
        } catch {
            unlink(temp)
            throw error
        }
    }

    /// Read access for the store's own queries (`Reading`).
    func read<T>(_ body: (Database) throws -> T) throws -> T { try queue.read(body) }

    /// `sql` with comments removed and the contents of string literals blanked, so that what
    /// is checked is what SQLite runs (a keyword behind a comment or inside a string is neither
    /// hidden nor mistaken).
    public static func code(of sql: String) -> String {
        var out = "", chars = Array(sql.unicodeScalars), i = 0
        while i < chars.count {
            let c = chars[i], next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {
                while i < chars.count && chars[i] != "\n" { i += 1 }
                out += " "
            } else if c == "/" && next == "*" {
                i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { i += 1 }
                i += 2
                out += " "
            } else if c == "'" {
                i += 1
                while i < chars.count {
                    if chars[i] == "'" { if i + 1 < chars.count && chars[i + 1] == "'" { i += 2; continue }; break }
                    i += 1
                }
                i += 1
                out += "''"
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }

    /// SQL functions that reveal the process's memory or reach outside the database.
    static let refusedFunctions = ["LOAD_EXTENSION", "FTS3_TOKENIZER", "READFILE", "WRITEFILE", "EDIT"]

    /// Why `sql` is refused, or `nil` when it may run.
    public static func refusal(_ sql: String, statement: Statement) -> String? {
        let code = ReadOnlyDatabase.code(of: sql)
        let words = code.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map { $0.uppercased() }
        guard let first = words.first else { return "empty statement" }
        if words.contains("ATTACH") || words.contains("DETACH") { return "ATTACH and DETACH are not allowed: queries read the antema database only" }
        if first == "PRAGMA" && code.contains("=") { return "changing pragmas is not allowed" }
        if let f = refusedFunctions.first(where: { words.contains($0) }) { return "\(f.lowercased()) is not allowed" }
        if !statement.isReadonly { return "the database is read-only here: only statements that read (SELECT, WITH, EXPLAIN, PRAGMA reads) run" }
        return nil
    }

    /// Runs one read-only statement and collects its rows (for small results; `stream` for any).
    public func query(_ sql: String, timeoutSeconds: Double = 30) throws -> QueryResult {
        var columns: [String] = [], rows: [[DatabaseValue]] = []
        try stream(sql, timeoutSeconds: timeoutSeconds, columns: { columns = $0 }, row: { rows.append($0) })
        return QueryResult(columns: columns, rows: rows)
    }

    /// Runs one read-only statement, handing each row on as it comes (memory stays flat
    /// whatever the result's size). A statement still running after `timeoutSeconds` is
    /// interrupted and reported as such. Returns the number of rows.
    @discardableResult
    public func stream(_ sql: String, timeoutSeconds: Double = 30, columns: ([String]) throws -> Void, row: ([DatabaseValue]) throws -> Void) throws -> Int {
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let timedOut = Mutex(false)
        let queue = self.queue
        timer.setEventHandler { timedOut.withLock { $0 = true }; queue.interrupt() }
        timer.schedule(deadline: .now() + timeoutSeconds)
        timer.resume()
        defer { timer.cancel() }
        do {
            return try queue.read { db in
                let statements = try db.allStatements(sql: sql)
                guard let statement = try statements.next() else { throw StoreError.refused("no statement in the query") }
                if try statements.next() != nil { throw StoreError.refused("one statement at a time, please") }
                if let why = ReadOnlyDatabase.refusal(statement.sql, statement: statement) { throw StoreError.refused(why) }
                let names = statement.columnNames
                try columns(names)
                let cursor = try Row.fetchCursor(statement)
                var n = 0
                while let r = try cursor.next() {
                    try row(names.indices.map { r[$0] as DatabaseValue })
                    n += 1
                }
                return n
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT && timedOut.withLock({ $0 }) {
            throw StoreError.refused("the query ran longer than \(Int(timeoutSeconds)) s and was stopped (--timeout)")
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
    public var instrument: String
}
