import Foundation
import GRDB
import Synchronization
import Pipeline
import Testing
@testable import Store

func particle(_ d: Double, separated: Bool = false) -> ParticleMeasurement {
    let area = Double.pi / 4 * d * d
    return ParticleMeasurement(areaPx: Int(area * 100) + 1, areaNm2: area, equivalentDiameterNm: d, perimeterNm: Double.pi * d,
                               circularity: 1, feretMinNm: d, feretMaxNm: d * 1.1, aspectRatio: 1.1, convexity: 1, solidity: 1,
                               centroidXPx: 10, centroidYPx: 10, box: BoundingBox(minRow: 1, minCol: 1, maxRow: 5, maxCol: 5),
                               separated: separated, overlapFlag: false)
}

func sha(_ k: Int) -> String { String(repeating: "0", count: 64 - String(k).count) + String(k) }

func outcome(_ diameters: [Double], separated: Int = 0) -> AnalysisOutcome {
    AnalysisOutcome(segmenter: "classical", parametersJson: "{\"convexityThreshold\":0.95}", softwareVersion: "test",
                    particles: diameters.enumerated().map { particle($0.element, separated: $0.offset < separated) })
}

func tempPath() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("antema-store-\(UUID().uuidString).sqlite").path }

@Suite struct StoreSchemaAndTransactions {
    @Test("an empty database migrates to the current schema with every table and view")
    func migratesEmpty() throws {
        let store = try AntemaStore.inMemory()
        try store.writer.read { (db: Database) throws in
            for table in ["sample", "image", "analysis", "particle", "sample_aggregate"] { #expect(try db.tableExists(table)) }
            for view in ["current_particle", "sample_statistics"] { #expect(try db.viewExists(view)) }
            #expect(try Schema.migrator.appliedMigrations(db) == ["v1", "v2-daemon-status", "v3-identity", "v4-particle-confidence", "v5-facility", "v6-pixel-lengths", "v7-network-scale", "v8-dropped-counts"])
            #expect(try db.columns(in: "particle").map(\.name).contains("equivalent_diameter_nm"))
        }
    }

    @Test("the same content is queued once, wherever it is seen; the queue hands out the oldest first")
    func queue() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let t0 = Date(timeIntervalSince1970: 1000)
        #expect(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/1.dm3", contentSha256: sha(1), fileSizeBytes: 10, frame: 0, queuedAt: t0)) != nil)
        #expect(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/2.dm3", contentSha256: sha(2), fileSizeBytes: 10, frame: 0, queuedAt: t0.addingTimeInterval(1))) != nil)
        #expect(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/moved/1.dm3", contentSha256: sha(1), fileSizeBytes: 10, frame: 0, queuedAt: t0)) == nil)
        let first = try #require(try store.claimNextQueued())
        #expect(first.path == "/w/A/1.dm3" && first.state == .processing && first.attempts == 1)
        #expect(try store.requeueInterrupted() == 1)
        #expect(try store.claimNextQueued()?.path == "/w/A/1.dm3")
        #expect(try store.claimNextQueued()?.path == "/w/A/2.dm3")
        #expect(try store.claimNextQueued() == nil)
        try store.recordProblem(imageId: first.id!, state: .failed, error: "broken")
        #expect(try store.retryFailed() == 1)
    }

    @Test("a file recorded as not analysable is never in the queue: no worker can claim it, and its state and reason are there at once")
    func unanalysableIsNeverQueued() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let record = ImageRecord(sampleId: s.id!, path: "/w/A/link.dm3", contentSha256: sha(7), fileSizeBytes: 0, frame: 0, queuedAt: Date())
        let image = try #require(try store.enqueueUnanalysable(record, state: .skipped, error: "is a symbolic link"))
        #expect(image.state == .skipped && image.error == "is a symbolic link" && image.finishedAt != nil)
        #expect(try store.claimNextQueued() == nil)
        #expect(try store.enqueueUnanalysable(record, state: .skipped, error: "again") == nil)
    }

    @Test("while more images of a sample wait, its counts follow every commit and its summaries are exact again once none waits, also when the last one fails")
    func aggregatesDuringABurst() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let images = try (0..<6).map { k in
            try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/\(k).dm3", contentSha256: sha(k), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        }
        func state() throws -> (images: Int, particles: Int, summarised: Int) {
            try store.writer.read { db in
                (try Int.fetchOne(db, sql: "SELECT image_count FROM sample")!, try Int.fetchOne(db, sql: "SELECT particle_count FROM sample")!,
                 try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(n), 0) FROM sample_aggregate")!)
            }
        }
        // the first commit refreshes (nothing refreshed yet); the next ones, with images still waiting, count only
        for k in 0..<4 { try store.recordAnalysis(outcome([Double](repeating: 2, count: 10)), imageId: images[k].id!, facts: nil) }
        #expect(try state() == (4, 40, 10))
        // a re-analysis replaces the image's particles in the counts
        try store.recordAnalysis(outcome([Double](repeating: 2, count: 7)), imageId: images[3].id!, facts: nil)
        #expect(try state() == (4, 37, 10))
        try store.recordAnalysis(outcome([1, 2, 3]), imageId: images[4].id!, facts: nil)
        #expect(try state() == (5, 40, 10))
        // the last waiting image fails: nothing waits, the summaries catch up
        try store.recordProblem(imageId: images[5].id!, state: .failed, error: "broken")
        #expect(try state() == (5, 40, 40))
        let g = try #require(try store.aggregates(sampleId: s.id!).first { $0.measurement == "equivalent_diameter_nm" })
        #expect(g.min == 1 && g.max == 3 && g.n == 40)
    }

    @Test("aggregates equal values computed independently")
    func aggregates() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let d1 = [1.0, 2, 3, 4, 5], d2 = [10.0, 2.5]
        for (k, d) in [d1, d2].enumerated() {
            let img = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/\(k).dm3", contentSha256: sha(k), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
            try store.recordAnalysis(outcome(d, separated: k == 0 ? 1 : 0), imageId: img.id!, facts: ImageFacts(widthPx: 64, heightPx: 64, pixelSizeXNm: 0.1, pixelSizeYNm: 0.1))
        }
        let all = (d1 + d2).sorted()  // 1, 2, 2.5, 3, 4, 5, 10
        let mean = all.reduce(0, +) / 7
        let sd = (all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6).squareRoot()
        let g = try #require(try store.aggregates(sampleId: s.id!).first { $0.measurement == "equivalent_diameter_nm" })
        #expect(g.n == 7)
        #expect(abs(g.mean! - mean) < 1e-12 && abs(g.sd! - sd) < 1e-12)
        #expect(g.min == 1 && g.max == 10 && g.median == 3)
        #expect(abs(g.p10! - 1.6) < 1e-12)   // (7-1) * 0.1 = 0.6 -> 1 + 0.6 * (2 - 1)
        #expect(abs(g.p90! - 7.0) < 1e-12)   // 5.4 -> 5 + 0.4 * (10 - 5)
        let sample = try store.writer.read { db in try SampleRecord.fetchOne(db, key: s.id!) }!
        #expect(sample.imageCount == 2 && sample.particleCount == 7)
        #expect(abs(sample.overlapFraction! - 1.0 / 7) < 1e-12)
        #expect(Aggregates.percentile(sorted: [], 0.5) == nil)
    }

    @Test("reprocessing adds an analysis and switches the current one; old analyses stay queryable")
    func reprocessing() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let img = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/x.dm3", contentSha256: sha(9), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        let first = try store.recordAnalysis(outcome([1, 2, 3]), imageId: img.id!, facts: nil)
        let second = try store.recordAnalysis(outcome([4, 5]), imageId: img.id!, facts: nil)
        try store.writer.read { (db: Database) throws in
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle") == 2)
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM particle") == 5)
            #expect(try Int64.fetchAll(db, sql: "SELECT id FROM analysis WHERE is_current = 1") == [second])
            #expect(try Int.fetchOne(db, sql: "SELECT particle_count FROM analysis WHERE id = ?", arguments: [first]) == 3)
        }
        #expect(try store.aggregates(sampleId: s.id!).first { $0.measurement == "equivalent_diameter_nm" }?.mean == 4.5)
    }

    @Test("a transaction that fails midway leaves nothing behind")
    func atomicity() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let img = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/x.dm3", contentSha256: sha(3), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        var bad = outcome([1, 2, 3])
        bad.particles[2].areaNm2 = -1   // violates CHECK (area_nm2 > 0) on the third row
        #expect(throws: DatabaseError.self) { try store.recordAnalysis(bad, imageId: img.id!, facts: nil) }
        try store.writer.read { (db: Database) throws in
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM analysis") == 0)
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM particle") == 0)
            #expect(try String.fetchOne(db, sql: "SELECT state FROM image") == "queued")
        }
    }

    @Test("deleting a sample cascades to its images, analyses, particles and aggregates")
    func cascade() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let img = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/x.dm3", contentSha256: sha(4), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        try store.recordAnalysis(outcome([1, 2]), imageId: img.id!, facts: nil)
        try store.writer.write { (db: Database) throws in _ = try SampleRecord.deleteOne(db, key: s.id!) }
        try store.writer.read { (db: Database) throws in
            for t in ["image", "analysis", "particle", "sample_aggregate"] { #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(t)") == 0) }
        }
    }

    @Test("a closed sample reopens when an image arrives, if allowed")
    func reopen() throws {
        let store = try AntemaStore.inMemory()
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        try store.setSampleState(s.id!, .closed)
        #expect(try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A", reopen: false).state == .closed)
        #expect(try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A").state == .open)
    }
}

@Suite struct ConcurrentAccess {
    @Test("a reader during a write sees the old or the new state, never a mix")
    func readersSeeConsistentStates() async throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        let store = try AntemaStore(path: path)
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let reader = try ReadOnlyDatabase(path: path)
        final class Flag: Sendable { let done = Atomic<Bool>(false) }
        let flag = Flag()
        let writes = Task.detached {
            defer { flag.done.store(true, ordering: .sequentiallyConsistent) }
            for k in 0..<40 {
                let img = try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/\(k).dm3", contentSha256: sha(100 + k), fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
                try store.recordAnalysis(outcome((0..<500).map { Double($0 % 50) + 1 }), imageId: img.id!, facts: nil)
            }
        }
        var observations = 0
        while true {
            let done = flag.done.load(ordering: .sequentiallyConsistent)
            let (particles, declared, aggregateN, sampleCount) = try reader.read { (db: Database) throws in
                (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM current_particle")!,
                 try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(particle_count), 0) FROM analysis WHERE is_current = 1")!,
                 try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(n), 0) FROM sample_aggregate")!,
                 try Int.fetchOne(db, sql: "SELECT particle_count FROM sample")!)
            }
            #expect(particles == declared && particles == aggregateN && particles == sampleCount && particles % 500 == 0)
            observations += 1
            if done { break }
        }
        try await writes.value
        #expect(observations > 1)
    }

    @Test("the read-only connection refuses writes, ATTACH, pragma changes and extensions")
    func readOnlyRefusals() throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        _ = try AntemaStore(path: path)
        let ro = try ReadOnlyDatabase(path: path)
        for sql in ["INSERT INTO sample (name, watch_root, folder, opened_at) VALUES ('x', 'y', 'z', 'now')",
                    "DELETE FROM particle", "DROP TABLE particle", "ATTACH DATABASE '/tmp/x.sqlite' AS x",
                    "PRAGMA query_only = 0", "PRAGMA journal_mode=DELETE", "SELECT load_extension('x')",
                    "SELECT 1; DELETE FROM particle", "CREATE TABLE t (x)"] {
            #expect(throws: (any Error).self, "\(sql)") { try ro.query(sql) }
        }
        #expect(try ro.query("SELECT COUNT(*) AS n FROM sample").columns == ["n"])
        #expect(try ro.query("PRAGMA table_info(particle)").rows.count > 20)
        #expect(try ro.query("WITH x AS (SELECT 1 AS a) SELECT a FROM x").rows.first?.first == 1.databaseValue)
        #expect(throws: StoreError.self) { try ReadOnlyDatabase(path: "/nonexistent/antema.sqlite") }
    }

    @Test("what a comment or a string hides is seen: ATTACH behind a comment and fts3_tokenizer are refused; keywords inside strings are not")
    func hiddenRefusals() throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        _ = try AntemaStore(path: path)
        let ro = try ReadOnlyDatabase(path: path)
        for sql in ["/* report */ ATTACH DATABASE '/tmp/x.sqlite' AS x", "-- note\nATTACH '/tmp/y' AS y", "SELECT fts3_tokenizer('simple')",
                    "SELECT /**/ LOAD_EXTENSION ('x')"] {
            #expect(throws: StoreError.self, "\(sql)") { try ro.query(sql) }
        }
        #expect(try ro.query("SELECT 'ATTACH' AS word, 'it''s -- fine' AS text").rows.first == ["ATTACH".databaseValue, "it's -- fine".databaseValue])
        #expect(ReadOnlyDatabase.code(of: "SELECT 'a -- b' /* c */ -- d\n, 1") == "SELECT ''    \n, 1")
    }

    @Test("a query running past its time limit is stopped with a message naming the limit")
    func queryTimeLimit() throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        _ = try AntemaStore(path: path)
        let ro = try ReadOnlyDatabase(path: path)
        let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
        #expect { try ro.query(endless, timeoutSeconds: 0.5) } throws: { e in "\(e)".contains("longer than 0 s") || "\(e)".contains("stopped") }
        // the connection is usable afterwards
        #expect(try ro.query("SELECT 1 AS one").rows == [[1.databaseValue]])
    }

    @Test("rows are handed on one at a time: a million-row result is never held whole")
    func streamedRows() throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        _ = try AntemaStore(path: path)
        let ro = try ReadOnlyDatabase(path: path)
        var columns: [String] = [], seen = 0, last: Int64 = 0
        let n = try ro.stream("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000) SELECT x FROM c",
                              columns: { columns = $0 }, row: { r in seen += 1; last = Int64.fromDatabaseValue(r[0]) ?? 0 })
        #expect(columns == ["x"] && n == 1_000_000 && seen == n && last == 1_000_000)
    }
}
