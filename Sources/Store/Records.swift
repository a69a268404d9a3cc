import Foundation
import GRDB

/// Columns are snake_case in SQL and camelCase in Swift; GRDB converts.
protocol SnakeCaseRecord: Codable, FetchableRecord, MutablePersistableRecord {}
extension SnakeCaseRecord {
    public static var databaseColumnDecodingStrategy: DatabaseColumnDecodingStrategy { .convertFromSnakeCase }
    public static var databaseColumnEncodingStrategy: DatabaseColumnEncodingStrategy { .convertToSnakeCase }
}

/// A sample session: the micrographs of one folder (by default a first-level folder of a watch root).
public struct SampleRecord: SnakeCaseRecord, Sendable, Equatable {
    public static let databaseTableName = "sample"
    public enum State: String, Codable, Sendable, DatabaseValueConvertible { case open, closing, closed, reported }

    public var id: Int64?
    public var name: String
    public var watchRoot: String
    public var folder: String
    public var state: State
    public var openedAt: Date
    public var lastImageAt: Date?
    public var closedAt: Date?
    public var reportedAt: Date?
    /// Images analysed (state `done`).
    public var imageCount: Int
    /// Particles of the current analyses.
    public var particleCount: Int
    /// Fraction of those particles that came out of separation or were flagged as overlaps.
    public var overlapFraction: Double?
    /// The folder's device and inode when it was last seen (a renamed folder keeps its sample).
    public var folderDevice: Int64? = nil
    public var folderInode: Int64? = nil
    /// Why the last attempt to write the report failed (cleared when it is written).
    public var reportError: String? = nil
    /// The instrument whose antemad saw the folder (`instrument.name`).
    public var instrument: String = ""

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One micrograph frame seen by antema, and its place in the processing queue.
public struct ImageRecord: SnakeCaseRecord, Sendable, Equatable {
    public static let databaseTableName = "image"
    public enum State: String, Codable, Sendable, DatabaseValueConvertible { case queued, processing, done, failed, skipped }

    public var id: Int64?
    public var sampleId: Int64
    public var path: String
    public var contentSha256: String
    public var fileSizeBytes: Int64
    public var frame: Int
    public var state: State
    public var error: String?
    public var attempts: Int
    public var widthPx: Int?
    public var heightPx: Int?
    public var pixelSizeXNm: Double?
    public var pixelSizeYNm: Double?
    public var acquisitionDate: String?
    public var acquisitionTime: String?
    public var microscope: String?
    public var voltageV: Double?
    public var indicatedMagnification: Double?
    public var exposureS: Double?
    public var queuedAt: Date
    public var startedAt: Date?
    /// The image that replaced this one: newer content at the same path. A superseded image
    /// keeps its rows but counts nowhere (no current analysis, not retried, not reported).
    public var supersededBy: Int64? = nil
    public var finishedAt: Date?
    /// The instrument whose antemad saw the file (set by the store).
    public var instrument: String = ""

    public init(sampleId: Int64, path: String, contentSha256: String, fileSizeBytes: Int64, frame: Int, queuedAt: Date) {
        self.sampleId = sampleId
        self.path = path
        self.contentSha256 = contentSha256
        self.fileSizeBytes = fileSizeBytes
        self.frame = frame
        self.state = .queued
        self.attempts = 0
        self.queuedAt = queuedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One run of the pipeline on an image.
public struct AnalysisRecord: SnakeCaseRecord, Sendable, Equatable {
    public static let databaseTableName = "analysis"
    public var id: Int64?
    public var imageId: Int64
    public var isCurrent: Bool
    public var segmenter: String
    public var modelName: String?
    public var modelVersion: String?
    public var modelSha256: String?
    public var parametersJson: String
    public var softwareVersion: String
    public var segmentationSeconds: Double?
    public var analysisSeconds: Double?
    public var totalSeconds: Double?
    public var particleCount: Int
    public var createdAt: Date
    /// See the v7-network-scale migration.
    public var networkScale: Double? = nil
    /// See the v8-dropped-counts migration.
    public var droppedUnsureCount: Int? = nil
    public var droppedDebrisCount: Int? = nil

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Statistics of one measurement over a sample's current particles.
public struct AggregateRecord: SnakeCaseRecord, Sendable, Equatable {
    public static let databaseTableName = "sample_aggregate"
    public var sampleId: Int64
    public var measurement: String
    public var n: Int
    public var mean: Double?
    public var sd: Double?
    public var min: Double?
    public var p10: Double?
    public var median: Double?
    public var p90: Double?
    public var max: Double?
}
