import Facility
import Foundation
import Logging
import Pipeline
import Store
import Testing

/// The shipper against a real PostgreSQL server (PostgresServer), below the daemon: what arrives,
/// idempotency, the server going away, refusals. The daemons end to end: FacilityEndToEndTests.
@Suite("Facility shipping", .serialized)
struct FacilityShippingTests {
    static func particle(_ d: Double, confidence: Double? = nil) -> ParticleMeasurement {
        let area = Double.pi / 4 * d * d
        return ParticleMeasurement(areaPx: Int(area * 100) + 1, areaNm2: area, equivalentDiameterNm: d, perimeterNm: Double.pi * d,
                                   circularity: 1, feretMinNm: d, feretMaxNm: d * 1.1, aspectRatio: 1.1, convexity: 1, solidity: 1,
                                   centroidXPx: 10.25, centroidYPx: 10.5, box: BoundingBox(minRow: 1, minCol: 2, maxRow: 5, maxCol: 6),
                                   separated: false, overlapFlag: d > 5, confidence: confidence)
    }

    /// A local store with `images` analysed images of `particles` particles each, in sample `sample`.
    static func analysed(_ store: AntemaStore, sample: String = "S1", images: Int, particles: Int, seed: Int = 0) throws {
        let s = try store.openSample(name: sample, watchRoot: "/w", folder: "/w/\(sample)")
        for k in 0..<images {
            let hash = String(format: "%064x", seed * 100_000 + k + 1)
            let image = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/\(sample)/\(k).dm3", contentSha256: hash, fileSizeBytes: 100, frame: 0, queuedAt: Date())))
            _ = try store.claimNextQueued()
            let ds = (0..<particles).map { 2 + Double(($0 * 7 + k) % 50) / 10 }
            try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: "{\"k\":\(k)}", softwareVersion: "test",
                                                     particles: ds.enumerated().map { particle($0.element, confidence: $0.offset % 2 == 0 ? 0.9 : nil) }),
                                     imageId: image.id!, facts: ImageFacts(widthPx: 64, heightPx: 64, pixelSizeXNm: 0.5, pixelSizeYNm: 0.5))
        }
    }

    static func logger() -> Logger { Logger(label: "test") }

    /// A fresh server and the daemons' target on it; nil (said) where no server can be started.
    static func server() throws -> (PostgresServer, PostgresTarget)? {
        if let why = PostgresServer.unavailable { print("skipped: \(why)"); return nil }
        let server = try PostgresServer()
        do { return (server, try PostgresTarget.parse(server.url(), passwordFile: try server.passwordFile())) } catch { server.shutdown(); throw error }
    }

    /// A local store of `instrument` that records for the server, with `images` analysed images.
    static func shippingStore(_ instrument: String, _ target: PostgresTarget, sample: String = "S1", images: Int, particles: Int, seed: Int = 0) throws -> AntemaStore {
        let store = try AntemaStore.inMemory(instrument: instrument)
        try store.enableShipping(target: target.description)
        try analysed(store, sample: sample, images: images, particles: particles, seed: seed)
        return store
    }

    static func ship(_ store: AntemaStore, _ target: PostgresTarget) async throws {
        _ = try await Shipper(store: store, target: target, softwareVersion: "test", logger: logger()).shipPending()
    }

    @Test("every image, its analysis and its particles arrive with the values measured; shipping again (a lost acknowledgement) duplicates nothing")
    func shipsExactlyAndIdempotently() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        let store = try AntemaStore.inMemory(instrument: "TEM-1")
        #expect(try store.enableShipping(target: target.description) == 0)
        try Self.analysed(store, images: 3, particles: 40)
        let shipper = Shipper(store: store, target: target, softwareVersion: "test", logger: Self.logger())
        let round = try await shipper.shipPending()
        #expect(round.shipped >= 3 && round.refused == 0)
        #expect(try store.pendingShipments(limit: 100).isEmpty)
        #expect(try server.scalar("SELECT COUNT(*) FROM particle WHERE instrument = 'TEM-1'") == "120")
        #expect(try server.scalar("SELECT COUNT(*) FROM current_particle") == "120")
        // the values as measured: a particle's diameter, its missing confidence, the flags
        var sum = 0.0
        for k in 0..<3 { for i in 0..<40 { sum += 2 + Double((i * 7 + k) % 50) / 10 } }
        #expect(try server.scalar("SELECT round(SUM(equivalent_diameter_nm)::numeric, 6) FROM particle") == String(format: "%.6f", sum))
        #expect(try server.scalar("SELECT COUNT(*) FROM particle WHERE confidence IS NULL") == "60")
        #expect(try server.scalar("SELECT image_count || ' ' || particle_count || ' ' || instrument FROM sample") == "3 120 TEM-1")
        #expect(try server.scalar("SELECT n FROM sample_statistics WHERE measurement = 'equivalent_diameter_nm'") == "120")
        #expect(try server.scalar("SELECT COUNT(*) FROM image WHERE state = 'done' AND pixel_size_x_nm = 0.5 AND finished_at IS NOT NULL") == "3")
        // a retry after a lost acknowledgement: everything shipped again
        #expect(try store.enableShipping(target: "another description of the same server") == 4)
        _ = try await shipper.shipPending()
        #expect(try server.scalar("SELECT COUNT(*) FROM particle") == "120")
        #expect(try server.scalar("SELECT COUNT(*) FROM image") == "3")
        #expect(try server.scalar("SELECT COUNT(*) FROM analysis") == "3")
        #expect(try server.scalar("SELECT COUNT(*) FROM antema_schema_migration") == String(FacilitySchema.migrations.count))
    }

    @Test("a facility database of schema v1 with particles migrates when a daemon connects: its particles get their lengths in pixels; a particle of an image without a calibration arrives with its px values and no nm values")
    func schemaV1MigratesToPixelLengths() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        // the v1 schema as a daemon of that version made it (owned by the daemons' role), with one particle
        let hash = String(repeating: "a", count: 64)
        _ = try server.psql("""
            SET ROLE \(PostgresServer.writer);
            CREATE TABLE antema_schema_migration (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
            \(FacilitySchema.migrations[0].sql);
            INSERT INTO antema_schema_migration (version) VALUES ('v1');
            INSERT INTO instrument (name, software_version) VALUES ('TEM-0', 'old');
            INSERT INTO sample (instrument, id, name, watch_root, folder, opened_at) VALUES ('TEM-0', 1, 'S0', '/w', '/w/S0', now());
            INSERT INTO image (instrument, id, sample_id, path, content_sha256, file_size_bytes, state, pixel_size_x_nm, pixel_size_y_nm, queued_at)
                VALUES ('TEM-0', 1, 1, '/w/S0/a.dm3', '\(hash)', 10, 'done', 0.2, 0.2, now());
            INSERT INTO analysis (instrument, id, image_id, segmenter, parameters_json, software_version, particle_count, created_at)
                VALUES ('TEM-0', 1, 1, 'classical', '{}', 'old', 1, now());
            INSERT INTO particle (instrument, id, analysis_id, particle_index, area_px, area_nm2, equivalent_diameter_nm, perimeter_nm, circularity,
                feret_min_nm, feret_max_nm, aspect_ratio, convexity, solidity, centroid_x_px, centroid_y_px, bbox_x_px, bbox_y_px, bbox_width_px,
                bbox_height_px, separated, overlap_flag) VALUES ('TEM-0', 1, 1, 1, 100, 4.0, 2.2568, 7.6, 0.87, 2.0, 2.8, 1.4, 0.99, 0.97, 5, 5, 0, 0, 10, 10, 0, 0)
            """)
        // a daemon of this version with an image without a calibration
        let store = try AntemaStore.inMemory(instrument: "TEM-1")
        try store.enableShipping(target: target.description)
        let s = try store.openSample(name: "S1", watchRoot: "/w", folder: "/w/S1")
        let image = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/S1/u.png", contentSha256: String(repeating: "b", count: 64),
                                                              fileSizeBytes: 100, frame: 0, queuedAt: Date())))
        _ = try store.claimNextQueued()
        var m = Self.particle(3)
        m.areaNm2 = nil; m.equivalentDiameterNm = nil; m.perimeterNm = nil; m.feretMinNm = nil; m.feretMaxNm = nil
        try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: "{}", softwareVersion: "test", particles: [m, m]),
                                 imageId: image.id!, facts: ImageFacts(widthPx: 64, heightPx: 64, pixelSizeXNm: nil, pixelSizeYNm: nil))
        try await Self.ship(store, target)
        #expect(try server.scalar("SELECT string_agg(version, ',' ORDER BY version) FROM antema_schema_migration") == "v1,v2-pixel-lengths,v3-network-scale,v4-dropped-counts")
        #expect(try server.scalar("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'analysis' AND column_name = 'network_scale'") == "1")
        #expect(try server.scalar("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'analysis' AND column_name LIKE 'dropped_%_count'") == "2")
        // 100 px of 4 nm²: a pixel side of 0.2 nm
        #expect(try server.scalar("""
            SELECT round(equivalent_diameter_px::numeric, 4) || ' ' || round(perimeter_px::numeric, 6) || ' ' || round(feret_min_px::numeric, 6) || ' '
                   || round(feret_max_px::numeric, 6) || ' ' || area_nm2 FROM particle WHERE instrument = 'TEM-0'
            """) == "11.2838 38.000000 10.000000 14.000000 4")
        #expect(try server.scalar("SELECT COUNT(*) FROM current_particle WHERE instrument = 'TEM-1' AND area_nm2 IS NULL AND equivalent_diameter_nm IS NULL AND feret_max_px > 0") == "2")
        #expect(try server.scalar("SELECT pixel_size_x_nm IS NULL FROM image WHERE instrument = 'TEM-1'") == "t")
        #expect(try server.scalar("SELECT n FROM sample_statistics WHERE instrument = 'TEM-1' AND measurement = 'equivalent_diameter_nm'") == "0")
        #expect(try server.scalar("SELECT n FROM sample_statistics WHERE instrument = 'TEM-1' AND measurement = 'equivalent_diameter_px'") == "2")
    }

    @Test("a re-analysis replaces the image's particles at the server; the same folder on two instruments is two samples")
    func reanalysisAndInstruments() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        let a = try AntemaStore.inMemory(instrument: "TEM-A"), b = try AntemaStore.inMemory(instrument: "STEM-B")
        for (k, store) in [a, b].enumerated() {
            try store.enableShipping(target: target.description)
            try Self.analysed(store, images: 2, particles: 10 + k, seed: k)
            _ = try await Shipper(store: store, target: target, softwareVersion: "test", logger: Self.logger()).shipPending()
        }
        #expect(try server.scalar("SELECT string_agg(instrument || ':' || name || ':' || particle_count, ',' ORDER BY instrument) FROM sample")
                == "STEM-B:S1:22,TEM-A:S1:20")
        // a new analysis of one image of A with 3 particles
        let image = try #require(try a.image(id: 1))
        try a.recordAnalysis(AnalysisOutcome(segmenter: "model", parametersJson: "{}", softwareVersion: "test", particles: [2, 3, 4].map { Self.particle($0) }),
                             imageId: image.id!, facts: nil)
        _ = try await Shipper(store: a, target: target, softwareVersion: "test", logger: Self.logger()).shipPending()
        #expect(try server.scalar("SELECT COUNT(*) FROM current_particle WHERE instrument = 'TEM-A'") == "13")
        #expect(try server.scalar("SELECT particle_count FROM sample WHERE instrument = 'TEM-A'") == "13")
        #expect(try server.scalar("SELECT COUNT(*) FROM analysis WHERE instrument = 'TEM-A'") == "2")
    }

    @Test("with the server down nothing is lost: the shipper says it cannot reach it, the outbox keeps everything, and all of it arrives once the server is back")
    func serverDownAndBack() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        let store = try AntemaStore.inMemory(instrument: "TEM-1")
        try store.enableShipping(target: target.description)
        try Self.analysed(store, images: 1, particles: 5)
        let shipper = Shipper(store: store, target: target, softwareVersion: "test", logger: Self.logger())
        _ = try await shipper.shipPending()
        try server.stop()
        try Self.analysed(store, sample: "S2", images: 4, particles: 5, seed: 9)
        await #expect(throws: FacilityError.self) { try await shipper.shipPending() }
        let waiting = try #require(try store.shippingStatus())
        #expect(waiting.pendingImages == 4 && waiting.oldestPending != nil)
        try server.start()
        _ = try await shipper.shipPending()
        #expect(try store.shippingStatus()?.pendingImages == 0)
        #expect(try server.scalar("SELECT COUNT(*) FROM particle") == "25")
        #expect(try server.scalar("SELECT COUNT(*) FROM sample") == "2")
    }

    /// The SQL blocks of docs/database.md's PostgreSQL questions.
    static func documentedFacilityQueries() throws -> [String] {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/database.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        guard let start = text.range(of: "**The ten questions on PostgreSQL.**"), let end = text.range(of: "## Schema versions") else { return [] }
        let section = text[start.upperBound..<end.lowerBound]
        return section.components(separatedBy: "```sql").dropFirst().compactMap { $0.components(separatedBy: "```").first }
            .map { $0.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") }
    }

    @Test("the PostgreSQL versions of the ten questions in docs/database.md run as the read-only role")
    func documentedQueriesRun() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        let store = try Self.shippingStore("TEM-1", target, sample: "Au-batch-7", images: 2, particles: 10)
        try await Self.ship(store, target)
        let queries = try Self.documentedFacilityQueries()
        #expect(queries.count >= 8)
        let reader = FacilityReader(target: try PostgresTarget.parse(server.url(user: PostgresServer.reader), passwordFile: try server.passwordFile(for: PostgresServer.reader)))
        for sql in queries {
            await #expect(throws: Never.self, "\(sql)") { try await reader.stream(sql, columns: { _ in }, row: { _ in }) }
        }
    }

    @Test("the read-only role reads, and every write is refused, also through the daemon's own role")
    func readOnlyRefusesWrites() async throws {
        guard let (server, target) = try Self.server() else { return }
        defer { server.shutdown() }
        let store = try Self.shippingStore("TEM-1", target, images: 1, particles: 5)
        try await Self.ship(store, target)
        let readerTarget = try PostgresTarget.parse(server.url(user: PostgresServer.reader), passwordFile: try server.passwordFile(for: PostgresServer.reader))
        for t in [readerTarget, target] {
            let reader = FacilityReader(target: t)
            #expect(try await reader.samples().map(\.particleCount) == [5])
            for write in ["DELETE FROM particle", "UPDATE sample SET name = 'x'", "CREATE TABLE x (a int)", "DROP TABLE particle CASCADE"] {
                await #expect(throws: FacilityError.self) { try await reader.stream(write, columns: { _ in }, row: { _ in }) }
            }
        }
        #expect(try server.scalar("SELECT COUNT(*) FROM particle") == "5")
        let slow = FacilityReader(target: readerTarget, timeoutSeconds: 1)
        await #expect(throws: FacilityError.self) { try await slow.stream("SELECT pg_sleep(5)", columns: { _ in }, row: { _ in }) }
    }
}
