import Foundation
import GRDB
import Pipeline
import Synchronization

/// What the analysis of one image brings to the store.
public struct AnalysisOutcome: Sendable {
    public var segmenter: String
    public var modelName: String?
    public var modelVersion: String?
    public var modelSha256: String?
    /// Every parameter of the run, as JSON.
    public var parametersJson: String
    public var softwareVersion: String
    public var segmentationSeconds: Double?
    public var analysisSeconds: Double?
    public var totalSeconds: Double?
    /// The factor the frame's pixels were resampled by before the network (0.5: half its
    /// pixels); nil without a network.
    public var networkScale: Double?
    /// A network's particles left out below the minimum confidence and as debris; nil without a network.
    public var droppedUnsureCount: Int?
    public var droppedDebrisCount: Int?
    public var particles: [ParticleMeasurement]

    public init(segmenter: String, parametersJson: String, softwareVersion: String, particles: [ParticleMeasurement],
                modelName: String? = nil, modelVersion: String? = nil, modelSha256: String? = nil,
                segmentationSeconds: Double? = nil, analysisSeconds: Double? = nil, totalSeconds: Double? = nil, networkScale: Double? = nil,
                droppedUnsureCount: Int? = nil, droppedDebrisCount: Int? = nil) {
        self.networkScale = networkScale
        self.droppedUnsureCount = droppedUnsureCount
        self.droppedDebrisCount = droppedDebrisCount
        self.segmenter = segmenter
        self.parametersJson = parametersJson
        self.softwareVersion = softwareVersion
        self.particles = particles
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.modelSha256 = modelSha256
        self.segmentationSeconds = segmentationSeconds
        self.analysisSeconds = analysisSeconds
        self.totalSeconds = totalSeconds
    }
}

/// Facts about an image learned when it is read.
public struct ImageFacts: Sendable, Equatable {
    public var widthPx: Int
    public var heightPx: Int
    /// nil: no calibration (the particles are measured in pixels only).
    public var pixelSizeXNm: Double?
    public var pixelSizeYNm: Double?
    public var acquisitionDate: String?
    public var acquisitionTime: String?
    public var microscope: String?
    public var voltageV: Double?
    public var indicatedMagnification: Double?
    public var exposureS: Double?

    public init(widthPx: Int, heightPx: Int, pixelSizeXNm: Double?, pixelSizeYNm: Double?) {
        self.widthPx = widthPx
        self.heightPx = heightPx
        self.pixelSizeXNm = pixelSizeXNm
        self.pixelSizeYNm = pixelSizeYNm
    }
}

/// The database: schema, and the only code that changes data, one method per transaction that
/// keeps the database's invariants (an image's analysis, particles, state and its sample's
/// aggregates change together or not at all).
///
/// Concurrency: a file database is a WAL `DatabasePool` (readers never block the writer and the
/// writer never blocks readers) with a busy timeout; an in-memory one, for tests, a queue.
public final class AntemaStore: Sendable {
    /// Internal: SQL lives in this module only (`Reading` for queries, the methods here for changes).
    let writer: any DatabaseWriter

    /// While more images of a sample wait in the queue, its distribution summaries
    /// (`sample_aggregate`, `overlap_fraction`) are recomputed at most this often; its image and
    /// particle counts change with every commit, and the summaries are exact again as soon as
    /// no image of the sample waits. Recomputing them reads every particle of the sample, so
    /// doing it on each commit made a burst of N images cost O(N^2) (1,000 images: +10 %).
    public static let aggregateRefreshIntervalSeconds = 10.0
    /// Monotonic seconds of each sample's last full refresh, in this process.
    let lastAggregateRefresh = Mutex<[Int64: Double]>([:])
    /// The instrument recorded on every sample and image this store creates (`instrument.name`).
    public let instrument: String

    /// The default instrument name: the host name.
    public static var hostInstrumentName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "antema" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "antema" : name
    }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public convenience init(path: String, instrument: String = AntemaStore.hostInstrumentName) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        try self.init(writer: DatabasePool(path: path, configuration: config), instrument: instrument)
    }

    /// Samples and images recorded before instruments were (schema v5) take this store's.
    public init(writer: any DatabaseWriter, instrument: String = AntemaStore.hostInstrumentName) throws {
        self.writer = writer
        self.instrument = instrument
        try Schema.migrator.migrate(writer)
        try writer.write { db in
            try db.execute(sql: "UPDATE sample SET instrument = ? WHERE instrument = ''", arguments: [instrument])
            try db.execute(sql: "UPDATE image SET instrument = ? WHERE instrument = ''", arguments: [instrument])
        }
    }

    /// An empty in-memory database (tests).
    public static func inMemory(instrument: String = "test-instrument") throws -> AntemaStore {
        try AntemaStore(writer: DatabaseQueue(), instrument: instrument)
    }

    // MARK: samples

    /// The sample of `folder`, created if new. A closed or reported sample is reopened when
    /// `reopen` is true (an image arrived after it closed).
    public func openSample(name: String, watchRoot: String, folder: String, at now: Date = Date(), reopen: Bool = true) throws -> SampleRecord {
        try openSample(name: name, watchRoot: watchRoot, folder: folder, identity: nil, at: now, reopen: reopen).sample
    }

    /// A folder's device and inode.
    public struct FolderIdentity: Sendable, Equatable {
        public var device: Int64
        public var inode: Int64
        public init(device: Int64, inode: Int64) { self.device = device; self.inode = inode }
    }

    /// The sample of `folder`, created if new, and the folder it was known by when the folder
    /// was renamed. With `identity`, a folder renamed while antema knew it keeps its sample:
    /// the sample whose folder had the same device and inode, and whose old path no longer
    /// exists (`folderExists`), takes the new folder and name, and its images' paths follow
    /// (recorded as an event). A closed or reported sample is reopened when `reopen` is true.
    /// `create`: false looks the sample up (following a rename) without creating one, and
    /// throws `StoreError.notFound` when there is none.
    public func openSample(name: String, watchRoot: String, folder: String, identity: FolderIdentity?, at now: Date = Date(), reopen: Bool = true,
                           create: Bool = true,
                           folderExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) throws -> (sample: SampleRecord, renamedFrom: String?) {
        try writer.write { db in
            func reopened(_ s: inout SampleRecord) {
                if reopen && (s.state == .closed || s.state == .reported) {
                    s.state = .open
                    s.closedAt = nil
                }
            }
            if var existing = try SampleRecord.filter(Column("folder") == folder).fetchOne(db) {
                reopened(&existing)
                if let identity { existing.folderDevice = identity.device; existing.folderInode = identity.inode }
                try existing.update(db)
                return (existing, nil)
            }
            if let identity, var moved = try SampleRecord.filter(Column("folder_device") == identity.device && Column("folder_inode") == identity.inode)
                .fetchAll(db).first(where: { !folderExists($0.folder) }) {
                let old = moved.folder
                moved.folder = folder
                moved.name = name
                moved.watchRoot = watchRoot
                reopened(&moved)
                try moved.update(db)
                try db.execute(sql: "UPDATE image SET path = ? || substr(path, ?) WHERE sample_id = ? AND substr(path, 1, ?) = ?",
                               arguments: [folder, old.utf8.count + 1, moved.id, old.utf8.count + 1, old + "/"])
                try db.execute(sql: "INSERT INTO daemon_event (at, level, message, sample_id) VALUES (?, 'info', ?, ?)",
                               arguments: [now, "sample folder \(old) renamed to \(folder): its images and report follow", moved.id])
                return (moved, old)
            }
            guard create else { throw StoreError.notFound("sample of folder \(folder)") }
            var s = SampleRecord(id: nil, name: name, watchRoot: watchRoot, folder: folder, state: .open, openedAt: now,
                                 lastImageAt: nil, closedAt: nil, reportedAt: nil, imageCount: 0, particleCount: 0, overlapFraction: nil,
                                 folderDevice: identity?.device, folderInode: identity?.inode, instrument: instrument)
            try s.insert(db)
            return (s, nil)
        }
    }

    /// After newer content was queued at `path`: every earlier image at that path (other
    /// content) is superseded by it. Its analyses stop being current, a queued one leaves the
    /// queue (recorded as skipped), and the samples' counts and summaries are recomputed.
    /// Returns how many images were superseded.
    @discardableResult
    public func supersede(path: String, byContent sha256: String, at now: Date = Date()) throws -> Int {
        try writer.write { db in
            guard let newest = try Int64.fetchOne(db, sql: "SELECT id FROM image WHERE path = ? AND content_sha256 = ? ORDER BY frame LIMIT 1",
                                                  arguments: [path, sha256]) else { return 0 }
            let old = try Row.fetchAll(db, sql: "SELECT id, sample_id FROM image WHERE path = ? AND content_sha256 != ? AND superseded_by IS NULL",
                                       arguments: [path, sha256])
            guard !old.isEmpty else { return 0 }
            let ids = old.map { $0["id"] as Int64 }
            for id in ids {
                try db.execute(sql: "UPDATE analysis SET is_current = 0 WHERE image_id = ? AND is_current = 1", arguments: [id])
                try db.execute(sql: """
                    UPDATE image SET superseded_by = ?,
                        state = CASE state WHEN 'queued' THEN 'skipped' ELSE state END,
                        error = CASE state WHEN 'queued' THEN 'replaced by newer content at the same path before it was analysed' ELSE error END,
                        finished_at = CASE state WHEN 'queued' THEN ? ELSE finished_at END
                    WHERE id = ?
                    """, arguments: [newest, now, id])
            }
            for sampleId in Set(old.map { $0["sample_id"] as Int64 }) {
                try Aggregates.refresh(db, sampleId: sampleId)
            }
            return ids.count
        }
    }

    /// The image that already holds this content (frame 0 or the lowest frame), with its sample's name.
    public func knownImage(contentSha256: String) throws -> (imageId: Int64, path: String, sample: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: """
                SELECT i.id, i.path, s.name FROM image i JOIN sample s ON s.id = i.sample_id
                WHERE i.content_sha256 = ? ORDER BY i.frame LIMIT 1
                """, arguments: [contentSha256]).map { ($0["id"], $0["path"], $0["name"]) }
        }
    }

    /// Records why a sample's report could not be written (it stays `closed` and is retried).
    public func recordReportFailure(sampleId: Int64, error: String) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE sample SET report_error = ? WHERE id = ?", arguments: [error, sampleId])
        }
    }

    /// Closed samples whose report is not written yet (after a failure, or a stop in between).
    public func samplesAwaitingReport() throws -> [SampleRecord] {
        try writer.read { db in try SampleRecord.filter(Column("state") == SampleRecord.State.closed.rawValue).fetchAll(db) }
    }

    public func setSampleState(_ id: Int64, _ state: SampleRecord.State, at now: Date = Date()) throws {
        try writer.write { db in
            guard var s = try SampleRecord.fetchOne(db, key: id) else { throw StoreError.notFound("sample \(id)") }
            s.state = state
            switch state {
            case .closed: s.closedAt = now
            case .reported: s.reportedAt = now; s.reportError = nil
            case .open: s.closedAt = nil
            case .closing: break
            }
            try s.update(db)
        }
    }

    // MARK: the queue

    /// Queues an image frame; `nil` when the same content (SHA-256 and frame) is already known,
    /// wherever it was seen.
    public func enqueue(_ image: ImageRecord) throws -> ImageRecord? {
        try writer.write { db in
            if try ImageRecord.filter(Column("content_sha256") == image.contentSha256 && Column("frame") == image.frame).fetchCount(db) > 0 {
                return nil
            }
            var record = image
            record.instrument = instrument
            try record.insert(db)
            try db.execute(sql: "UPDATE sample SET last_image_at = MAX(COALESCE(last_image_at, ''), ?) WHERE id = ?", arguments: [image.queuedAt, image.sampleId])
            return record
        }
    }

    /// Records a file that will not be analysed (`failed` or `skipped`, with the reason) in one
    /// transaction: it is never `queued`, so no worker can claim it in between. Returns nil when
    /// the same content and frame are already recorded.
    public func enqueueUnanalysable(_ image: ImageRecord, state: ImageRecord.State, error: String, at now: Date = Date()) throws -> ImageRecord? {
        precondition(state == .failed || state == .skipped)
        return try writer.write { db in
            if try ImageRecord.filter(Column("content_sha256") == image.contentSha256 && Column("frame") == image.frame).fetchCount(db) > 0 {
                return nil
            }
            var record = image
            record.instrument = instrument
            record.state = state
            record.error = error
            record.finishedAt = now
            try record.insert(db)
            try db.execute(sql: "UPDATE sample SET last_image_at = MAX(COALESCE(last_image_at, ''), ?) WHERE id = ?", arguments: [image.queuedAt, image.sampleId])
            try refreshAggregatesIfDue(db, sampleId: image.sampleId, excluding: record.id!)
            return record
        }
    }

    /// Takes the oldest queued image and marks it `processing`.
    public func claimNextQueued(at now: Date = Date()) throws -> ImageRecord? {
        try writer.write { db in
            guard var image = try ImageRecord.filter(Column("state") == ImageRecord.State.queued.rawValue && Column("superseded_by") == nil)
                .order(Column("queued_at"), Column("id")).fetchOne(db) else { return nil }
            image.state = .processing
            image.startedAt = now
            image.attempts += 1
            try image.update(db)
            return image
        }
    }

    /// Images left `processing` by a crash go back to the queue; returns how many.
    public func requeueInterrupted() throws -> Int {
        try writer.write { db in
            try db.execute(sql: "UPDATE image SET state = 'queued', started_at = NULL WHERE state = 'processing'")
            return db.changesCount
        }
    }

    /// One image left `processing` goes back to the queue (its result could not be stored);
    /// returns whether it did.
    @discardableResult
    public func requeue(imageId: Int64) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: "UPDATE image SET state = 'queued', started_at = NULL WHERE id = ? AND state = 'processing'", arguments: [imageId])
            return db.changesCount == 1
        }
    }

    /// Failed images (of one sample, or all) go back to the queue; returns how many.
    public func retryFailed(sampleId: Int64? = nil) throws -> Int {
        try writer.write { db in
            if let sampleId {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE state = 'failed' AND superseded_by IS NULL AND sample_id = ?", arguments: [sampleId])
            } else {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE state = 'failed' AND superseded_by IS NULL")
            }
            return db.changesCount
        }
    }

    /// Records why an image was not analysed (`failed` or `skipped`).
    public func recordProblem(imageId: Int64, state: ImageRecord.State, error: String, at now: Date = Date()) throws {
        precondition(state == .failed || state == .skipped)
        try writer.write { db in
            try db.execute(sql: "UPDATE image SET state = ?, error = ?, finished_at = ? WHERE id = ?",
                           arguments: [state.rawValue, error, now, imageId])
            // the sample's last waiting image may be this one: its summaries must not stay behind
            if let sampleId = try Int64.fetchOne(db, sql: "SELECT sample_id FROM image WHERE id = ?", arguments: [imageId]) {
                try refreshAggregatesIfDue(db, sampleId: sampleId, excluding: imageId)
            }
        }
    }

    /// Recomputes the sample's summaries when no other image of it waits, or when the last
    /// refresh is `aggregateRefreshIntervalSeconds` old; returns whether it did.
    @discardableResult
    func refreshAggregatesIfDue(_ db: Database, sampleId: Int64, excluding imageId: Int64) throws -> Bool {
        let waiting = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE sample_id = ? AND state IN ('queued', 'processing') AND id != ?",
                                       arguments: [sampleId, imageId]) ?? 0
        let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        let due = lastAggregateRefresh.withLock { $0[sampleId].map { now - $0 >= Self.aggregateRefreshIntervalSeconds } ?? true }
        guard waiting == 0 || due else { return false }
        try Aggregates.refresh(db, sampleId: sampleId)
        lastAggregateRefresh.withLock { $0[sampleId] = now }
        return true
    }

    /// One transaction: the analysis (made current, the previous one kept but no longer current),
    /// its particles, the image's facts and state, and the sample's counts and (when due, see
    /// `aggregateRefreshIntervalSeconds`) its distribution summaries.
    @discardableResult
    public func recordAnalysis(_ outcome: AnalysisOutcome, imageId: Int64, facts: ImageFacts?, at now: Date = Date()) throws -> Int64 {
        try writer.write { db in
            guard var image = try ImageRecord.fetchOne(db, key: imageId) else { throw StoreError.notFound("image \(imageId)") }
            // an image superseded while it was analysed keeps the analysis, never current
            let current = image.supersededBy == nil
            let wasDone = image.state == .done
            let previousParticles = try Int.fetchOne(db, sql: "SELECT particle_count FROM analysis WHERE image_id = ? AND is_current = 1", arguments: [imageId]) ?? 0
            try db.execute(sql: "UPDATE analysis SET is_current = 0 WHERE image_id = ? AND is_current = 1", arguments: [imageId])
            var analysis = AnalysisRecord(id: nil, imageId: imageId, isCurrent: current, segmenter: outcome.segmenter,
                                          modelName: outcome.modelName, modelVersion: outcome.modelVersion, modelSha256: outcome.modelSha256,
                                          parametersJson: outcome.parametersJson, softwareVersion: outcome.softwareVersion,
                                          segmentationSeconds: outcome.segmentationSeconds, analysisSeconds: outcome.analysisSeconds,
                                          totalSeconds: outcome.totalSeconds, particleCount: outcome.particles.count, createdAt: now,
                                          networkScale: outcome.networkScale, droppedUnsureCount: outcome.droppedUnsureCount,
                                          droppedDebrisCount: outcome.droppedDebrisCount)
            try analysis.insert(db)
            let analysisId = analysis.id!
            let insert = try db.cachedStatement(sql: Self.particleInsertSQL)
            for (i, m) in outcome.particles.enumerated() {
                try insert.execute(arguments: StatementArguments([analysisId, i + 1] as [any DatabaseValueConvertible])
                                   + StatementArguments(MeasurementCatalog.values(m).map(\.databaseValue)))
            }
            image.state = .done
            image.error = nil
            image.finishedAt = now
            if let f = facts {
                image.widthPx = f.widthPx
                image.heightPx = f.heightPx
                image.pixelSizeXNm = f.pixelSizeXNm
                image.pixelSizeYNm = f.pixelSizeYNm
                image.acquisitionDate = f.acquisitionDate
                image.acquisitionTime = f.acquisitionTime
                image.microscope = f.microscope
                image.voltageV = f.voltageV
                image.indicatedMagnification = f.indicatedMagnification
                image.exposureS = f.exposureS
            }
            try image.update(db)
            if !current { return analysisId }
            if try !refreshAggregatesIfDue(db, sampleId: image.sampleId, excluding: imageId) {
                // the counts at once, from what this commit changes (the summaries follow within the interval)
                try db.execute(sql: "UPDATE sample SET image_count = image_count + ?, particle_count = particle_count + ? WHERE id = ?",
                               arguments: [wasDone ? 0 : 1, outcome.particles.count - previousParticles, image.sampleId])
            }
            return analysisId
        }
    }

    // MARK: reading

    public func sample(named name: String) throws -> SampleRecord? {
        try writer.read { db in try SampleRecord.filter(Column("name") == name).order(Column("opened_at").desc).fetchOne(db) }
    }

    public func aggregates(sampleId: Int64) throws -> [AggregateRecord] {
        try writer.read { db in try AggregateRecord.filter(Column("sample_id") == sampleId).fetchAll(db) }
    }
}

extension AntemaStore {
    /// The particle INSERT, its columns from the measurement catalog.
    static let particleInsertSQL: String = {
        let columns = ["analysis_id", "particle_index"] + MeasurementCatalog.particleColumns.map(\.column)
        return "INSERT INTO particle (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
    }()

    /// The measurement of a row holding the catalog's columns.
    static func measurement(_ row: Row) throws -> ParticleMeasurement {
        try MeasurementCatalog.measurement { column in
            guard row.hasColumn(column) else { return nil }
            switch row[column] as DatabaseValue {
            case let v where v.isNull: return .missing
            case let v: switch v.storage {
                case .int64(let i): return .integer(Int(i))
                case .double(let d): return .real(d)
                default: return nil
                }
            }
        }
    }
}

extension ParticleValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .integer(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .flag(let v): v.databaseValue
        case .missing: .null
        }
    }
}

public enum StoreError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case permissionDenied(String)
    case refused(String)
    public var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .permissionDenied(let what): "permission denied: \(what)"
        case .refused(let why): why
        }
    }
}
