import Foundation
import GRDB

// The local side of shipping to a facility's PostgreSQL (the `Facility` module writes there).
// The local file stays the microscope's complete record: the queue, every analysis, every
// event. Shipping only empties the outbox (schema v5); nothing else is deleted once shipped,
// so a server that is lost or replaced is refilled from the microscopes (`enableShipping`
// with a new target ships everything again).

/// One value of a shipped row. Timestamps are the columns whose name ends in `_at`.
public enum ShippedValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String), date(Date)
}

/// A row as the local database holds it: its columns by name, in table order.
public struct ShippedRow: Sendable, Equatable {
    public var columns: [String]
    public var values: [ShippedValue]

    public subscript(_ column: String) -> ShippedValue? {
        columns.firstIndex(of: column).map { values[$0] }
    }
}

/// One entry of the outbox: a sample or an image whose current content waits to be shipped.
public struct OutboxItem: Sendable, Equatable {
    public enum Kind: String, Sendable { case sample, image }
    public var id: Int64
    public var kind: Kind
    public var refId: Int64
    /// Changes since it was queued; it leaves the outbox only if no change came while shipping.
    public var version: Int64
    public var queuedAt: Date
}

/// What one image brings to the facility database, shipped in one transaction: its sample (as
/// it is now, with its summaries), the image, its current analysis and that analysis's particles.
public struct ImageShipment: Sendable {
    public var sample: ShippedRow
    public var aggregates: [ShippedRow]
    public var image: ShippedRow
    public var analysis: ShippedRow?
    /// The particle table's columns, and one row of values per particle of the current analysis.
    public var particleColumns: [String]
    public var particles: [[ShippedValue]]
}

/// A sample as it is now (state, counts) with its summaries.
public struct SampleShipment: Sendable {
    public var sample: ShippedRow
    public var aggregates: [ShippedRow]
}

/// What `antemactl status` shows of the shipping.
public struct ShippingStatus: Sendable {
    /// The server, as configured (never with a password).
    public var target: String
    public var pendingImages: Int
    public var pendingSamples: Int
    /// When the oldest change still waiting was made.
    public var oldestPending: Date?
    public var lastShippedAt: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
}

enum ShippingReading {
    static func value(_ v: DatabaseValue, column: String) -> ShippedValue {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return .integer(i)
        case .double(let d): return .real(d)
        case .string(let s):
            if column.hasSuffix("_at"), let date = Date.fromDatabaseValue(v) { return .date(date) }
            return .text(s)
        case .blob(let b): return .text(b.base64EncodedString())
        }
    }

    static func row(_ r: Row) -> ShippedRow {
        let columns = Array(r.columnNames)
        return ShippedRow(columns: columns, values: columns.indices.map { value(r[$0] as DatabaseValue, column: columns[$0]) })
    }

    static func status(_ db: Database) throws -> ShippingStatus? {
        guard try db.tableExists("shipping"), let s = try Row.fetchOne(db, sql: "SELECT * FROM shipping WHERE id = 1") else { return nil }
        let pending = try Row.fetchOne(db, sql: """
            SELECT COALESCE(SUM(kind = 'image'), 0) AS images, COALESCE(SUM(kind = 'sample'), 0) AS samples, MIN(queued_at) AS oldest FROM outbox
            """)
        return ShippingStatus(target: s["target"], pendingImages: pending?["images"] ?? 0, pendingSamples: pending?["samples"] ?? 0,
                              oldestPending: pending?["oldest"], lastShippedAt: s["last_shipped_at"], lastError: s["last_error"],
                              lastErrorAt: s["last_error_at"])
    }
}

extension AntemaStore {
    /// Starts recording changes for the server `target` (a description without password).
    /// When shipping was off, or went to another server, every sample and every finished image
    /// is queued once (the server gets the whole history; shipping is idempotent, so what it
    /// already holds is only overwritten with the same values). Returns how many were queued.
    @discardableResult
    public func enableShipping(target: String, at now: Date = Date()) throws -> Int {
        try writer.write { db in
            if let current = try String.fetchOne(db, sql: "SELECT target FROM shipping WHERE id = 1"), current == target { return 0 }
            try db.execute(sql: "DELETE FROM shipping")
            try db.execute(sql: "INSERT INTO shipping (id, target, enabled_at) VALUES (1, ?, ?)", arguments: [target, now])
            try db.execute(sql: """
                INSERT INTO outbox (kind, ref_id, queued_at) SELECT 'sample', id, ? FROM sample ORDER BY id
                ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1
                """, arguments: [now])
            let samples = db.changesCount
            try db.execute(sql: """
                INSERT INTO outbox (kind, ref_id, queued_at)
                SELECT 'image', id, ? FROM image WHERE state IN ('done', 'failed', 'skipped') ORDER BY COALESCE(finished_at, queued_at), id
                ON CONFLICT (kind, ref_id) DO UPDATE SET version = version + 1
                """, arguments: [now])
            return samples + db.changesCount
        }
    }

    /// Stops recording changes (no server configured); what waits stays in the outbox.
    public func disableShipping() throws {
        try writer.write { db in try db.execute(sql: "DELETE FROM shipping") }
    }

    /// The oldest `limit` changes waiting, in the order they were made.
    public func pendingShipments(limit: Int) throws -> [OutboxItem] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT id, kind, ref_id, version, queued_at FROM outbox ORDER BY id LIMIT ?", arguments: [limit]).compactMap { r in
                guard let kind = OutboxItem.Kind(rawValue: r["kind"]) else { return nil }
                return OutboxItem(id: r["id"], kind: kind, refId: r["ref_id"], version: r["version"], queuedAt: r["queued_at"])
            }
        }
    }

    /// An image's shipment, read in one transaction (nil when the image is gone).
    public func imageShipment(imageId: Int64) throws -> ImageShipment? {
        try writer.read { db in
            guard let image = try Row.fetchOne(db, sql: "SELECT * FROM image WHERE id = ?", arguments: [imageId]),
                  let sample = try Row.fetchOne(db, sql: "SELECT * FROM sample WHERE id = ?", arguments: [image["sample_id"] as Int64]) else { return nil }
            let aggregates = try Row.fetchAll(db, sql: "SELECT * FROM sample_aggregate WHERE sample_id = ? ORDER BY measurement",
                                              arguments: [sample["id"] as Int64]).map(ShippingReading.row)
            let analysis = try Row.fetchOne(db, sql: "SELECT * FROM analysis WHERE image_id = ? AND is_current = 1", arguments: [imageId])
            var columns: [String] = [], particles: [[ShippedValue]] = []
            if let id = analysis?["id"] as Int64? {
                let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM particle WHERE analysis_id = ? ORDER BY particle_index", arguments: [id])
                while let r = try cursor.next() {
                    if columns.isEmpty { columns = Array(r.columnNames) }
                    particles.append(columns.indices.map { ShippingReading.value(r[$0] as DatabaseValue, column: columns[$0]) })
                }
            }
            return ImageShipment(sample: ShippingReading.row(sample), aggregates: aggregates, image: ShippingReading.row(image),
                                 analysis: analysis.map(ShippingReading.row), particleColumns: columns, particles: particles)
        }
    }

    /// A sample's shipment (nil when the sample is gone).
    public func sampleShipment(sampleId: Int64) throws -> SampleShipment? {
        try writer.read { db in
            guard let sample = try Row.fetchOne(db, sql: "SELECT * FROM sample WHERE id = ?", arguments: [sampleId]) else { return nil }
            let aggregates = try Row.fetchAll(db, sql: "SELECT * FROM sample_aggregate WHERE sample_id = ? ORDER BY measurement",
                                              arguments: [sampleId]).map(ShippingReading.row)
            return SampleShipment(sample: ShippingReading.row(sample), aggregates: aggregates)
        }
    }

    /// The server acknowledged `item`: it leaves the outbox unless it changed meanwhile (then
    /// it stays, with its new content, for the next round). Returns whether it left.
    @discardableResult
    public func markShipped(_ item: OutboxItem, at now: Date = Date()) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE id = ? AND version = ?", arguments: [item.id, item.version])
            let left = db.changesCount == 1
            try db.execute(sql: "UPDATE shipping SET last_shipped_at = ?, last_error = NULL WHERE id = 1", arguments: [now])
            return left
        }
    }

    /// An item the server refused goes to the end of the outbox (tried again after the others).
    public func deferShipment(_ item: OutboxItem) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE outbox SET id = (SELECT MAX(id) + 1 FROM outbox) WHERE id = ?", arguments: [item.id])
        }
    }

    /// An item that cannot be shipped at all (its rows are gone) leaves the outbox.
    public func dropShipment(_ item: OutboxItem) throws {
        try writer.write { db in try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [item.id]) }
    }

    /// Why the last attempt failed (the server unreachable, a refusal), for `antemactl status`.
    public func recordShippingError(_ message: String, at now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE shipping SET last_error = ?, last_error_at = ? WHERE id = 1", arguments: [message, now])
        }
    }

    public func shippingStatus() throws -> ShippingStatus? { try writer.read { db in try ShippingReading.status(db) } }
}

extension ReadOnlyDatabase {
    public func shippingStatus() throws -> ShippingStatus? { try read { db in try ShippingReading.status(db) } }
}
