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

    @Test("writes the v5 fixture when asked", .enabled(if: ProcessInfo.processInfo.environment["ANTEMA_WRITE_FIXTURES"] == "1"))
    func writeV5Fixture() throws {
        let path = Self.fixtures.appendingPathComponent("schema-v5.sqlite").path
        try? FileManager.default.removeItem(atPath: path)
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v5-facility")
        try queue.write { db in
            // two particles of an image of 0.2 nm pixels, one without a confidence
            try db.execute(sql: """
                INSERT INTO sample (id, name, watch_root, folder, state, opened_at, image_count, particle_count, instrument) VALUES (1, 'Au-v5', '/w', '/w/Au-v5', 'reported', '2026-11-20 03:04:05.000', 1, 2, 'tem1');
                INSERT INTO image (id, sample_id, path, content_sha256, file_size_bytes, frame, state, pixel_size_x_nm, pixel_size_y_nm, queued_at, instrument) VALUES (1, 1, '/w/Au-v5/a.dm3', '\(String(repeating: "f", count: 64))', 10, 0, 'done', 0.2, 0.2, '2026-11-20 03:04:05.000', 'tem1');
                INSERT INTO analysis (id, image_id, segmenter, parameters_json, software_version, particle_count, created_at) VALUES (1, 1, 'model', '{}', '0.1.0', 2, '2026-11-20 03:04:06.000');
                INSERT INTO particle (analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag, confidence)
                  VALUES (1, 1, 100, 4.0, 2.2568, 7.6, 0.87, 2.0, 2.8, 1.4, 0.99, 0.97, 5, 5, 0, 0, 10, 10, 0, 0, 0.9),
                         (1, 2, 100, 4.0, 2.2568, 7.6, 0.87, 2.0, 2.8, 1.4, 0.99, 0.97, 25, 5, 20, 0, 10, 10, 1, 0, NULL);
                """)
        }
        try queue.close()
    }

    @Test("a v5 database (fixture) migrates to the current schema: its particles keep their nm values and get their lengths in pixels (nm over the pixel side)")
    func fromV5() throws {
        let path = try Self.copyOf("schema-v5.sqlite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try AntemaStore(path: path)
        let particles = try store.contents(sampleId: 1).particles.map(\.measurement)
        #expect(particles.count == 2)
        for m in particles {
            #expect(m.areaNm2 == 4.0 && m.equivalentDiameterNm == 2.2568 && m.perimeterNm == 7.6 && m.feretMinNm == 2.0 && m.feretMaxNm == 2.8)
            // 100 px of 4 nm²: a pixel side of 0.2 nm
            #expect(abs(m.equivalentDiameterPx - (400 / Double.pi).squareRoot()) < 1e-12)
            #expect(abs(m.perimeterPx - 38) < 1e-9 && abs(m.feretMinPx - 10) < 1e-9 && abs(m.feretMaxPx - 14) < 1e-9)
        }
        #expect(particles.map(\.confidence) == [0.9, nil])
        try store.writer.read { (db: Database) throws in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle WHERE instrument = 'tem1'") == 2)
        }
    }

    @Test("a particle's nm values are all there or all missing (a NULL in one of them alone is refused)")
    func nmValuesAllOrNone() throws {
        let store = try AntemaStore.inMemory()
        try store.writer.write { db in
            try db.execute(sql: """
                INSERT INTO sample (id, name, watch_root, folder, opened_at) VALUES (1, 'S', '/w', '/w/S', '2026-11-30 00:00:00.000');
                INSERT INTO image (id, sample_id, path, content_sha256, file_size_bytes, queued_at) VALUES (1, 1, '/w/S/a.dm3', '\(String(repeating: "a", count: 64))', 1, '2026-11-30 00:00:00.000');
                INSERT INTO analysis (id, image_id, segmenter, parameters_json, software_version, particle_count, created_at) VALUES (1, 1, 't', '{}', 't', 1, '2026-11-30 00:00:00.000');
                """)
        }
        #expect(throws: DatabaseError.self) {
            try store.writer.write { db in
                try db.execute(sql: """
                    INSERT INTO particle (analysis_id, particle_index, area_px, equivalent_diameter_px, perimeter_px, feret_min_px, feret_max_px, area_nm2,
                        equivalent_diameter_nm, perimeter_nm, circularity, feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px,
                        centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px, bbox_height_px, separated, overlap_flag)
                    VALUES (1, 1, 100, 11.3, 38, 10, 14, 4.0, NULL, 7.6, 0.87, 2.0, 2.8, 1.4, 0.99, 0.97, 5, 5, 0, 0, 10, 10, 0, 0)
                    """)
            }
        }
    }

    @Test("a v2 database (fixture) migrates to the current schema with its data intact; nothing in it is superseded")
    func fromV2() throws {
        let path = try Self.copyOf("schema-v2.sqlite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try AntemaStore(path: path)
        try store.writer.read { (db: Database) throws in
            #expect(try Schema.migrator.appliedMigrations(db) == ["v1", "v2-daemon-status", "v3-identity", "v4-particle-confidence", "v5-facility", "v6-pixel-lengths", "v7-network-scale", "v8-dropped-counts"])
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

    @Test("particles stored and read back for a report are the particles measured (every catalog column, confidence or none), with the network's scale of their image and the counts it dropped")
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
        // measured in pixels only (an image without a calibration)
        var c = b
        c.areaNm2 = nil; c.equivalentDiameterNm = nil; c.perimeterNm = nil; c.feretMinNm = nil; c.feretMaxNm = nil
        try store.recordAnalysis(AnalysisOutcome(segmenter: "test", parametersJson: "{}", softwareVersion: "t", particles: [a, b, c], networkScale: 0.64,
                                                 droppedUnsureCount: 3, droppedDebrisCount: 5),
                                 imageId: image.id!, facts: nil)
        #expect(try store.contents(sampleId: sample.id!).images.map(\.networkScale) == [0.64])
        #expect(try store.contents(sampleId: sample.id!).images.map { [$0.droppedUnsureCount, $0.droppedDebrisCount] } == [[3, 5]])
        let read = try store.contents(sampleId: sample.id!).particles
        #expect(read.map(\.measurement) == [a, b, c])
        #expect(!read[2].measurement.isCalibrated)
        #expect(read.map(\.index) == [1, 2, 3] && read.allSatisfy { $0.imagePath == "/w/S/a.dm3" && $0.frame == 0 })
    }

    @Test("a v1 database (fixture) migrates to the current schema with its data intact")
    func fromV1() throws {
        let path = try Self.copyOf("schema-v1.sqlite")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try AntemaStore(path: path)
        try store.writer.read { (db: Database) throws in
            #expect(try Schema.migrator.appliedMigrations(db) == ["v1", "v2-daemon-status", "v3-identity", "v4-particle-confidence", "v5-facility", "v6-pixel-lengths", "v7-network-scale", "v8-dropped-counts"])
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle") == 2)
            #expect(try String.fetchOne(db, sql: "SELECT name FROM sample") == "Au-v1")
            #expect(try db.tableExists("daemon_status"))
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
        }
    }
}
