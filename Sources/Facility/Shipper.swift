import Foundation
import Logging
import PostgresNIO
import Store

/// Ships what the microscope's local database recorded to the facility's PostgreSQL, in the
/// order it was recorded (the outbox), each image with its sample, summaries, current analysis
/// and particles in one transaction. Idempotent: every row is keyed by (instrument, local id) and
/// written as the local row is now (an upsert; an image's analysis and particles are replaced),
/// so shipping the same item twice (a retry after a lost acknowledgement) changes nothing.
/// An item leaves the outbox only after the server committed it, and only if it did not change
/// meanwhile.
public actor Shipper {
    public nonisolated let store: AntemaStore
    public nonisolated let target: PostgresTarget
    let softwareVersion: String
    let logger: Logger
    /// The facility's column types, read once per round (`udt_name`, e.g. `int8`, `float8`, `timestamptz`).
    var columnTypes: [String: [String: String]] = [:]

    public init(store: AntemaStore, target: PostgresTarget, softwareVersion: String, logger: Logger) {
        self.store = store
        self.target = target
        self.softwareVersion = softwareVersion
        self.logger = logger
    }

    /// What one round did.
    public struct Round: Sendable, Equatable {
        public var shipped = 0
        /// Items the server refused (they move to the end of the outbox and are tried again later).
        public var refused = 0
        public var pending = 0
    }

    /// Ships up to `limit` waiting items over one connection, closed at the end of the round.
    /// Throws when the server cannot be reached or the connection breaks: what was not
    /// acknowledged stays in the outbox.
    public func shipPending(limit: Int = 500) async throws -> Round {
        let items = try store.pendingShipments(limit: limit)
        guard !items.isEmpty else { return Round() }
        let c = try await connected()
        do {
            let round = try await ship(items, on: c)
            try? await c.close()
            return round
        } catch {
            try? await c.close()
            throw error
        }
    }

    func ship(_ items: [OutboxItem], on c: PostgresConnection) async throws -> Round {
        var round = Round()
        round.pending = items.count
        for item in items {
            do {
                let shipped: Bool
                switch item.kind {
                case .image: shipped = try await shipImage(item, on: c)
                case .sample: shipped = try await shipSample(item, on: c)
                }
                if shipped { try store.markShipped(item) } else { try store.dropShipment(item) }
                round.shipped += 1
            } catch {
                if FacilityError.isConnectionProblem(error) {
                    throw FacilityError(.unreachable, "\(target): \(FacilityError.describe(error))")
                }
                // refused (a constraint, a value the server does not take): said, kept, tried later
                round.refused += 1
                let message = "\(item.kind) \(item.refId) refused by \(target): \(FacilityError.describe(error))"
                logger.error("could not ship", metadata: ["error": "\(message)"])
                try? store.recordShippingError(message)
                try store.deferShipment(item)
            }
        }
        try await c.query("UPDATE instrument SET last_shipped_at = now(), software_version = \(softwareVersion) WHERE name = \(store.instrument)",
                          logger: logger)
        return round
    }

    /// A new connection, with the schema brought up to date and this instrument registered.
    func connected() async throws -> PostgresConnection {
        let c = try await target.connect(logger: logger)
        do {
            let applied = try await FacilitySchema.migrate(c, logger: logger)
            if !applied.isEmpty { logger.notice("facility database schema created or updated", metadata: ["versions": "\(applied)", "server": "\(target)"]) }
            try await c.query("""
                INSERT INTO instrument (name, software_version) VALUES (\(store.instrument), \(softwareVersion))
                ON CONFLICT (name) DO UPDATE SET software_version = EXCLUDED.software_version
                """, logger: logger)
            var types: [String: [String: String]] = [:]
            let rows = try await c.query("""
                SELECT table_name::text, column_name::text, udt_name::text FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name IN ('sample', 'sample_aggregate', 'image', 'analysis', 'particle')
                """, logger: logger)
            for try await (table, column, type) in rows.decode((String, String, String).self) { types[table, default: [:]][column] = type }
            columnTypes = types
        } catch {
            try? await c.close()
            throw error
        }
        return c
    }

    func shipImage(_ item: OutboxItem, on c: PostgresConnection) async throws -> Bool {
        guard let s = try store.imageShipment(imageId: item.refId) else { return false }
        let instrument = store.instrument
        try await c.withTransaction(logger: logger) { c in
            try await self.upsert("sample", s.sample, on: c)
            try await self.replaceAggregates(of: s.sample, with: s.aggregates, on: c)
            try await self.upsert("image", s.image, on: c)
            let imageId = s.image["id"].flatMap(\.integer) ?? item.refId
            try await c.query("DELETE FROM analysis WHERE instrument = \(instrument) AND image_id = \(imageId)", logger: self.logger)
            if let a = s.analysis {
                try await self.insert("analysis", columns: a.columns, rows: [a.values], on: c)
                if !s.particles.isEmpty { try await self.insert("particle", columns: s.particleColumns, rows: s.particles, on: c) }
            }
        }
        return true
    }

    func shipSample(_ item: OutboxItem, on c: PostgresConnection) async throws -> Bool {
        guard let s = try store.sampleShipment(sampleId: item.refId) else { return false }
        try await c.withTransaction(logger: logger) { c in
            try await self.upsert("sample", s.sample, on: c)
            try await self.replaceAggregates(of: s.sample, with: s.aggregates, on: c)
        }
        return true
    }

    func replaceAggregates(of sample: ShippedRow, with rows: [ShippedRow], on c: PostgresConnection) async throws {
        let id = sample["id"].flatMap(\.integer) ?? -1
        try await c.query("DELETE FROM sample_aggregate WHERE instrument = \(store.instrument) AND sample_id = \(id)", logger: logger)
        if let first = rows.first { try await insert("sample_aggregate", columns: first.columns, rows: rows.map(\.values), on: c) }
    }

    func upsert(_ table: String, _ row: ShippedRow, on c: PostgresConnection) async throws {
        let updates = row.columns.filter { $0 != "id" && $0 != "instrument" }.map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        try await insert(table, columns: row.columns, rows: [row.values], conflict: "ON CONFLICT (instrument, id) DO UPDATE SET \(updates)", on: c)
    }

    /// One INSERT for all `rows`: each column travels as one array (in PostgreSQL's array text
    /// form, cast to the column's type) and `unnest` turns them back into rows. The instrument
    /// is added where the local table has none.
    func insert(_ table: String, columns: [String], rows: [[ShippedValue]], conflict: String = "", on c: PostgresConnection) async throws {
        guard let types = columnTypes[table] else { throw FacilityError(.refused, "the facility database has no table \(table)") }
        var names = columns, arrays = columns.indices.map { i in PostgresArrayText.literal(rows.map { $0[i] }) }
        if !columns.contains("instrument") {
            names.append("instrument")
            arrays.append(PostgresArrayText.literal(rows.map { _ in .text(store.instrument) }))
        }
        var binds = PostgresBindings(capacity: names.count)
        var casts: [String] = []
        for (k, name) in names.enumerated() {
            guard let type = types[name] else { throw FacilityError(.refused, "the facility database's \(table) has no column \(name) (is its schema older than this antemad?)") }
            binds.append(arrays[k])
            casts.append("$\(k + 1)::\(type)[]")
        }
        let sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) SELECT * FROM unnest(\(casts.joined(separator: ", "))) \(conflict)"
        try await c.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
    }
}

extension ShippedValue {
    var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
}

/// Values written in PostgreSQL's array text form (`{1,2.5,NULL,"text"}`).
enum PostgresArrayText {
    static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func element(_ v: ShippedValue) -> String {
        switch v {
        case .null: return "NULL"
        case .integer(let i): return String(i)
        case .real(let d): return d.isNaN ? "NaN" : d.isInfinite ? (d > 0 ? "Infinity" : "-Infinity") : "\(d)"
        case .text(let s): return quoted(s)
        case .date(let d): return quoted(dateStyle.format(d))
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(ch)
        }
        return out + "\""
    }

    static func literal(_ values: [ShippedValue]) -> String {
        "{" + values.map(element).joined(separator: ",") + "}"
    }
}
