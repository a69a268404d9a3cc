#if canImport(Glibc)
import Glibc
#endif
import Foundation
import class GRDB.Row
import struct GRDB.DatabaseValue
import Logging
@testable import Store
import Testing
import Watcher
import SafeFiles
import Analysis
@testable import AntemaService

/// What antema records when files and folders are renamed, copied, replaced or written with
/// pauses, and when a report cannot be written; each case with the counts a user would expect
/// (docs/reliability.md, "Identity").
@Suite struct Identity {
    struct Setup {
        let dir: String
        let store: AntemaStore
        let ingest: Ingest
        let config: Configuration

        init(dir: String, store: AntemaStore, ingest: Ingest, config: Configuration) {
            self.dir = dir; self.store = store; self.ingest = ingest; self.config = config
        }

        init() throws {
            dir = try IngestAndProcess.tempDir()
            store = try AntemaStore.inMemory()
            ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: ["session.done"], reopenClosed: true, store: store)
            var c = Configuration()
            c.watch.roots = [dir]
            config = c
        }

        func add(_ relative: String, seed: UInt64 = 1) throws -> IngestResult {
            let path = dir + "/" + relative
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try IngestAndProcess.micrograph(path, seed: seed)
            return try ingest.ingest(path: path, observation: FileSystem.observe(path)!)
        }

        func processAll() throws {
            let processor = Processor(store: store, configuration: config, softwareVersion: "test", segmenter: .classical())
            while let image = try store.claimNextQueued() { _ = try processor.process(image) }
        }

        func scalar(_ sql: String) throws -> String? {
            try store.writer.read { db in
                try Row.fetchOne(db, sql: sql).map { row -> String in
                    switch (row[0] as DatabaseValue).storage {
                    case .int64(let i): return String(i)
                    case .string(let t): return t
                    case .double(let d): return String(d)
                    default: return ""
                    }
                }
            }
        }

        func samples() throws -> [SampleRecord] { try store.writer.read { db in try SampleRecord.fetchAll(db) } }
    }

    @Test("a sample folder renamed while open stays one sample: new images join it under the new name, its paths follow, and a marker in the renamed folder closes it")
    func renamedFolder() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3")
        try s.processAll()
        try FileManager.default.moveItem(atPath: s.dir + "/S1", toPath: s.dir + "/Au-renamed")
        // a marker first (no new image): it finds the sample through the folder's identity
        FileManager.default.createFile(atPath: s.dir + "/Au-renamed/session.done", contents: Data())
        let marker = try s.ingest.ingest(path: s.dir + "/Au-renamed/session.done", observation: FileSystem.observe(s.dir + "/Au-renamed/session.done")!)
        let samples = try s.samples()
        #expect(samples.count == 1)
        #expect(marker == .markerClosedSession(sampleId: samples[0].id))
        #expect(samples[0].name == "Au-renamed" && samples[0].folder == s.dir + "/Au-renamed" && samples[0].state == .closing)
        #expect(try s.scalar("SELECT path FROM image") == s.dir + "/Au-renamed/a.dm3")
        #expect(try s.scalar("SELECT COUNT(*) FROM daemon_event WHERE message LIKE '%renamed to%'") == "1")
        // a new image in the renamed folder joins the same sample
        guard case .queued(_, let id) = try s.add("Au-renamed/b.dm3", seed: 2) else { Issue.record("not queued"); return }
        #expect(id == samples[0].id)
    }

    @Test("a copy of an analysed micrograph in another sample is recorded as an event and counted once, where it was first analysed")
    func duplicateInAnotherSample() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3")
        try s.processAll()
        try FileManager.default.createDirectory(atPath: s.dir + "/S2", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: s.dir + "/S1/a.dm3", toPath: s.dir + "/S2/copy.dm3")
        let r = try s.ingest.ingest(path: s.dir + "/S2/copy.dm3", observation: FileSystem.observe(s.dir + "/S2/copy.dm3")!)
        #expect(r == .duplicate(of: s.dir + "/S1/a.dm3", sample: "S1"))
        #expect(try s.scalar("SELECT COUNT(*) FROM image") == "1")
        #expect(try s.scalar("SELECT message FROM daemon_event WHERE message LIKE '%same content%'")?.contains("S2/copy.dm3") == true)
    }

    @Test("a file replaced in place under the same name counts once, as its new content; the old analysis is kept, not current")
    func replacedInPlace() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3", seed: 1)
        try s.processAll()
        #expect(try s.scalar("SELECT image_count || ' ' || particle_count FROM sample") == "1 2")
        _ = try s.add("S1/a.dm3", seed: 7)   // the same name, other content
        try s.processAll()
        #expect(try s.scalar("SELECT image_count || ' ' || particle_count FROM sample") == "1 2")
        #expect(try s.scalar("SELECT COUNT(*) FROM image WHERE superseded_by IS NOT NULL") == "1")
        #expect(try s.scalar("SELECT COUNT(*) FROM analysis") == "2")
        #expect(try s.scalar("SELECT COUNT(*) FROM current_particle") == "2")
        let report = try s.store.contents(sampleId: try s.samples()[0].id!)
        #expect(report.images.count == 1 && report.particles.count == 2)
    }

    @Test("a writer that pauses longer than stable_seconds: the partial file's failure is superseded by the complete file, retry has nothing to do, the report lists the image once")
    func pausedWriter() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        let path = s.dir + "/S1/slow.dm3"
        try IngestAndProcess.micrograph(path, seed: 3)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [full.count / 5, full.count / 2, full.count * 4 / 5] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            guard case .recordedProblem = try s.ingest.ingest(path: path, observation: FileSystem.observe(path)!) else { Issue.record("partial accepted"); return }
        }
        try full.write(to: URL(fileURLWithPath: path))
        guard case .queued = try s.ingest.ingest(path: path, observation: FileSystem.observe(path)!) else { Issue.record("not queued"); return }
        try s.processAll()
        #expect(try s.scalar("SELECT COUNT(*) FROM image WHERE superseded_by IS NULL") == "1")
        #expect(try s.scalar("SELECT COUNT(*) FROM image WHERE state = 'failed' AND superseded_by IS NOT NULL") == "3")
        #expect(try s.store.retryFailed() == 0)
        let report = try s.store.contents(sampleId: try s.samples()[0].id!)
        #expect(report.images.map(\.state) == ["done"])
    }

    @Test("a report that cannot be written leaves the sample closed with the reason, and is written on a later attempt once it can be")
    func reportRetried() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3")
        try s.processAll()
        // a file where the report folder should be (the pictures made it a folder first): the folder cannot be opened
        try FileManager.default.removeItem(atPath: s.dir + "/S1/antema-report")
        #expect(FileManager.default.createFile(atPath: s.dir + "/S1/antema-report", contents: Data("in the way".utf8)))
        let sample = try #require(try s.samples().first)
        try s.store.setSampleState(sample.id!, .closing)
        let service = SessionService(state: DaemonState(configuration: s.config, segmenter: .classical(), configPath: nil), store: s.store,
                                     logger: Logger(label: "test"))
        let t0 = Date()
        try service.step(now: t0)
        let after = try s.samples()
        #expect(after[0].state == .closed, "\(after)")
        #expect(try s.samples()[0].reportError != nil)
        // not retried at once
        try FileManager.default.removeItem(atPath: s.dir + "/S1/antema-report")
        try service.step(now: t0.addingTimeInterval(5))
        #expect(try s.samples()[0].state == .closed)
        // retried after the wait, and written
        try service.step(now: t0.addingTimeInterval(61))
        #expect(try s.samples()[0].state == .reported)
        #expect(try s.samples()[0].reportError == nil)
        #expect(FileManager.default.fileExists(atPath: s.dir + "/S1/antema-report/S1.xlsx"))
    }

    @Test("every analysis by a network records the model's name, version and the SHA-256 of its file; classical analyses record none")
    func modelProvenance() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3")
        let model = try Segmenter.model()
        let processor = Processor(store: s.store, configuration: s.config, softwareVersion: "test", segmenter: model)
        while let image = try s.store.claimNextQueued() { _ = try processor.process(image) }
        guard case .model(let name, let version, let path, _) = model.choice else { Issue.record("not a model"); return }
        let file = sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(try s.scalar("SELECT model_name || ' ' || model_version || ' ' || model_sha256 FROM analysis") == "\(name) \(version) \(file)")
        _ = try s.add("S1/b.dm3", seed: 4)
        try s.processAll()
        #expect(try s.scalar("SELECT COUNT(*) FROM analysis WHERE model_sha256 IS NULL AND segmenter = 'classical'") == "1")
    }

    @Test("after reprocess a reported sample closes again once its images are analysed, and its workbook is written again")
    func reprocessRewritesTheReport() throws {
        let s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        _ = try s.add("S1/a.dm3")
        try s.processAll()
        let id = try #require(try s.samples().first?.id)
        try s.store.setSampleState(id, .closing)
        let service = SessionService(state: DaemonState(configuration: s.config, segmenter: .classical(), configPath: nil), store: s.store,
                                     logger: Logger(label: "test"))
        try service.step(now: Date())
        #expect(try s.samples()[0].state == .reported)
        let workbook = s.dir + "/S1/antema-report/S1.xlsx"
        let before = try #require(SafeFiles.lstatOf(workbook)).st_ino
        #expect(try s.store.requestReprocess(sampleId: id) == 1)
        #expect(try s.samples()[0].state == .closing)
        try service.step(now: Date())
        #expect(try s.samples()[0].state == .closing, "closed before its image was analysed again")
        try s.processAll()
        try service.step(now: Date())
        #expect(try s.samples()[0].state == .reported)
        #expect(try s.scalar("SELECT COUNT(*) FROM analysis") == "2")
        #expect(try #require(SafeFiles.lstatOf(workbook)).st_ino != before, "the workbook was not written again")
    }

    @Test("with reports.group and reports.mode, report folders and files belong to that group with that mode, whatever the umask",
          .enabled(if: geteuid() == 0, "needs root to give files to another group (antemad's user is a member of it in a real set-up)"))
    func reportsReadableByAGroup() throws {
        var s = try Setup()
        defer { try? FileManager.default.removeItem(atPath: s.dir) }
        var config = s.config
        config.reports.group = "users"
        config.reports.mode = 0o640
        s = Setup(dir: s.dir, store: s.store, ingest: s.ingest, config: config)
        let old = umask(0o077)
        defer { umask(old) }
        _ = try s.add("S1/a.dm3")
        try s.processAll()
        let id = try #require(try s.samples().first?.id)
        try ReportWriter(store: s.store, configuration: config).write(sampleId: id, pictures: false)
        let users = try #require(Configuration.Reports.groupID("users"))
        for file in ["S1.xlsx", "S1_particles.csv", "images/a_particles.png", "images/a_mask.png"] {
            let st = try #require(SafeFiles.lstatOf(s.dir + "/S1/antema-report/" + file), "\(file) missing")
            #expect(st.st_gid == users && st.st_mode & 0o7777 == 0o640, "\(file): gid \(st.st_gid) mode \(String(st.st_mode & 0o7777, radix: 8))")
        }
        for folder in ["", "/images"] {
            let st = try #require(SafeFiles.lstatOf(s.dir + "/S1/antema-report" + folder))
            #expect(st.st_gid == users && st.st_mode & 0o7777 == 0o2750, "folder\(folder): mode \(String(st.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test("reports.group and reports.mode are read and checked: an unknown group is a file-system problem, a bad mode names the key")
    func reportSharingSettings() throws {
        let c = try Configuration.parse("[reports]\ngroup = \"users\"\nmode = \"0640\"\n", file: "c.toml")
        #expect(c.reports.group == "users" && c.reports.mode == 0o640)
        #expect(try c.reports.sharing()?.directoryMode == 0o2750)
        #expect(throws: ConfigurationError.self) { try Configuration.parse("[reports]\nmode = \"0755\"\n", file: "c.toml") }
        let unknown = try Configuration.parse("[reports]\ngroup = \"no-such-group-here\"\n", file: "c.toml")
        #expect(unknown.fileSystemProblems(file: "c.toml").contains { $0.key == "reports.group" })
    }
}
