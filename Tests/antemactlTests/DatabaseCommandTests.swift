import Foundation
import Pipeline
import Store
import Testing

@Suite struct AntemactlDatabaseCommands {
    /// A database with one sample of two analysed images, written through the Store library.
    static func database(at path: String) throws {
        let store = try AntemaStore(path: path, instrument: "TEM-1")
        let s = try store.openSample(name: "Au-batch-7", watchRoot: "/w", folder: "/w/Au-batch-7")
        for (k, diameters) in [[2.0, 3.0], [4.0]].enumerated() {
            let img = try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/Au-batch-7/\(k).dm3",
                                                    contentSha256: String(repeating: "b", count: 63) + String(k), fileSizeBytes: 1, frame: 0, queuedAt: Date()))!
            let ps = diameters.map { d in
                ParticleMeasurement(areaPx: 100, areaNm2: Double.pi / 4 * d * d, equivalentDiameterNm: d, perimeterNm: Double.pi * d, circularity: 1,
                                    feretMinNm: d, feretMaxNm: d, aspectRatio: 1, convexity: 1, solidity: 1, centroidXPx: 5, centroidYPx: 5,
                                    box: BoundingBox(minRow: 0, minCol: 0, maxRow: 9, maxCol: 9))
            }
            try store.recordAnalysis(AnalysisOutcome(segmenter: "classical", parametersJson: "{}", softwareVersion: "test", particles: ps), imageId: img.id!, facts: nil)
        }
    }

    @Test("query prints tables, CSV and JSON, and refuses writes")
    func query() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("antema.sqlite").path
        try Self.database(at: db)
        let sql = "SELECT sample, n, mean FROM sample_statistics WHERE measurement = 'equivalent_diameter_nm'"
        let table = try AntemactlInspect.run(["query", sql, "--db", db])
        #expect(table.status == 0)
        #expect(table.stdout.contains("Au-batch-7") && table.stdout.contains("3.0") && table.stdout.contains("(1 row)"))
        let csv = try AntemactlInspect.run(["query", sql, "--db", db, "--format", "csv"])
        #expect(csv.stdout == "sample,n,mean\nAu-batch-7,3,3.0\n")
        let json = try AntemactlInspect.run(["query", sql, "--db", db, "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.first?["sample"] as? String == "Au-batch-7" && rows.first?["n"] as? Int == 3)
        let refused = try AntemactlInspect.run(["query", "DELETE FROM particle", "--db", db])
        #expect(refused.status != 0 && refused.stderr.contains("read"))
        #expect(try AntemactlInspect.run(["query", "SELECT COUNT(*) AS n FROM particle", "--db", db, "--format", "csv"]).stdout == "n\n3\n")
        let missing = try AntemactlInspect.run(["query", "SELECT 1", "--db", dir.appendingPathComponent("none.sqlite").path])
        #expect(missing.status != 0 && missing.stderr.contains("none.sqlite"))
    }

    @Test("query stops at --timeout, refuses ATTACH behind a comment, and streams a large result in every format")
    func queryLimits() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("antema.sqlite").path
        try Self.database(at: db)
        let endless = try AntemactlInspect.run(["query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
                                                "--db", db, "--timeout", "1"])
        #expect(endless.status != 0 && endless.stderr.contains("longer than 1 s"), "\(endless.stderr)")
        let attach = try AntemactlInspect.run(["query", "/* x */ ATTACH DATABASE '\(dir.path)/other.sqlite' AS o", "--db", db])
        #expect(attach.status != 0 && attach.stderr.contains("ATTACH"))
        let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000) SELECT x, 'v' || x AS label FROM c"
        let table = try AntemactlInspect.run(["query", sql, "--db", db])
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 3003 && lines.last == "(3000 rows)" && lines[2].hasPrefix("1     v1"), "\(lines.prefix(3))")
        let csv = try AntemactlInspect.run(["query", sql, "--db", db, "--format", "csv"])
        #expect(csv.stdout.hasPrefix("x,label\n1,v1\n") && csv.stdout.hasSuffix("3000,v3000\n"))
        let json = try AntemactlInspect.run(["query", sql, "--db", db, "--format", "json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 3000 && rows.last?["label"] as? String == "v3000")
        let empty = try AntemactlInspect.run(["query", "SELECT 1 AS x WHERE 0", "--db", db, "--format", "json"])
        #expect(empty.stdout == "[]\n")
    }

    @Test("samples lists each sample with its instrument, counts and mean diameter; show summarises one")
    func samplesAndShow() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("antema.sqlite").path
        try Self.database(at: db)
        let list = try AntemactlInspect.run(["samples", "--db", db, "--format", "csv"])
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("instrument,sample,state,"))
        #expect(lines[1].hasPrefix("TEM-1,Au-batch-7,open,") && lines[1].contains(",2,3,3.0,1.0,"))
        let show = try AntemactlInspect.run(["show", "Au-batch-7", "--db", db])
        #expect(show.status == 0)
        #expect(show.stdout.contains("instrument: TEM-1") && show.stdout.contains("particle_count: 3") && show.stdout.contains("equivalent_diameter_nm") && show.stdout.contains("done"))
        #expect(try AntemactlInspect.run(["show", "Au-batch-7", "--instrument", "STEM", "--db", db]).status != 0)
        #expect(try AntemactlInspect.run(["show", "nope", "--db", db]).status != 0)
    }
}
