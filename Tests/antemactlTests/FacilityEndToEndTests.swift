import Facility
import Foundation
import Testing

/// Three real antemad processes ship into one real PostgreSQL server (PostgresServer).
@Suite("Facility end to end", .serialized)
struct FacilityEndToEnd {
    static func daemon(_ server: PostgresServer, instrument: String) throws -> DaemonFixture {
        try DaemonFixture(storeExtra: "url = \"\(server.url())\"\npassword_file = \"\(try server.passwordFile())\"",
                          extra: "[instrument]\nname = \"\(instrument)\"")
    }

    /// Facility counts of one instrument: images done, current particles.
    static func counts(_ server: PostgresServer, _ instrument: String) throws -> String {
        try server.scalar("""
            SELECT (SELECT COUNT(*) FROM image WHERE instrument = '\(instrument)' AND state = 'done') || ' ' ||
                   (SELECT COUNT(*) FROM current_particle WHERE instrument = '\(instrument)')
            """)
    }

    static func localCounts(_ f: DaemonFixture) throws -> String {
        "\(try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") ?? "?") \(try f.scalar("SELECT COUNT(*) FROM current_particle") ?? "?")"
    }

    @Test("three daemons with their own roots and instrument names fill one database: the schema made by the first is used by the others, samples of the same folder name stay apart, counts equal each local database, and antemactl lists them all read-only")
    func threeInstruments() throws {
        guard PostgresServer.unavailable == nil else { print("skipped: \(PostgresServer.unavailable!)"); return }
        let server = try PostgresServer()
        defer { server.shutdown() }
        let names = ["TEM-1", "TEM-2", "STEM"]
        var daemons: [DaemonFixture] = []
        for (k, name) in names.enumerated() {
            let d = try Self.daemon(server, instrument: name)
            try d.start()
            daemons.append(d)
            let s = try d.sample("Au-citrate")
            for i in 0...k {
                try FileManager.default.moveItem(at: d.micrograph("m\(i).dm3", particles: 6 + i, seed: 10 * k + i), to: s.appendingPathComponent("m\(i).dm3"))
            }
        }
        defer { for d in daemons { d.stop() } }
        for (k, d) in daemons.enumerated() {
            #expect(try d.wait(seconds: 60) { try d.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "\(k + 1)" }, "\(d.log)")
            #expect(d.wait(seconds: 30) { (try? Self.counts(server, names[k])) == (try? Self.localCounts(d)) }, "\(d.log)")
        }
        #expect(try server.scalar("SELECT COUNT(*) FROM antema_schema_migration") == String(FacilitySchema.migrations.count))
        #expect(try server.scalar("SELECT COUNT(*) || ' ' || COUNT(DISTINCT instrument) FROM sample WHERE name = 'Au-citrate'") == "3 3")
        // antemactl against the facility: the reader role, its password from PGPASSFILE
        let pgpass = try server.pgpassFile()
        setenv("PGPASSFILE", pgpass, 1)
        defer { unsetenv("PGPASSFILE") }
        let readerURL = server.url(user: PostgresServer.reader)
        let listed = try AntemactlInspect.run(["samples", "--url", readerURL, "--format", "csv"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(Set(parseCSV(listed.stdout).dropFirst().map { $0[0] }) == Set(names))
        let shown = try AntemactlInspect.run(["show", "Au-citrate", "--instrument", "STEM", "--url", readerURL])
        #expect(shown.status == 0 && shown.stdout.contains("instrument: STEM") && shown.stdout.contains("image_count: 3"), "\(shown.stdout)\(shown.stderr)")
        let q = try AntemactlInspect.run(["query", "SELECT instrument, COUNT(*) AS n FROM current_particle GROUP BY instrument ORDER BY instrument",
                                          "--url", readerURL, "--format", "csv"])
        #expect(q.status == 0 && parseCSV(q.stdout).first == ["instrument", "n"] && parseCSV(q.stdout).count == 4, "\(q.stdout)\(q.stderr)")
        let write = try AntemactlInspect.run(["query", "DELETE FROM particle", "--url", readerURL])
        #expect(write.status == 65 && write.stderr.contains("read-only"), "\(write.stderr)")
        // the daemon's own configuration works too (its role, still a read-only transaction)
        let viaConfig = try AntemactlInspect.run(["query", "UPDATE sample SET name = 'x'", "--config", daemons[0].config.path])
        #expect(viaConfig.status == 65, "\(viaConfig.stderr)")
        // status shows the shipping
        let status = try AntemactlInspect.run(["status", "--db", daemons[0].database])
        #expect(status.stdout.contains("facility database postgresql://antema@127.0.0.1:\(server.port)/antema") && status.stdout.contains("everything shipped"), "\(status.stdout)")
    }

    @Test("the server down during ingest and kill -9 while shipping: the daemon goes on analysing, status says what waits, and once the server is back everything arrives once (counts equal the local database)")
    func serverDownAndKill() throws {
        guard PostgresServer.unavailable == nil else { print("skipped: \(PostgresServer.unavailable!)"); return }
        let server = try PostgresServer()
        defer { server.shutdown() }
        let d = try Self.daemon(server, instrument: "TEM-1")
        try d.start()
        let s = try d.sample("S1")
        try FileManager.default.moveItem(at: d.micrograph("a.dm3", particles: 8, seed: 1), to: s.appendingPathComponent("a.dm3"))
        #expect(d.wait(seconds: 60) { (try? Self.counts(server, "TEM-1")) == "1 " + ((try? Self.localCounts(d))?.split(separator: " ").last.map(String.init) ?? "?") }, "\(d.log)")
        try server.stop()
        for i in 0..<6 {
            try FileManager.default.moveItem(at: d.micrograph("b\(i).dm3", particles: 5 + i, seed: 20 + i), to: s.appendingPathComponent("b\(i).dm3"))
        }
        #expect(try d.wait(seconds: 60) { try d.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "7" }, "\(d.log)")
        let waiting = try AntemactlInspect.run(["status", "--db", d.database])
        #expect(waiting.stdout.contains("wait to be shipped") && waiting.stdout.contains("last shipping error"), "\(waiting.stdout)")
        #expect(d.log.contains("facility database not reachable"), "\(d.log)")
        // back, and the daemon killed as soon as shipping starts
        try server.start()
        _ = d.wait(seconds: 90) { ((try? server.scalar("SELECT COUNT(*) FROM image")) ?? "0") != "1" }
        d.stop(signal: SIGKILL)
        try d.start()
        #expect(d.wait(seconds: 90) { (try? Self.counts(server, "TEM-1")) == (try? Self.localCounts(d)) }, "\(d.log)")
        #expect(try Self.localCounts(d).hasPrefix("7 "))
        #expect(try server.scalar("SELECT COUNT(*) FROM image") == "7")
        // nothing twice: every image's particle rows match its analysis's count
        #expect(try server.scalar("""
            SELECT COUNT(*) FROM analysis a WHERE a.particle_count <> (SELECT COUNT(*) FROM particle p WHERE p.instrument = a.instrument AND p.analysis_id = a.id)
            """) == "0")
        let status = try AntemactlInspect.run(["status", "--db", d.database])
        #expect(status.stdout.contains("everything shipped"), "\(status.stdout)")
        d.stop()
    }
}
