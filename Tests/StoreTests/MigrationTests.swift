import Foundation
import GRDB
import Pipeline
import Testing
@testable import Store

/// Database files of every shipped schema version, kept as fixtures; each must migrate to the
/// current schema with its data intact. `ANTEMA_WRITE_FIXTURES=1 swift test --filter Migration`
/// writes the fixture of the version a new migration is about to supersede.
@Suite struct Migrations {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func copyOf(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("antema-migration-\(UUID().uuidString).sqlite").path
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(name).path, toPath: path)
        return path
    }

    @Test("writes the v1 fixture when asked", .enabled(if: ProcessInfo.processInfo.environment["ANTEMA_WRITE_FIXTURES"] == "1"))
    func writeV1Fixture() throws {
        let path = Self.fixtures.appendingPathComponent("schema-v1.sqlite").path
        try? FileManager.default.removeItem(atPath: path)
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v1")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO sample (id, name, watch_root, folder, state, opened_at, image_count, particle_count) VALUES (1, 'Au-v1', '/w', '/w/Au-v1', 'closed', '2026-01-02 03:04:05.000', 1, 2);
                INSERT INTO image (id, sample_id, path, content_sha256, file_size_bytes, frame, state, queued_at) VALUES (1, 1, '/w/Au-v1/a.dm3', '\(String(repeating: "c", count: 64))', 10, 0, 'done', '2026-01-02 03:04:05.000');
                INSERT INTO analysis (id, image_id, segmenter, parameters_json, software_version, particle_count, created_at) VALUES (1, 1, 'classical', '{}', '0.1.0', 2, '2026-01-02 03:04:06.000');
                INSERT INTO particle (analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag)
                  VALUES (1, 1, 100, 3.14, 2.0, 6.3, 0.99, 1.9, 2.1, 1.1, 0.99, 0.97, 5, 5, 0, 0, 10, 10, 0, 0),
                         (1, 2, 100, 3.14, 2.0, 6.3, 0.99, 1.9, 2.1, 1.1, 0.99, 0.97, 25, 5, 20, 0, 10, 10, 1, 0);
                """)
        }
        try queue.close()
    }

    @Test("writes the v2 fixture when asked", .enabled(if: ProcessInfo.processInfo.environment["ANTEMA_WRITE_FIXTURES"] == "1"))
    func writeV2Fixture() throws {
        let path = Self.fixtures.appendingPathComponent("schema-v2.sqlite").path
        try? FileManager.default.removeItem(atPath: path)
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v2-daemon-status")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO sample (id, name, watch_root, folder, state, opened_at, image_count, particle_count) VALUES (1, 'Au-v2', '/w', '/w/Au-v2', 'reported', '2026-11-01 03:04:05.000', 1, 1);
                INSERT INTO image (id, sample_id, path, content_sha256, file_size_bytes, frame, state, queued_at) VALUES (1, 1, '/w/Au-v2/a.dm3', '\(String(repeating: "d", count: 64))', 10, 0, 'done', '2026-11-01 03:04:05.000');
                INSERT INTO image (id, sample_id, path, content_sha256, file_size_bytes, frame, state, error, queued_at) VALUES (2, 1, '/w/Au-v2/b.dm3', '\(String(repeating: "e", count: 64))', 10, 0, 'failed', 'not DM', '2026-11-01 03:04:05.000');
                INSERT INTO analysis (id, image_id, segmenter, parameters_json, software_version, particle_count, created_at) VALUES (1, 1, 'model', '{}', '0.1.0', 1, '2026-11-01 03:04:06.000');
                INSERT INTO particle (analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag)
                  VALUES (1, 1, 100, 3.14, 2.0, 6.3, 0.99, 1.9, 2.1, 1.1, 0.99, 0.97, 5, 5, 0, 0, 10, 10, 0, 0);
                INSERT INTO daemon_status (id, pid, version, started_at, heartbeat_at, stopped_at, activity) VALUES (1, 42, '0.1.0', '2026-11-01 03:00:00.000', '2026-11-01 04:00:00.000', '2026-11-01 04:00:00.000', 'stopped');
                """)
        }
        try queue.close()
    }

    @Test("a v2 database (fixture) migrates to the current schema with its data intact; nothing in it is superseded")
    func fromV2() throws {
        let path = try Self.copyOf("schema-v2.sqlite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try AntemaStore(path: path)
        try store.writer.read { (db: Database) throws in
            #expect(try Schema.migrator.appliedMigrations(db) == ["v1", "v2-daemon-status", "v3-identity", "v4-particle-confidence", "v5-facility"])
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle") == 1)
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM image WHERE superseded_by IS NULL") == 2)
            #expect(try String.fetchOne(db, sql: "SELECT report_error FROM sample") == nil)
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
        }
        #expect(try store.retryFailed() == 1)
    }

    @Test("the particle table has exactly the catalog's columns (besides its keys): a measurement without a column, or a column without a measurement, fails here")
    func catalogMatchesTheParticleTable() throws {
        let store = try AntemaStore.inMemory()
        let columns = try store.writer.read { db in try db.columns(in: "particle").map(\.name) }
        let keys: Set<String> = ["id", "analysis_id", "particle_index"]
        #expect(Set(columns).subtracting(keys) == Set(MeasurementCatalog.particleColumns.map(\.column)))
        #expect(Set(MeasurementCatalog.summarised.map(\.column)).isSubset(of: Set(columns)))
    }

    @Test("particles stored and read back for a report are the particles measured (every catalog column, confidence or none)")
    func particlesRoundTripThroughTheStore() throws {
        let store = try AntemaStore.inMemory()
        let sample = try store.openSample(name: "S", watchRoot: "/w", folder: "/w/S")
        let image = try #require(try store.enqueue(ImageRecord(sampleId: sample.id!, path: "/w/S/a.dm3", contentSha256: String(repeating: "a", count: 64),
                                                              fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        var a = ParticleMeasurement(areaPx: 37, areaNm2: 1.25, equivalentDiameterNm: 1.2616, perimeterNm: 4.1, circularity: 0.93, feretMinNm: 1.1,
                                    feretMaxNm: 1.4, aspectRatio: 1.2727, convexity: 0.97, solidity: 0.95, centroidXPx: 12.5, centroidYPx: 40.25,
                                    box: BoundingBox(minRow: 37, minCol: 9, maxRow: 43, maxCol: 16), separated: true, overlapFlag: false, confidence: 0.81)
        var b = a
        b.confidence = nil; b.separated = false; b.overlapFlag = true; b.areaPx = 40
        a.centroidXPx = 3.75
        try store.recordAnalysis(AnalysisOutcome(segmenter: "test", parametersJson: "{}", softwareVersion: "t", particles: [a, b]), imageId: image.id!, facts: nil)
        let read = try store.contents(sampleId: sample.id!).particles
        #expect(read.map(\.measurement) == [a, b])
        #expect(read.map(\.index) == [1, 2] && read.allSatisfy { $0.imagePath == "/w/S/a.dm3" && $0.frame == 0 })
    }

    @Test("a v1 database (fixture) migrates to the current schema with its data intact")
    func fromV1() throws {
        let path = try Self.copyOf("schema-v1.sqlite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try AntemaStore(path: path)
        try store.writer.read { (db: Database) throws in
            #expect(try Schema.migrator.appliedMigrations(db) == ["v1", "v2-daemon-status", "v3-identity", "v4-particle-confidence", "v5-facility"])
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle") == 2)
            #expect(try String.fetchOne(db, sql: "SELECT name FROM sample") == "Au-v1")
            #expect(try db.tableExists("daemon_status"))
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
        }
    }
}
