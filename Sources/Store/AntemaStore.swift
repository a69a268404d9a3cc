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
    public var particles: [ParticleMeasurement]

    public init(segmenter: String, parametersJson: String, softwareVersion: String, particles: [ParticleMeasurement],
                modelName: String? = nil, modelVersion: String? = nil, modelSha256: String? = nil,
                segmentationSeconds: Double? = nil, analysisSeconds: Double? = nil, totalSeconds: Double? = nil) {
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
    public var pixelSizeXNm: Double
    public var pixelSizeYNm: Double
    public var acquisitionDate: String?
    public var acquisitionTime: String?
    public var microscope: String?
    public var voltageV: Double?
    public var indicatedMagnification: Double?
    public var exposureS: Double?

    public init(widthPx: Int, heightPx: Int, pixelSizeXNm: Double, pixelSizeYNm: Double) {
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
    public let writer: any DatabaseWriter

    /// While more images of a sample wait in the queue, its distribution summaries
    /// (`sample_aggregate`, `overlap_fraction`) are recomputed at most this often; its image and
    /// particle counts change with every commit, and the summaries are exact again as soon as
    /// no image of the sample waits. Recomputing them reads every particle of the sample, so
    /// doing it on each commit made a burst of N images cost O(N^2) (1,000 images: +10 %).
    public static let aggregateRefreshIntervalSeconds = 10.0
    /// Monotonic seconds of each sample's last full refresh, in this process.
    let lastAggregateRefresh = Mutex<[Int64: Double]>([:])

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public convenience init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        try self.init(writer: DatabasePool(path: path, configuration: config))
    }

    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Schema.migrator.migrate(writer)
    }

    /// An empty in-memory database (tests).
    public static func inMemory() throws -> AntemaStore {
        try AntemaStore(writer: DatabaseQueue())
    }

    // MARK: samples

    /// The sample of `folder`, created if new. A closed or reported sample is reopened when
    /// `reopen` is true (an image arrived after it closed).
    public func openSample(name: String, watchRoot: String, folder: String, at now: Date = Date(), reopen: Bool = true) throws -> SampleRecord {
        try writer.write { db in
            if var existing = try SampleRecord.filter(Column("folder") == folder).fetchOne(db) {
                if reopen && (existing.state == .closed || existing.state == .reported) {
                    existing.state = .open
                    existing.closedAt = nil
                    try existing.update(db)
                }
                return existing
            }
            var s = SampleRecord(id: nil, name: name, watchRoot: watchRoot, folder: folder, state: .open, openedAt: now,
                                 lastImageAt: nil, closedAt: nil, reportedAt: nil, imageCount: 0, particleCount: 0, overlapFraction: nil)
            try s.insert(db)
            return s
        }
    }

    public func setSampleState(_ id: Int64, _ state: SampleRecord.State, at now: Date = Date()) throws {
        try writer.write { db in
            guard var s = try SampleRecord.fetchOne(db, key: id) else { throw StoreError.notFound("sample \(id)") }
            s.state = state
            switch state {
            case .closed: s.closedAt = now
            case .reported: s.reportedAt = now
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
            try record.insert(db)
            try db.execute(sql: "UPDATE sample SET last_image_at = MAX(COALESCE(last_image_at, ''), ?) WHERE id = ?", arguments: [image.queuedAt, image.sampleId])
            return record
        }
    }

    /// Takes the oldest queued image and marks it `processing`.
    public func claimNextQueued(at now: Date = Date()) throws -> ImageRecord? {
        try writer.write { db in
            guard var image = try ImageRecord.filter(Column("state") == ImageRecord.State.queued.rawValue)
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

    /// Failed images (of one sample, or all) go back to the queue; returns how many.
    public func retryFailed(sampleId: Int64? = nil) throws -> Int {
        try writer.write { db in
            if let sampleId {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE state = 'failed' AND sample_id = ?", arguments: [sampleId])
            } else {
                try db.execute(sql: "UPDATE image SET state = 'queued', error = NULL WHERE state = 'failed'")
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
            let wasDone = image.state == .done
            let previousParticles = try Int.fetchOne(db, sql: "SELECT particle_count FROM analysis WHERE image_id = ? AND is_current = 1", arguments: [imageId]) ?? 0
            try db.execute(sql: "UPDATE analysis SET is_current = 0 WHERE image_id = ? AND is_current = 1", arguments: [imageId])
            var analysis = AnalysisRecord(id: nil, imageId: imageId, isCurrent: true, segmenter: outcome.segmenter,
                                          modelName: outcome.modelName, modelVersion: outcome.modelVersion, modelSha256: outcome.modelSha256,
                                          parametersJson: outcome.parametersJson, softwareVersion: outcome.softwareVersion,
                                          segmentationSeconds: outcome.segmentationSeconds, analysisSeconds: outcome.analysisSeconds,
                                          totalSeconds: outcome.totalSeconds, particleCount: outcome.particles.count, createdAt: now)
            try analysis.insert(db)
            let analysisId = analysis.id!
            let insert = try db.cachedStatement(sql: """
                INSERT INTO particle (analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm,
                    circularity, feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px,
                    bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for (i, m) in outcome.particles.enumerated() {
                try insert.execute(arguments: [analysisId, i + 1, m.areaPx, m.areaNm2, m.equivalentDiameterNm, m.perimeterNm,
                                               m.circularity, m.feretMinNm, m.feretMaxNm, m.aspectRatio, m.convexity, m.solidity,
                                               m.centroidXPx, m.centroidYPx, m.box.minCol, m.box.minRow, m.box.width, m.box.height,
                                               m.separated, m.overlapFlag])
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

public enum StoreError: Error, CustomStringConvertible, Sendable {
    case notFound(String)
    case refused(String)
    public var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .refused(let why): why
        }
    }
}
