import Foundation
import GRDB

/// The daemon's heartbeat and recent events, for `antemactl status`.
public struct DaemonStatusRecord: SnakeCaseRecord, Sendable, Equatable {
    public static let databaseTableName = "daemon_status"
    public var id: Int64 = 1
    public var pid: Int32
    public var version: String
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?
    public var activity: String
    public var currentImageId: Int64?
    public var currentStage: String?
    public var watchRootsJson: String
    public var watchMode: String
    public var configPath: String?

    public init(pid: Int32, version: String, startedAt: Date, watchRoots: [String], watchMode: String, configPath: String?) {
        self.pid = pid
        self.version = version
        self.startedAt = startedAt
        self.heartbeatAt = startedAt
        self.activity = "starting"
        self.watchRootsJson = (try? String(decoding: JSONEncoder().encode(watchRoots), as: UTF8.self)) ?? "[]"
        self.watchMode = watchMode
        self.configPath = configPath
    }
}

extension AntemaStore {
    /// Marks the daemon as started (replacing the previous run's row).
    public func daemonStarted(_ status: DaemonStatusRecord) throws {
        try writer.write { db in
            var s = status
            try s.save(db)
        }
    }

    /// Heartbeat with the current activity (`idle`, `analysing`, ...), image and stage.
    public func daemonHeartbeat(activity: String, imageId: Int64?, stage: String?, at now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE daemon_status SET heartbeat_at = ?, activity = ?, current_image_id = ?, current_stage = ? WHERE id = 1",
                           arguments: [now, activity, imageId, stage])
        }
    }

    /// The pid the last started daemon recorded (for messages about a daemon already running).
    public func recordedDaemonPid() -> Int32? {
        try? writer.read { db in try Int32.fetchOne(db, sql: "SELECT pid FROM daemon_status WHERE id = 1 AND stopped_at IS NULL") }
    }

    public func daemonStopped(at now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE daemon_status SET stopped_at = ?, activity = 'stopped', current_image_id = NULL, current_stage = NULL WHERE id = 1", arguments: [now])
        }
    }

    /// Records a warning or error for `antemactl status` (the newest 1,000 are kept).
    public func logEvent(level: String, message: String, sampleId: Int64? = nil, imageId: Int64? = nil, at now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT INTO daemon_event (at, level, message, sample_id, image_id) VALUES (?, ?, ?, ?, ?)",
                           arguments: [now, level, message, sampleId, imageId])
            try db.execute(sql: "DELETE FROM daemon_event WHERE id <= (SELECT MAX(id) - 1000 FROM daemon_event)")
        }
    }

    /// Samples to close: open ones idle since `before`, or whose folder holds a marker.
    public func openSamples() throws -> [SampleRecord] {
        try writer.read { db in try SampleRecord.filter(Column("state") == SampleRecord.State.open.rawValue || Column("state") == SampleRecord.State.closing.rawValue).fetchAll(db) }
    }

    /// Images queued or processing in a sample.
    public func pendingImageCount(sampleId: Int64) throws -> Int {
        try writer.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE sample_id = ? AND state IN ('queued', 'processing')", arguments: [sampleId]) ?? 0
        }
    }

    /// Whether content with this hash (any frame) is already known.
    public func knows(contentSha256: String) throws -> Bool {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE content_sha256 = ?", arguments: [contentSha256])! > 0 }
    }

    /// The samples whose name or folder is `nameOrFolder`.
    public func samples(named nameOrFolder: String) throws -> [SampleRecord] {
        try writer.read { db in try SampleRecord.filter(Column("name") == nameOrFolder || Column("folder") == nameOrFolder).fetchAll(db) }
    }

    /// Queues a new analysis of every done image of a sample (or one image): they go back to
    /// `queued` and get a new current analysis when processed; old analyses stay.
    /// A sample whose report was written (or is due) goes back to `closing`: it closes again
    /// once the new analyses are done, and its report is written again with them.
    public func requestReprocess(sampleId: Int64? = nil, imageId: Int64? = nil) throws -> Int {
        try writer.write { db in
            let changed: Int
            if let imageId {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE id = ? AND state IN ('done', 'failed') AND superseded_by IS NULL", arguments: [imageId])
                changed = db.changesCount
            } else if let sampleId {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE sample_id = ? AND state IN ('done', 'failed') AND superseded_by IS NULL", arguments: [sampleId])
                changed = db.changesCount
            } else {
                changed = 0
            }
            if changed > 0 {
                try db.execute(sql: """
                    UPDATE sample SET state = 'closing', closed_at = NULL
                    WHERE state IN ('closed', 'reported') AND id IN (SELECT sample_id FROM image WHERE state = 'queued' AND (id = ? OR sample_id = ?))
                    """, arguments: [imageId, sampleId])
            }
            return changed
        }
    }
}
