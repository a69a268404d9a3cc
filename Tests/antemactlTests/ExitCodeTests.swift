#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// antemactl's exit codes (sysexits(3)): usage 64 with the usage text; runtime failures their
/// own code and one line, no usage text.
@Suite struct AntemactlExitCodes {
    static func database() throws -> (dir: URL, db: String) {
        let dir = try AntemactlInspect.tempDir()
        let db = dir.appendingPathComponent("antema.sqlite").path
        try AntemactlDatabaseCommands.database(at: db)
        return (dir, db)
    }

    @Test("each failure has its code: 66 no input, 65 bad data, 3 status without a daemon, 64 usage; runtime failures print no usage text")
    func codes() throws {
        let (dir, db) = try Self.database()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [([String], Int32, String)] = [
            (["show", "no-such-sample", "--db", db], 66, "no sample named no-such-sample"),
            (["reprocess", "--image", "999", "--db", db], 66, "no image with id 999"),
            (["samples", "--db", dir.appendingPathComponent("none.sqlite").path], 66, "none.sqlite"),
            (["query", "SELEC 1", "--db", db], 65, "query refused or failed"),
            (["analyze", dir.appendingPathComponent("empty-folder").path, "--out", dir.appendingPathComponent("o").path], 66, "no supported files"),
            (["status", "--db", db], 3, "never run"),
            (["analyze", "x.dm3", "--out", "o", "--pixel-size", "-1"], 64, "from 0.001 to 1000"),
            (["analyze", "x.dm3", "--out", "o", "--pixel-size", "5000"], 64, "from 0.001 to 1000"),
        ]
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty-folder"), withIntermediateDirectories: true)
        for (args, code, text) in cases {
            let r = try AntemactlInspect.run(args)
            #expect(r.status == code, "\(args): exit \(r.status), \(r.stderr)")
            #expect((r.stderr + r.stdout).contains(text), "\(args): \(r.stderr)")
            if code != 64 { #expect(!r.stderr.contains("USAGE"), "\(args) printed the usage text") }
        }
        let reprocess = try AntemactlInspect.run(["reprocess", "--image", "1", "--db", db])
        #expect(reprocess.status == 0 && reprocess.stdout.contains("1 image(s) queued"))
    }

    @Test("a user who may not read the database is told so (77), not that it is missing",
          .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv to run as another user"))
    func permissionDenied() throws {
        let (dir, db) = try Self.database()
        defer { try? FileManager.default.removeItem(at: dir) }
        chmod(dir.path, 0o755)
        chmod(db, 0o600)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", AntemactlInspect.binary.path, "samples", "--db", db]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 77, "\(e)")
        #expect(e.contains("permission denied") && !e.contains("has antemad run yet"), "\(e)")
    }

    @Test("analyze prints a progress line per input on stderr when it is a pipe, and its summary lines on stdout")
    func progressOnPipes() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        for k in 0..<3 {
            #expect(try AntemactlInspect.run(["example-micrograph", dir.appendingPathComponent("in/m\(k).dm3").path, "--size", "96", "--particles", "3",
                                              "--seed", "\(k)"]).status == 0)
        }
        let r = try AntemactlInspect.run(["analyze", dir.appendingPathComponent("in").path, "--segmenter", "classical", "--no-pictures",
                                          "--out", dir.appendingPathComponent("out").path])
        #expect(r.status == 0, "\(r.stderr)")
        let progress = r.stderr.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(progress.count == 3 && progress[0].hasPrefix("[1/3] ") && progress[2].hasPrefix("[3/3] ") && progress.allSatisfy { $0.hasSuffix(" particles") },
                "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").count == 4 && !r.stdout.contains("\r"))
    }
}
