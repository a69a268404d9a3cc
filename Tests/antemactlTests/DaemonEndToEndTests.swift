#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// The real antemad process on temporary folders.
final class DaemonFixture: @unchecked Sendable {
    let dir: URL
    let root: URL
    let config: URL
    let database: String
    var process: Process?
    let logPath: String

    /// `segmenter`: the classical one keeps these tests quick in debug builds; `arrivals` runs
    /// the default, the bundled network. `extra` is appended (its `[analysis]` keys go in
    /// `analysisExtra`, since a table may appear only once).
    init(idleMinutes: Double = 30, segmenter: String = "classical", analysisExtra: String = "", storeExtra: String = "", extra: String = "") throws {
        dir = try AntemactlInspect.tempDir()
        root = dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        database = dir.appendingPathComponent("antema.sqlite").path
        config = dir.appendingPathComponent("config.toml")
        logPath = dir.appendingPathComponent("antemad.log").path
        try """
            [watch]
            roots = ["\(root.path)"]
            stable_seconds = 0.5
            [session]
            idle_close_minutes = \(idleMinutes)
            [store]
            database = "\(database)"
            \(storeExtra)
            [processing]
            shutdown_grace_seconds = 5
            [analysis]
            segmenter = "\(segmenter)"
            \(analysisExtra)
            \(extra)
            """.write(to: config, atomically: true, encoding: .utf8)
    }

    static let setpriv = "/usr/bin/setpriv"
    /// Whether `start(asNobody: true)` can work: root, with setpriv and a `nobody` user.
    static var canRunAsNobody: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: setpriv) && getpwnam("nobody") != nil }

    static var antemad: URL { AntemactlInspect.binary.deletingLastPathComponent().appendingPathComponent("antemad") }

    /// `asNobody`: run as the unprivileged user `nobody` (root bypasses file permissions), through
    /// util-linux's `setpriv`; the fixture's folder is handed to that user first.
    func start(asNobody: Bool = false) throws {
        let p = Process()
        if asNobody {
            let chown = try Process.run(URL(fileURLWithPath: "/bin/chown"), arguments: ["-R", "nobody:nogroup", dir.path])
            chown.waitUntilExit()
            p.executableURL = URL(fileURLWithPath: Self.setpriv)
            p.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", Self.antemad.path, "--config", config.path]
        } else {
            p.executableURL = Self.antemad
            p.arguments = ["--config", config.path]
        }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardError = log
        p.standardOutput = log
        try p.run()
        process = p
    }

    func stop(signal: Int32 = SIGTERM) {
        guard let p = process else { return }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        process = nil
    }

    func sample(_ name: String) throws -> URL {
        let u = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// A synthetic micrograph with `particles` particles, written outside the roots.
    func micrograph(_ name: String, particles: Int = 8, size: Int = 256, seed: Int = 1) throws -> URL {
        let u = dir.appendingPathComponent("staging-\(name)")
        let r = try AntemactlInspect.run(["example-micrograph", u.path, "--size", "\(size)", "--particles", "\(particles)", "--seed", "\(seed)"])
        precondition(r.status == 0, r.stderr)
        return u
    }

    func query(_ sql: String) throws -> [[String]] {
        let r = try AntemactlInspect.run(["query", sql, "--db", database, "--format", "csv"])
        guard r.status == 0 else { return [] }
        return Array(parseCSV(r.stdout).dropFirst())
    }

    func scalar(_ sql: String) throws -> String? { try query(sql).first?.first }

    /// Polls until `condition` holds (true) or `seconds` pass (false).
    func wait(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return try condition()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if let p = process { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        try? FileManager.default.removeItem(at: dir)
    }
}

@Suite(.serialized) struct DaemonEndToEnd {
    @Test("files written in chunks, renamed into place and copied in are each analysed once (with the counts of particles the network dropped); bad files are reported")
    func arrivals() throws {
        let f = try DaemonFixture(segmenter: "model")
        try f.start()
        let s = try f.sample("S1")
        Thread.sleep(forTimeInterval: 0.5)
        // 1. written in chunks with pauses (as a slow network copy)
        let chunked = try Data(contentsOf: f.micrograph("chunked.dm3", seed: 1))
        FileManager.default.createFile(atPath: s.appendingPathComponent("chunked.dm3").path, contents: nil)
        let h = try FileHandle(forWritingTo: s.appendingPathComponent("chunked.dm3"))
        for k in 0..<4 {
            h.write(chunked[(k * chunked.count / 4)..<((k + 1) * chunked.count / 4)])
            Thread.sleep(forTimeInterval: 0.3)
        }
        try h.close()
        // 2. renamed into place
        try FileManager.default.moveItem(at: f.micrograph("renamed.dm3", seed: 2), to: s.appendingPathComponent("renamed.dm3"))
        // 3. copied in
        try FileManager.default.copyItem(at: f.micrograph("copied.dm3", seed: 3), to: s.appendingPathComponent("copied.dm3"))
        // 4. a corrupt DM3 and a foreign file
        try Data("definitely not a micrograph".utf8).write(to: s.appendingPathComponent("corrupt.dm3"))
        try Data("notes".utf8).write(to: s.appendingPathComponent("notes.txt"))
        #expect(try f.wait(seconds: 30) { try f.scalar("SELECT COUNT(*) FROM image WHERE state IN ('done', 'failed')") == "4" }, "\(f.log)")
        let rows = try f.query("SELECT path, state, error FROM image ORDER BY path")
        #expect(rows.map { ($0[0] as NSString).lastPathComponent } == ["chunked.dm3", "copied.dm3", "corrupt.dm3", "renamed.dm3"])
        #expect(rows.map { $0[1] } == ["done", "done", "failed", "done"])
        #expect(rows[2][2].contains("not a DigitalMicrograph file"))
        // the default segmenter: the bundled network, recorded with each analysis
        #expect(try f.scalar("SELECT DISTINCT segmenter FROM analysis")?.hasPrefix("model antema-unet") == true)
        // with the counts of the particles it dropped as unsure and as debris
        #expect(try f.scalar("SELECT COUNT(*) FROM analysis WHERE dropped_unsure_count >= 0 AND dropped_debris_count >= 0") == "3")
        // exactly once: one analysis per done image, particles only of current analyses
        #expect(try f.scalar("SELECT COUNT(*) FROM analysis") == "3")
        #expect(try f.scalar("SELECT COUNT(*) FROM particle") == f.scalar("SELECT SUM(particle_count) FROM analysis"))
        let status = try AntemactlInspect.run(["status", "--db", f.database])
        #expect(status.stdout.contains("is running") && status.stdout.contains("corrupt.dm3"))
        f.stop()
    }

    @Test("antemad runs with one malloc arena (MALLOC_ARENA_MAX=1), by starting itself once more with the same pid and arguments, and then analyses as usual")
    func oneMallocArena() throws {
        try #require(ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil, "MALLOC_ARENA_MAX is set for the tests; the daemon would not need to set it")
        let f = try DaemonFixture(segmenter: "classical")
        try f.start()
        let pid = try #require(f.process?.processIdentifier)
        func environment() -> [String] {
            ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(f.wait(seconds: 10) { environment().contains("MALLOC_ARENA_MAX=1") }, "\(f.log)")
        let arguments = ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(Array(arguments.dropFirst()) == ["--config", f.config.path])
        let s = try f.sample("S1")
        try FileManager.default.moveItem(at: f.micrograph("a.dm3"), to: s.appendingPathComponent("a.dm3"))
        #expect(try f.wait(seconds: 30) { try f.scalar("SELECT state FROM image") == "done" }, "\(f.log)")
        f.stop()
    }

    @Test("files that arrive while the daemon is down are analysed when it starts; known content is not analysed again")
    func reconciliation() throws {
        let f = try DaemonFixture()
        let s = try f.sample("S1")
        try FileManager.default.moveItem(at: f.micrograph("a.dm3", seed: 4), to: s.appendingPathComponent("a.dm3"))
        try f.start()
        #expect(try f.wait(seconds: 20) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "1" }, "\(f.log)")
        f.stop()
        try FileManager.default.moveItem(at: f.micrograph("b.dm3", seed: 5), to: s.appendingPathComponent("b.dm3"))
        try FileManager.default.copyItem(at: s.appendingPathComponent("a.dm3"), to: s.appendingPathComponent("a-copy.dm3"))
        try f.start()
        #expect(try f.wait(seconds: 20) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "2" }, "\(f.log)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try f.scalar("SELECT COUNT(*) FROM image") == "2")   // the copy of a.dm3 is the same content
        f.stop()
    }

    @Test("a marker file closes its session once its images are done; an idle session closes by itself")
    func sessionsClose() throws {
        let f = try DaemonFixture(idleMinutes: 0.05)
        try f.start()
        let marked = try f.sample("marked"), idle = try f.sample("idle")
        try FileManager.default.moveItem(at: f.micrograph("m.dm3", seed: 6), to: marked.appendingPathComponent("m.dm3"))
        try FileManager.default.moveItem(at: f.micrograph("i.dm3", seed: 7), to: idle.appendingPathComponent("i.dm3"))
        #expect(try f.wait(seconds: 20) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "2" })
        FileManager.default.createFile(atPath: marked.appendingPathComponent("session.done").path, contents: nil)
        #expect(try f.wait(seconds: 15) { try f.scalar("SELECT state FROM sample WHERE name = 'marked'") == "reported" }, "\(f.log)")
        #expect(try f.wait(seconds: 15) { try f.scalar("SELECT state FROM sample WHERE name = 'idle'") == "reported" }, "\(f.log)")
        // the report: workbook, CSV files, histograms, README, and the image's pictures
        let report = marked.appendingPathComponent("antema-report").path
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: report))
        for name in ["marked.xlsx", "marked_particles.csv", "marked_images.csv", "marked_summary.csv", "README.txt", "histogram_equivalent_diameter_nm.png", "images"] {
            #expect(files.contains(name), "\(name) missing from \(files)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: report + "/images").sorted() == ["m_mask.png", "m_micrograph.png", "m_overlay.png", "m_particles.png", "m_particles.svg"])
        // an image arriving later reopens the session
        try FileManager.default.moveItem(at: f.micrograph("late.dm3", seed: 8), to: marked.appendingPathComponent("late.dm3"))
        #expect(try f.wait(seconds: 15) { try f.scalar("SELECT image_count FROM sample WHERE name = 'marked'") == "2" })
        f.stop()
    }

    @Test("kill -9 during processing loses nothing and duplicates nothing; SIGTERM stops it with status 0")
    func crashAndStop() throws {
        let f = try DaemonFixture()
        try f.start()
        let s = try f.sample("S1")
        for k in 0..<3 {
            try FileManager.default.moveItem(at: f.micrograph("big\(k).dm3", particles: 60, size: 1024, seed: 10 + k), to: s.appendingPathComponent("big\(k).dm3"))
        }
        #expect(f.wait(seconds: 20) { f.log.contains("queued") })
        Thread.sleep(forTimeInterval: 0.3)
        f.stop(signal: SIGKILL)
        try f.start()
        #expect(try f.wait(seconds: 60) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "3" }, "\(f.log)")
        // the kill landed while an image was being analysed: the restart queued it again
        #expect(f.log.contains("re-queued images left processing"), "\(f.log)")
        #expect(try f.scalar("SELECT COUNT(*) FROM image") == "3")
        #expect(try f.scalar("SELECT COUNT(*) FROM analysis WHERE is_current = 1") == "3")
        #expect(try f.scalar("SELECT COUNT(*) FROM current_particle") == f.scalar("SELECT SUM(particle_count) FROM analysis WHERE is_current = 1"))
        #expect(try f.scalar("PRAGMA integrity_check") == "ok")
        let p = try #require(f.process)
        let start = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        f.process = nil
        #expect(p.terminationStatus == 0)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(try f.scalar("SELECT activity FROM daemon_status") == "stopped")
    }

    @Test("a second antemad on the same database is refused with a message naming the first one's pid")
    func secondDaemonRefused() throws {
        let f = try DaemonFixture()
        try f.start()
        #expect(f.wait(seconds: 20) { f.log.contains("starting") })
        let first = try #require(f.process)
        let second = Process()
        second.executableURL = DaemonFixture.antemad
        second.arguments = ["--config", f.config.path]
        let err = Pipe()
        second.standardError = err
        second.standardOutput = FileHandle.nullDevice
        try second.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus == 75)
        #expect(text.contains("another antemad already uses") && text.contains("pid \(first.processIdentifier)"), "\(text)")
        #expect(first.isRunning)
        #expect(try f.scalar("SELECT pid FROM daemon_status") == "\(first.processIdentifier)")
    }

    @Test("the database deleted while antemad runs is written back from the open connection, antemad stops with 75, and nothing is lost")
    func deletedDatabaseRestored() throws {
        let f = try DaemonFixture()
        try f.start()
        let s = try f.sample("S1")
        try FileManager.default.moveItem(at: f.micrograph("a.dm3", particles: 8), to: s.appendingPathComponent("a.dm3"))
        #expect(try f.wait(seconds: 30) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "1" }, "\(f.log)")
        let particles = try f.scalar("SELECT COUNT(*) FROM current_particle")
        try FileManager.default.removeItem(atPath: f.database)
        let p = try #require(f.process)
        #expect(f.wait(seconds: 20) { !p.isRunning }, "\(f.log)")
        f.stop()
        #expect(p.terminationStatus == 75)
        #expect(f.log.contains("was deleted while antemad ran") && f.log.contains("written back"), "\(f.log)")
        #expect(try f.scalar("PRAGMA integrity_check") == "ok")
        #expect(try f.scalar("SELECT COUNT(*) FROM current_particle") == particles)
        // and the restart goes on from there
        try f.start()
        try FileManager.default.moveItem(at: f.micrograph("b.dm3", particles: 8, seed: 2), to: s.appendingPathComponent("b.dm3"))
        #expect(try f.wait(seconds: 30) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "2" }, "\(f.log)")
    }

    @Test("links are not followed: a linked sample folder is not entered, a linked micrograph is recorded as skipped, a linked report folder is refused")
    func linksNotFollowed() throws {
        let f = try DaemonFixture()
        let outside = f.dir.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: f.micrograph("o.dm3", particles: 8, seed: 3), to: outside.appendingPathComponent("o.dm3"))
        symlink(outside.path, f.root.appendingPathComponent("Linked").path)
        let s = try f.sample("S1")
        symlink(outside.appendingPathComponent("o.dm3").path, s.appendingPathComponent("x.dm3").path)
        let s2 = try f.sample("S2")
        symlink(outside.path, s2.appendingPathComponent("antema-report").path)
        try f.start()
        try FileManager.default.moveItem(at: f.micrograph("a.dm3", particles: 8, seed: 4), to: s2.appendingPathComponent("a.dm3"))
        #expect(try f.wait(seconds: 30) { try f.scalar("SELECT COUNT(*) FROM image WHERE state = 'done'") == "1" }, "\(f.log)")
        #expect(try f.wait(seconds: 10) { try f.scalar("SELECT state FROM image WHERE path LIKE '%x.dm3'") == "skipped" }, "\(f.log)")
        #expect(try f.scalar("SELECT error FROM image WHERE path LIKE '%x.dm3'")?.contains("symbolic link") == true)
        #expect(try f.scalar("SELECT COUNT(*) FROM image WHERE path LIKE '%Linked%' OR path LIKE '%o.dm3'") == "0")
        #expect(f.log.contains("a symbolic link to a folder"), "\(f.log)")
        _ = try AntemactlInspect.run(["close", "S2", "--db", f.database])
        #expect(try f.wait(seconds: 20) { f.log.contains("report not written") }, "\(f.log)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path) == ["o.dm3"])
    }

    @Test("hostile names: a file name that is not UTF-8 is reported, a sample name with control characters is shown escaped and its report stays in the reports folder")
    func hostileNames() throws {
        let reports = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: reports) }
        let d = try DaemonFixture(extra: "[reports]\ndirectory = \"\(reports.path)/{sample}\"")
        try d.start()
        defer { d.stop() }
        let evil = "evil\u{1B}[2J\n..\u{1}sample"
        let folder = try d.sample(evil)
        try FileManager.default.moveItem(at: try d.micrograph("x", seed: 3), to: folder.appendingPathComponent("x.dm3"))
        // a file whose name is not UTF-8, in the same folder
        let bad = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF] + Array(".dm3\0".utf8)
        let staged = try Data(contentsOf: try d.micrograph("y", seed: 4))
        let fd = bad.withUnsafeBufferPointer { p in p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { open($0, O_CREAT | O_WRONLY, 0o644) } }
        #expect(fd >= 0)
        _ = staged.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(d.wait(seconds: 30) { (try? d.scalar("SELECT count(*) FROM image WHERE state = 'done'")) == "1" })
        #expect(d.wait(seconds: 10) { (try? d.scalar("SELECT count(*) FROM daemon_event WHERE message LIKE '%not valid UTF-8%'")) == "1" })
        #expect(d.log.contains("bad\\xFF.dm3") && d.log.contains("not valid UTF-8"))
        // the status shows the name escaped: no escape sequence, no line break from the name
        let status = try AntemactlInspect.run(["status", "--db", d.database])
        #expect(status.stdout.contains("evil\\u{1B}[2J\\n..\\u{1}sample") && !status.stdout.contains("\u{1B}"))
        #expect(!d.log.contains("\u{1B}") && !d.log.contains("\u{1}"))
        // closing writes the report inside the reports folder, under a cleaned name
        let close = try AntemactlInspect.run(["close", evil, "--db", d.database])
        #expect(close.status == 0, "\(close.stderr)")
        #expect(d.wait(seconds: 30) { (try? d.scalar("SELECT state FROM sample")) == "reported" })
        let written = try FileManager.default.contentsOfDirectory(atPath: reports.path)
        #expect(written.count == 1 && !written[0].contains("/") && !written[0].unicodeScalars.contains { $0.value < 0x20 })
        #expect(!FileManager.default.fileExists(atPath: reports.deletingLastPathComponent().appendingPathComponent("sample").path))
    }

    @Test("a folder without read permission is reported in the log and the events, the others go on, and its micrographs are analysed once it can be read",
          .enabled(if: DaemonFixture.canRunAsNobody, "needs root, setpriv and the user nobody (antemad runs as nobody: root bypasses permissions); skipping"))
    func unreadableFolder() throws {
        let reports = FileManager.default.temporaryDirectory.appendingPathComponent("antema-unreadable-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: reports) }
        let d = try DaemonFixture(extra: "[reports]\ndirectory = \"\(reports.path)/{sample}\"")
        let open = try d.sample("open"), closed = try d.sample("closed")
        for k in 0..<2 { try FileManager.default.moveItem(at: try d.micrograph("c\(k)", seed: 20 + k), to: closed.appendingPathComponent("c\(k).dm3")) }
        chmod(closed.path, 0o000)
        defer { chmod(closed.path, 0o755) }
        try d.start(asNobody: true)
        defer { d.stop() }
        try FileManager.default.moveItem(at: try d.micrograph("o", seed: 30), to: open.appendingPathComponent("o.dm3"))
        #expect(d.wait(seconds: 30) { (try? d.scalar("SELECT count(*) FROM image WHERE state = 'done'")) == "1" })
        #expect(d.wait(seconds: 10) { (try? d.scalar("SELECT count(*) FROM daemon_event WHERE message LIKE '%cannot read the folder (Permission denied)%'")) ?? "0" != "0" })
        #expect(d.log.contains("\(closed.path): cannot read the folder (Permission denied)"))
        // readable again: the change of mode is noticed (IN_ATTRIB) and its two micrographs analysed
        chmod(closed.path, 0o755)
        #expect(d.wait(seconds: 30) { (try? d.scalar("SELECT count(*) FROM image WHERE state = 'done'")) == "3" })
    }

    @Test("a bad configuration stops antemad at once with a message naming the key")
    func badConfig() throws {
        let f = try DaemonFixture(analysisExtra: "overlap = \"merge\"")
        let p = Process()
        p.executableURL = DaemonFixture.antemad
        p.arguments = ["--config", f.config.path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 78)
        #expect(text.contains("analysis.overlap"))
        let check = try AntemactlInspect.run(["config", "check", f.config.path])
        #expect(check.status == 78 && check.stderr.contains("analysis.overlap"))
    }

    @Test("config check lists a missing root and a second problem together; antemad starts with a missing root and warns")
    func configCheckListsEverything() throws {
        let f = try DaemonFixture(extra: "[reports]\ndirectory = \"{sampel}/report\"")
        let check = try AntemactlInspect.run(["config", "check", f.config.path])
        #expect(check.status == 78 && check.stderr.contains("reports.directory: unknown placeholder {sampel}"), "\(check.stderr)")
        let g = try DaemonFixture()
        try FileManager.default.removeItem(at: g.root)
        let missing = try AntemactlInspect.run(["config", "check", g.config.path])
        #expect(missing.status == 78 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        try g.start()
        #expect(g.wait(seconds: 20) { g.log.contains("does not exist") && g.log.contains("starting") }, "\(g.log)")
    }
}
