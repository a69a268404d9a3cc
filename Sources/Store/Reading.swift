import Foundation
import GRDB
import Pipeline

// The store's read API: every query the daemon, the reports and antemactl need, with bound
// parameters, on the daemon's read-write store and on antemactl's read-only connection alike.
// (Users' own SQL goes through `ReadOnlyDatabase.stream`.)

/// What `antemactl status` shows, as read from the database.
public struct StatusSnapshot: Sendable {
    public struct Session: Sendable {
        public var name: String
        public var folder: String
        public var state: String
        public var images: Int
        public var particles: Int
        /// Images of the sample queued or being analysed.
        public var waiting: Int
        public var lastActivity: Date
    }
    public struct Event: Sendable {
        public var at: Date
        public var level: String
        public var message: String
    }
    /// The daemon's row (nil before any daemon ran).
    public var daemon: DaemonStatusRecord?
    /// The path of the image the daemon works on.
    public var currentImagePath: String?
    /// Images per state (`queued`, `processing`, `done`, `failed`, `skipped`).
    public var imagesByState: [String: Int]
    public var openSessions: [Session]
    /// The last ten warnings and errors, newest first.
    public var recentProblems: [Event]
    public var imagesSince: Int
    public var particlesSince: Int
    /// Shipping to a facility database (nil when none is configured).
    public var shipping: ShippingStatus? = nil
}

/// What `antemactl show` prints for one sample.
public struct SampleOverview: Sendable {
    public var sample: SampleRecord
    public var imagesByState: [(state: String, images: Int)]
    public var statistics: [AggregateRecord]
    public var notAnalysed: [(path: String, frame: Int, error: String?)]

    public init(sample: SampleRecord, imagesByState: [(state: String, images: Int)], statistics: [AggregateRecord],
                notAnalysed: [(path: String, frame: Int, error: String?)]) {
        self.sample = sample
        self.imagesByState = imagesByState
        self.statistics = statistics
        self.notAnalysed = notAnalysed
    }
}

/// Everything a sample's report shows.
public struct SampleContents: Sendable {
    public struct Image: Sendable {
        public var path: String
        public var frame: Int
        public var widthPx: Int?
        public var heightPx: Int?
        public var pixelSizeXNm: Double?
        public var pixelSizeYNm: Double?
        public var state: String
        public var error: String?
        public var particleCount: Int?
        public var seconds: Double?
        public var networkScale: Double?
        public var droppedUnsureCount: Int?
        public var droppedDebrisCount: Int?
    }
    public struct Particle: Sendable {
        public var imagePath: String
        public var frame: Int
        public var index: Int
        public var measurement: ParticleMeasurement
    }
    public var sample: SampleRecord
    /// The images not superseded, by path and frame.
    public var images: [Image]
    /// The current analyses' particles, by image path, frame and index.
    public var particles: [Particle]
    /// The segmenter and parameters of the sample's latest analysis.
    public var segmenter: String
    public var parametersJson: String
}

enum Reading {
    static func status(_ db: Database, since: Date) throws -> StatusSnapshot {
        var daemon: DaemonStatusRecord? = nil, current: String? = nil
        if try db.tableExists("daemon_status") {
            daemon = try DaemonStatusRecord.fetchOne(db, key: 1)
            if let id = daemon?.currentImageId {
                current = try String.fetchOne(db, sql: "SELECT path FROM image WHERE id = ?", arguments: [id])
            }
        }
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM image GROUP BY state") { counts[row["state"]] = row["n"] }
        let sessions = try Row.fetchAll(db, sql: """
            SELECT s.name, s.folder, s.state, s.image_count, s.particle_count, COALESCE(s.last_image_at, s.opened_at) AS last,
                   (SELECT COUNT(*) FROM image i WHERE i.sample_id = s.id AND i.state IN ('queued', 'processing')) AS queued
            FROM sample s WHERE s.state IN ('open', 'closing') ORDER BY last DESC
            """).map { r in
            StatusSnapshot.Session(name: r["name"], folder: r["folder"], state: r["state"], images: r["image_count"], particles: r["particle_count"],
                                   waiting: r["queued"], lastActivity: r["last"])
        }
        var events: [StatusSnapshot.Event] = []
        if try db.tableExists("daemon_event") {
            events = try Row.fetchAll(db, sql: "SELECT at, level, message FROM daemon_event WHERE level IN ('error', 'warning') ORDER BY id DESC LIMIT 10")
                .map { StatusSnapshot.Event(at: $0["at"], level: $0["level"], message: $0["message"]) }
        }
        let images = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM analysis WHERE created_at >= ?", arguments: [since]) ?? 0
        let particles = try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(particle_count), 0) FROM analysis WHERE created_at >= ?", arguments: [since]) ?? 0
        return StatusSnapshot(daemon: daemon, currentImagePath: current, imagesByState: counts, openSessions: sessions, recentProblems: events,
                              imagesSince: images, particlesSince: particles, shipping: try ShippingReading.status(db))
    }

    static func samples(_ db: Database) throws -> [SampleSummary] {
        try SampleSummary.fetchAll(db, sql: """
            SELECT s.id, s.name, s.folder, s.state, s.opened_at, s.last_image_at, s.image_count, s.particle_count,
                   g.mean AS mean_equivalent_diameter_nm, g.sd AS sd_equivalent_diameter_nm, s.instrument
            FROM sample s LEFT JOIN sample_aggregate g ON g.sample_id = s.id AND g.measurement = 'equivalent_diameter_nm'
            ORDER BY s.opened_at DESC, s.id DESC
            """)
    }

    static func overview(_ db: Database, nameOrFolder: String, instrument: String? = nil) throws -> SampleOverview? {
        var request = SampleRecord.filter(Column("name") == nameOrFolder || Column("folder") == nameOrFolder)
        if let instrument { request = request.filter(Column("instrument") == instrument) }
        guard let sample = try request.order(Column("opened_at").desc).fetchOne(db), let id = sample.id else { return nil }
        let states = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS images FROM image WHERE sample_id = ? GROUP BY state ORDER BY state",
                                      arguments: [id]).map { (state: $0["state"] as String, images: $0["images"] as Int) }
        let statistics = try AggregateRecord.filter(Column("sample_id") == id).order(Column("measurement")).fetchAll(db)
        let failed = try Row.fetchAll(db, sql: "SELECT path, frame, error FROM image WHERE sample_id = ? AND state IN ('failed', 'skipped') ORDER BY path",
                                      arguments: [id]).map { (path: $0["path"] as String, frame: $0["frame"] as Int, error: $0["error"] as String?) }
        return SampleOverview(sample: sample, imagesByState: states, statistics: statistics, notAnalysed: failed)
    }

    static func contents(_ db: Database, sampleId: Int64) throws -> SampleContents {
        guard let s = try SampleRecord.fetchOne(db, key: sampleId) else { throw StoreError.notFound("sample \(sampleId)") }
        let images = try Row.fetchAll(db, sql: """
            SELECT i.path, i.frame, i.width_px, i.height_px, i.pixel_size_x_nm, i.pixel_size_y_nm, i.state, i.error,
                   a.particle_count, a.total_seconds, a.network_scale, a.dropped_unsure_count, a.dropped_debris_count
            FROM image i LEFT JOIN analysis a ON a.image_id = i.id AND a.is_current = 1
            WHERE i.sample_id = ? AND i.superseded_by IS NULL ORDER BY i.path, i.frame
            """, arguments: [sampleId]).map { r in
            SampleContents.Image(path: r["path"], frame: r["frame"], widthPx: r["width_px"], heightPx: r["height_px"],
                                 pixelSizeXNm: r["pixel_size_x_nm"], pixelSizeYNm: r["pixel_size_y_nm"], state: r["state"], error: r["error"],
                                 particleCount: r["particle_count"], seconds: r["total_seconds"], networkScale: r["network_scale"],
                                 droppedUnsureCount: r["dropped_unsure_count"], droppedDebrisCount: r["dropped_debris_count"])
        }
        let columns = MeasurementCatalog.particleColumns.map(\.column).joined(separator: ", ")
        let particles = try Row.fetchAll(db, sql: """
            SELECT image_path, frame, particle_index, \(columns)
            FROM current_particle WHERE sample_id = ? ORDER BY image_path, frame, particle_index
            """, arguments: [sampleId]).map { r in
            SampleContents.Particle(imagePath: r["image_path"], frame: r["frame"], index: r["particle_index"], measurement: try AntemaStore.measurement(r))
        }
        let analysis = try Row.fetchOne(db, sql: """
            SELECT a.segmenter, a.parameters_json FROM analysis a JOIN image i ON i.id = a.image_id
            WHERE i.sample_id = ? AND a.is_current = 1 ORDER BY a.created_at DESC LIMIT 1
            """, arguments: [sampleId])
        return SampleContents(sample: s, images: images, particles: particles,
                              segmenter: analysis?["segmenter"] ?? "", parametersJson: analysis?["parameters_json"] ?? "{}")
    }
}

extension AntemaStore {
    public func sample(id: Int64) throws -> SampleRecord? {
        try writer.read { db in try SampleRecord.fetchOne(db, key: id) }
    }

    /// Everything the report of a sample shows.
    public func contents(sampleId: Int64) throws -> SampleContents {
        try writer.read { db in try Reading.contents(db, sampleId: sampleId) }
    }

    public func status(since: Date) throws -> StatusSnapshot { try writer.read { db in try Reading.status(db, since: since) } }
    public func image(id: Int64) throws -> ImageRecord? { try writer.read { db in try ImageRecord.fetchOne(db, key: id) } }
    public func overview(of nameOrFolder: String) throws -> SampleOverview? { try writer.read { db in try Reading.overview(db, nameOrFolder: nameOrFolder) } }
}

extension ReadOnlyDatabase {
    /// Samples with their counts and mean equivalent diameter, newest first.
    public func samples() throws -> [SampleSummary] { try read { db in try Reading.samples(db) } }
    public func status(since: Date) throws -> StatusSnapshot { try read { db in try Reading.status(db, since: since) } }
    /// The sample of this name or folder (the newest when several share the name).
    public func overview(of nameOrFolder: String, instrument: String? = nil) throws -> SampleOverview? {
        try read { db in try Reading.overview(db, nameOrFolder: nameOrFolder, instrument: instrument) }
    }
    public func contents(sampleId: Int64) throws -> SampleContents { try read { db in try Reading.contents(db, sampleId: sampleId) } }
}
