import Foundation
import Testing

@Suite(.serialized) struct AntemactlBackup {
    @Test("backup while antemad ingests: the copy passes integrity_check, holds every particle committed before it and no half-written analysis; an existing file is never replaced")
    func backupWhileIngesting() throws {
        let f = try DaemonFixture()
        try f.start()
        let sample = try f.sample("S1")
        let staged = try (0..<12).map { try f.micrograph("m\($0).dm3", particles: 10, size: 192, seed: $0) }
        // the first images analysed, the rest arriving while the backup runs
        for k in 0..<4 { try FileManager.default.moveItem(at: staged[k], to: sample.appendingPathComponent("m\(k).dm3")) }
        #expect(try f.wait(seconds: 60) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "4" })
        for k in 4..<12 { try FileManager.default.moveItem(at: staged[k], to: sample.appendingPathComponent("m\(k).dm3")) }
        let before = Int(try f.scalar("SELECT COUNT(*) FROM particle") ?? "0") ?? 0
        let copy = f.dir.appendingPathComponent("backup.sqlite").path
        let r = try AntemactlInspect.run(["backup", copy, "--db", f.database])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("integrity ok"))
        let check = try AntemactlInspect.run(["query", "PRAGMA integrity_check", "--db", copy, "--format", "csv"])
        #expect(check.stdout == "integrity_check\nok\n")
        let counts = try AntemactlInspect.run(["query", "SELECT (SELECT COUNT(*) FROM particle), (SELECT COALESCE(SUM(particle_count), 0) FROM analysis)",
                                               "--db", copy, "--format", "csv"])
        let values = parseCSV(counts.stdout)[1].map { Int($0)! }
        #expect(values[0] >= before && before > 0, "the copy lost committed particles: \(values[0]) < \(before)")
        #expect(values[0] == values[1], "a half-written analysis in the copy")
        let again = try AntemactlInspect.run(["backup", copy, "--db", f.database])
        #expect(again.status == 73 && again.stderr.contains("exists"))
        f.stop()
    }
}
