#if canImport(Glibc)
import Glibc
#endif
import Foundation
import class GRDB.Row
import Analysis
import GatanDM
@testable import Store
import Testing
import Watcher
@testable import AntemaService

@Suite struct ConfigurationFiles {
    @Test("an empty file gives the documented defaults, and the example file parses to the same")
    func defaults() throws {
        let empty = try Configuration.parse("")
        #expect(empty == Configuration())
        #expect(empty.watch.roots == ["/srv/microscope/export"] && empty.watch.mode == .auto && empty.watch.stableSeconds == 2)
        #expect(empty.session.depth == 1 && empty.session.idleCloseMinutes == 30 && empty.session.markerFiles == ["session.done"])
        #expect(empty.store.database == "/var/lib/antema/antema.sqlite")
        #expect(empty.reports.directory == "{sample_folder}/antema-report")
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config.example.toml").path
        #expect(try Configuration.load(path: example) == Configuration())
    }

    @Test("settings are read with their names")
    func values() throws {
        let c = try Configuration.parse("""
            [watch]
            roots = ["/a", "/b"]
            mode = "poll"
            poll_interval_seconds = 3
            stable_seconds = 0.5
            patterns = ["*.dm4"]
            [session]
            depth = 2
            idle_close_minutes = 1.5
            marker_files = []
            reopen_closed = false
            [store]
            database = "/x/y.sqlite"
            [analysis]
            overlap = "flag"
            contrast = "bright"
            relative_speck_area = 0
            """)
        #expect(c.watch.roots == ["/a", "/b"] && c.watch.mode == .poll && c.watch.pollIntervalSeconds == 3 && c.watch.stableSeconds == 0.5)
        #expect(c.session.depth == 2 && c.session.idleCloseMinutes == 1.5 && c.session.markerFiles.isEmpty && !c.session.reopenClosed)
        #expect(c.store.database == "/x/y.sqlite" && c.analysis.overlap == .flag && c.analysis.contrast == .brightParticles)
        #expect(c.analysis.relativeSpeckArea == 0 && c.analysisParameters.relativeSpeckArea == 0, "0 turns the debris rule off")
    }

    @Test("bad settings name the key and why", arguments: [
        ("[watch]\nmode = \"sometimes\"", "watch.mode"),
        ("[watch]\nroots = \"/a\"", "watch.roots"),
        ("[watch]\nroots = [\"relative\"]", "watch.roots"),
        ("[watch]\nstable_seconds = -1", "watch.stable_seconds"),
        ("[watch]\nrootz = [\"/a\"]", "watch.rootz"),
        ("[session]\ndepth = 1.5", "session.depth"),
        ("[sessions]\ndepth = 1", "sessions"),
        ("[analysis]\noverlap = \"merge\"", "analysis.overlap"),
        ("[analysis]\nsegmenter = \"deep\"", "analysis.segmenter"),
        ("[analysis]\nthreshold = 1.5", "analysis.threshold"),
        ("[analysis]\nrelative_speck_area = 1", "analysis.relative_speck_area"),
        ("[analysis]\nrelative_speck_area = -0.1", "analysis.relative_speck_area"),
        ("[log]\nlevel = \"loud\"", "log.level"),
        ("[watch]\nroots = [\"/\"]", "watch.roots"),
        ("[watch]\nroots = [\"//./\"]", "watch.roots"),
        ("[watch]\nroots = [\"/srv/export\", \"/srv/export/tem2\"]", "watch.roots"),
        ("[watch]\nroots = [\"/srv/export\", \"/srv/export/\"]", "watch.roots"),
        ("[watch]\nroots = [\"/srv/export\"]\n[store]\ndatabase = \"/srv/export/antema.sqlite\"", "store.database"),
        ("[reports]\ndirectory = \"{sampel}/r\"", "reports.directory"),
    ])
    func badKeys(toml: String, key: String) {
        let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(toml, file: "c.toml") }
        #expect(e?.key == key)
        #expect(e?.description.hasPrefix("c.toml: \(key): ") == true)
    }

    @Test("every problem of a file is listed at once, each with its key")
    func everyProblemListed() {
        let toml = """
            [watch]
            roots = ["/", "relative"]
            mode = "sometimes"
            rootz = 1
            [store]
            database = "/srv/db.sqlite"
            [reports]
            directory = "{sampel}/{sample}/{x"
            [log]
            level = "loud"
            """
        let e = #expect(throws: ConfigurationProblems.self) { try Configuration.parse(toml, file: "c.toml") }
        let keys = e?.problems.compactMap(\.key) ?? []
        #expect(keys.sorted() == ["log.level", "reports.directory", "reports.directory", "watch.mode", "watch.rootz", "watch.roots", "watch.roots"].sorted(), "\(keys)")
        #expect(e?.description.hasPrefix("7 problems:\n") == true)
    }

    @Test("a root that does not exist passes parsing (a share may be mounted later) but is a file-system problem, which config check reports")
    func missingRootIsAFileSystemProblem() throws {
        let c = try Configuration.parse("[watch]\nroots = [\"/nonexistent/antema-root\", \"/etc/hostname\", \"/tmp\"]", file: "c.toml")
        let problems = c.fileSystemProblems(file: "c.toml")
        #expect(problems.map(\.message) == ["\"/nonexistent/antema-root\" does not exist (No such file or directory)", "\"/etc/hostname\" is not a folder"])
    }

    @Test("the bundled instance model is the default segmenter; model 2.1 and classical stay selectable; a model that cannot load names analysis.model")
    func segmenters() throws {
        #expect(Configuration().analysis.segmenter == .instance)
        #expect(try Configuration().makeSegmenter().label.hasPrefix("model antema-unet-instance"))
        let v21 = try Configuration.parse("[analysis]\nsegmenter = \"model\"", file: "c.toml").makeSegmenter().label
        #expect(v21.hasPrefix("model antema-unet ") && !v21.contains("instance"))
        #expect(try Configuration.parse("[analysis]\nsegmenter = \"classical\"", file: "c.toml").makeSegmenter().label == "classical")
        let c = try Configuration.parse("[analysis]\nmodel = \"/nonexistent/m.onnx\"\nthreshold = 0.4", file: "c.toml")
        #expect(c.analysis.threshold == 0.4)
        let e = #expect(throws: ConfigurationError.self) { try c.makeSegmenter(configurationFile: "c.toml") }
        #expect(e?.key == "analysis.model" && e?.description.contains("/nonexistent/m.onnx") == true)
    }

    @Test("non-ASCII text outside strings and comments, and table names starting with a stray character, are refused with line and column, never reaching toml++'s assertion (fuzzer findings)")
    func nonASCIIOutsideStrings() throws {
        // the fuzzer's input: '[' followed by invalid UTF-8 (decoded to U+FFFD) aborted the process
        let finding = Data(base64Encoded: "W/////////////////////////////////////////////////////93W3RtYXhfaW1hZ2VfcGl4ZWxzY2hdCnJvb3RzID0gWyIvYSJdCg==")!
        for text in [String(decoding: finding, as: UTF8.self), "[échantillon]\n", "[watch]\nrôots = [\"/a\"]\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("outside a string or comment") == true && e?.message.contains("line") == true)
        }
        // the second finding: a table header starting with an ASCII character toml++ does not expect
        let second = Data(base64Encoded: "WyEiAGxbd2F0Y3IKb2RoIG89ICJkZWJ1ZyIK")!
        for text in [String(decoding: second, as: UTF8.self), "[!watch]\n", "[[ !a]]\n", "[watch]\nroots = [\"/a\"]\n[ %log]\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            // (the finding also holds a NUL, reported first now that control characters are checked)
            #expect(e?.message.contains("cannot start with") == true || (text.contains("\u{0}") && e?.message.contains("control character") == true), "\(text)")
        }
        // the third: a header bracket with no name before the line ends
        let third = "[\niaswt]{egmem\"tax_imageirker_fi"
        // and the fourth: a header with more than two opening brackets
        for text in [third, "[\n", "[", "[ \t\r\n", "x = {\n", "[[[analysis]\n", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[analysis]\nx = 1\n", "[ [a]\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("missing") == true || e?.message.contains("cannot start") == true, "\(text)")
        }
        // the fifth: a value that starts with a value terminator
        for text in ["#[h]\nr=[ [}\"/", "a = }\n", "a = [1, }]\n", "a = [,]\n", "a =\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("value is missing") == true, "\(text)")
        }
        // the sixth: a date-time followed by a form feed and NULs; no control character but tab and line ends anywhere
        let sixth = String(decoding: Data(base64Encoded: "LT0wMDgwLTAyLTI0IDAMAAAAAAAAAD0=")!, as: UTF8.self)
        for text in [sixth, "a = 1\u{0}\n", "# comment \u{7F}\n", "a = \"x\u{1B}[2J\"\n", "a = '''\n\u{8}'''\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("control character U+") == true && e?.message.contains("line") == true, "\(text)")
        }
        #expect(try Configuration.parse("[watch]\r\nroots = [\"/a\"]\t# tab and CRLF are fine\r\n", file: "c.toml").watch.roots == ["/a"])
        // dates and times are no setting's type: refused before toml++'s date-time parser sees them
        for text in ["-=0080-02-24 0=", "a = 1979-05-27\n", "a = 1979-05-27T07:32:00Z\n", "a = 07:32:00\n", "a = [2020-01-01]\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("no setting takes a date or a time") == true, "\(text)")
        }
        #expect(try Configuration.parse("[watch]\nroots = [\"/srv/2024-05-01 12:00\"] # 12:00\nstable_seconds = 2\n", file: "c.toml").watch.roots == ["/srv/2024-05-01 12:00"])
        // the seventh: an unquoted value that is no number or boolean ('0"' and invalid UTF-8)
        let seventh = String(decoding: Data(base64Encoded: "dGVyID0wIoItLS0tLWxlIDIJCQkJcnJyNDRh")!, as: UTF8.self)
        for text in [seventh, "a = 0\"x\"\n", "a = yes\n", "a = 1__0\n", "a = 01\n", "a = 1.\n", "a = [1, two]\n", "a = { b = c }\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("is not a value") == true, "\(text)")
        }
        // the eighth: text after a multi-line string closed by four quotes was misread, so a header
        // with many brackets on a later line went unseen; and a one-line string must close on its line
        let eighth = String(decoding: Data(base64Encoded: "ZCA9Jycn////W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1sKW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbXVtbW1tbW1tbW1tbClv///8nJycnI1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbWwpbW1tbW1sKCg==")!, as: UTF8.self)
        for text in [eighth, "a = '''x''''\n[[[b]\n", "a = 'x\n", "a = \"x\n\"\n"] {
            let e = #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.toml") }
            #expect(e?.message.contains("not closed on its line") == true || e?.message.contains("cannot start with '['") == true, "\(text)")
        }
        var fourQuotes = try Configuration.parse("[watch]\nroots = ['''/a'''']\n", file: "c.toml")
        #expect(fourQuotes.watch.roots == ["/a'"])
        fourQuotes = try Configuration.parse("[watch]\nroots = [\"\"\"/b\"\"\"\"\", \"/c\"]\n", file: "c.toml")
        #expect(fourQuotes.watch.roots == ["/b\"\"", "/c"])
        for value in ["true", "false", "0", "-17", "+3", "1_000", "0x1F", "0o17", "0b101", "1.5", "-2.5e-3", "6E10", "inf", "-nan", "1e1_0"] {
            #expect(Configuration.isBareValue(value), "\(value)")
        }
        #expect(try Configuration.parse("[processing]\nmax_image_pixels = 1_000_000\n[analysis]\nthreshold = 5e-1\n", file: "c.toml").processing.maxImagePixels == 1_000_000)
        // arrays still parse: empty, trailing comma, nested, spread over lines
        #expect(try Configuration.parse("[watch]\nroots = [\n  \"/a\", # first\n  \"/b\",\n]\npatterns = [\"*.dm3\",]\n", file: "c.toml").watch.roots == ["/a", "/b"])
        // non-ASCII inside strings and comments is fine
        let c = try Configuration.parse("# données du microscope\n[watch]\nroots = [\"/données/échantillons\", '/srv/µscope']\n", file: "c.toml")
        #expect(c.watch.roots == ["/données/échantillons", "/srv/µscope"])
    }

    @Test("a file that is not TOML says where")
    func notTOML() {
        let e = #expect(throws: ConfigurationError.self) { try Configuration.parse("[watch\nroots = 1", file: "c.toml") }
        #expect(e?.message.contains("line 1") == true)
    }
}

@Suite struct Sessions {
    @Test("a sample is the first-level folder under its root by default")
    func rules() {
        let r = SessionRules(roots: ["/export", "/export/deep/"], depth: 1)
        #expect(r.sample(for: "/export/Au-01/img.dm3")?.folder == "/export/Au-01")
        #expect(r.sample(for: "/export/Au-01/sub/img.dm3")?.name == "Au-01")
        #expect(r.sample(for: "/export/deep/x/img.dm3")?.root == "/export/deep")
        #expect(r.sample(for: "/export/img.dm3")?.folder == "/export")
        #expect(r.sample(for: "/export/img.dm3")?.name == "export")
        #expect(r.sample(for: "/elsewhere/img.dm3") == nil)
        #expect(r.sample(for: "/exported/img.dm3") == nil)
        let two = SessionRules(roots: ["/e"], depth: 2)
        #expect(two.sample(for: "/e/2026/Au/img.dm3")?.name == "2026/Au")
    }
}

@Suite struct IngestAndProcess {
    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("antema-ingest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d + "/S1", withIntermediateDirectories: true)
        return d
    }

    /// Two discs of radius 10 px; `calibrated`: 0.2 nm pixels, else no unit at all.
    static func micrograph(_ path: String, seed: UInt64 = 1, frames: Int = 1, calibrated: Bool = true) throws {
        let size = 96
        var pixels: [Float] = []
        var rng = SeededBits(seed)
        for _ in 0..<frames {
            var frame = [Float](repeating: 1000, count: size * size)
            for r in 0..<size { for c in 0..<size {
                frame[r * size + c] += Float(rng.next() % 40)
                for (cy, cx) in [(30, 30), (60, 62)] where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 100 { frame[r * size + c] -= 400 }
            } }
            pixels += frame
        }
        let nm = calibrated ? DMAxis(scale: 0.2, origin: 0, unit: "nm") : DMAxis(scale: 1, origin: 0, unit: "")
        let shape = frames > 1 ? [frames, size, size] : [size, size]
        let axes = frames > 1 ? [DMAxis(scale: 1, origin: 0, unit: ""), nm, nm] : [nm, nm]
        try Data(DMWriter.write([DMImageToWrite(title: "m", shape: shape, axes: axes, pixels: .float32(pixels))])).write(to: URL(fileURLWithPath: path))
    }

    struct SeededBits { var s: UInt64; init(_ s: UInt64) { self.s = s &+ 1 }; mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s } }

    @Test("a micrograph is queued once, wherever it moves; a stack gives one row per frame")
    func queueOnce() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: ["session.done"], reopenClosed: true, store: store)
        try Self.micrograph(dir + "/S1/a.dm3")
        let o = FileSystem.observe(dir + "/S1/a.dm3")!
        guard case .queued(1, let sampleId) = try ingest.ingest(path: dir + "/S1/a.dm3", observation: o) else { Issue.record("not queued"); return }
        try FileManager.default.createDirectory(atPath: dir + "/S2", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: dir + "/S1/a.dm3", toPath: dir + "/S2/a.dm3")
        #expect(try ingest.ingest(path: dir + "/S2/a.dm3", observation: FileSystem.observe(dir + "/S2/a.dm3")!) == .duplicate(of: dir + "/S1/a.dm3", sample: "S1"))
        try Self.micrograph(dir + "/S1/stack.dm3", seed: 2, frames: 3)
        #expect(try ingest.ingest(path: dir + "/S1/stack.dm3", observation: FileSystem.observe(dir + "/S1/stack.dm3")!) == .queued(frames: 3, sampleId: sampleId))
        #expect(try store.pendingImageCount(sampleId: sampleId) == 4)
        // the marker closes the session
        FileManager.default.createFile(atPath: dir + "/S1/session.done", contents: Data())
        #expect(try ingest.ingest(path: dir + "/S1/session.done", observation: FileSystem.observe(dir + "/S1/session.done")!) == .markerClosedSession(sampleId: sampleId))
        #expect(try store.openSamples().first { $0.id == sampleId }?.state == .closing)
    }

    @Test("corrupt files are recorded as failed and spectra as skipped, with the reason; a file that changes while read is retracked")
    func problems() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        try Data("not DM".utf8).write(to: URL(fileURLWithPath: dir + "/S1/bad.dm3"))
        guard case .recordedProblem(let why) = try ingest.ingest(path: dir + "/S1/bad.dm3", observation: FileSystem.observe(dir + "/S1/bad.dm3")!) else { Issue.record("accepted"); return }
        #expect(why.contains("DM header"))
        var m = DMMetadata(); m.format = "Spectrum"
        try Data(DMWriter.write([DMImageToWrite(title: "s", shape: [4, 4], pixels: .float32([Float](repeating: 1, count: 16)), metadata: m)])).write(to: URL(fileURLWithPath: dir + "/S1/eels.dm3"))
        guard case .recordedProblem = try ingest.ingest(path: dir + "/S1/eels.dm3", observation: FileSystem.observe(dir + "/S1/eels.dm3")!) else { Issue.record("accepted"); return }
        let states = try store.writer.read { db in try String.fetchAll(db, sql: "SELECT state FROM image ORDER BY id") }
        #expect(states == ["failed", "skipped"])
        try Self.micrograph(dir + "/S1/c.dm3")
        let stale = FileObservation(sizeBytes: 1, modifiedAt: 0)
        #expect(try ingest.ingest(path: dir + "/S1/c.dm3", observation: stale) == .changedWhileReading)
    }

    @Test("processing analyses a queued frame and stores its particles; a file changed since queued fails clearly")
    func process() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        try Self.micrograph(dir + "/S1/a.dm3")
        _ = try ingest.ingest(path: dir + "/S1/a.dm3", observation: FileSystem.observe(dir + "/S1/a.dm3")!)
        var config = Configuration()
        config.watch.roots = [dir]
        let processor = Processor(store: store, configuration: config, softwareVersion: "test", segmenter: .classical())
        let image = try #require(try store.claimNextQueued())
        #expect(try processor.process(image) == .analysed(particles: 2))
        let row = try store.writer.read { db in try ImageRecord.fetchOne(db, key: image.id!)! }
        #expect(row.state == .done && row.widthPx == 96 && abs(row.pixelSizeXNm! - 0.2) < 1e-6)
        // a second file, then changed on disk before processing
        try Self.micrograph(dir + "/S1/b.dm3", seed: 5)
        _ = try ingest.ingest(path: dir + "/S1/b.dm3", observation: FileSystem.observe(dir + "/S1/b.dm3")!)
        try Self.micrograph(dir + "/S1/b.dm3", seed: 6)
        let next = try #require(try store.claimNextQueued())
        guard case .failed(let why) = try processor.process(next) else { Issue.record("changed file analysed"); return }
        #expect(why.contains("changed since it was queued"))
    }

    @Test("a micrograph without a calibration is analysed and measured in pixels: no pixel size, nm values NULL, px values filled, a warning in the event log")
    func uncalibratedMicrographIsMeasuredInPixels() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        try Self.micrograph(dir + "/S1/u.dm3", calibrated: false)
        guard case .queued(1, let sampleId) = try ingest.ingest(path: dir + "/S1/u.dm3", observation: FileSystem.observe(dir + "/S1/u.dm3")!) else {
            Issue.record("not queued"); return
        }
        var config = Configuration()
        config.watch.roots = [dir]
        let processor = Processor(store: store, configuration: config, softwareVersion: "test", segmenter: .classical())
        let image = try #require(try store.claimNextQueued())
        #expect(try processor.process(image) == .analysed(particles: 2))
        let row = try store.writer.read { db in try ImageRecord.fetchOne(db, key: image.id!)! }
        #expect(row.state == .done && row.pixelSizeXNm == nil && row.pixelSizeYNm == nil)
        let particles = try store.contents(sampleId: sampleId).particles.map(\.measurement)
        #expect(particles.count == 2)
        for m in particles {
            #expect(!m.isCalibrated && m.areaNm2 == nil && m.feretMaxNm == nil)
            // discs of radius 10 px: about 20 px across (the smoothing blurs the edge a little)
            #expect(abs(m.equivalentDiameterPx - 21) < 3, "\(m.equivalentDiameterPx) px")
        }
        let aggregates = Dictionary(uniqueKeysWithValues: try store.aggregates(sampleId: sampleId).map { ($0.measurement, $0) })
        #expect(aggregates["equivalent_diameter_nm"]?.n == 0 && aggregates["equivalent_diameter_px"]?.n == 2)
        let events = try store.writer.read { db in try String.fetchAll(db, sql: "SELECT message FROM daemon_event WHERE level = 'warning'") }
        #expect(events.contains { $0.contains("u.dm3") && $0.contains("no calibration: measured in pixels") })
    }

    @Test("a file deleted or truncated between its event and its analysis fails with the reason, is recorded, and the next image is analysed")
    func vanishedAndTruncated() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        for (k, name) in ["gone", "cut", "fine"].enumerated() {
            try Self.micrograph(dir + "/S1/\(name).dm3", seed: UInt64(10 + k))
            _ = try ingest.ingest(path: dir + "/S1/\(name).dm3", observation: FileSystem.observe(dir + "/S1/\(name).dm3")!)
        }
        try FileManager.default.removeItem(atPath: dir + "/S1/gone.dm3")
        let cut = try Data(contentsOf: URL(fileURLWithPath: dir + "/S1/cut.dm3"))
        try cut.prefix(cut.count / 3).write(to: URL(fileURLWithPath: dir + "/S1/cut.dm3"))
        var config = Configuration()
        config.watch.roots = [dir]
        let processor = Processor(store: store, configuration: config, softwareVersion: "test", segmenter: .classical())
        var outcomes: [String: Processor.Outcome] = [:]
        while let image = try store.claimNextQueued() { outcomes[(image.path as NSString).lastPathComponent] = try processor.process(image) }
        guard case .failed(let gone) = outcomes["gone.dm3"], case .failed(let truncated) = outcomes["cut.dm3"] else {
            Issue.record("a vanished or truncated file was analysed: \(outcomes)"); return
        }
        #expect(gone.contains("gone or unreadable"))
        #expect(truncated.contains("changed since it was queued"))
        #expect(outcomes["fine.dm3"] == .analysed(particles: 2))
        let recorded = try store.writer.read { db in
            try String.fetchAll(db, sql: "SELECT path || ' ' || state || ' ' || coalesce(error, '') FROM image ORDER BY path").map { String($0.split(separator: "/").last!) }
        }
        #expect(recorded.count == 3)
        #expect(recorded[0].hasPrefix("cut.dm3 failed") && recorded[0].contains("changed since it was queued"))
        #expect(recorded[1] == "fine.dm3 done ")
        #expect(recorded[2].hasPrefix("gone.dm3 failed") && recorded[2].contains("gone or unreadable"))
        // the truncated file's new content, when its event comes, is recorded as not analysable, naming where the data runs out
        guard case .recordedProblem(let why) = try ingest.ingest(path: dir + "/S1/cut.dm3", observation: FileSystem.observe(dir + "/S1/cut.dm3")!) else {
            Issue.record("the truncated file was accepted"); return
        }
        #expect(why.contains("bytes left") && why.contains("at byte"), "\(why)")
    }

    @Test("a link to a file outside the roots is recorded as skipped by its path alone: nothing of the target is read or stored")
    func linkedFileNotFollowed() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let secret = dir + "-secret.dm3"
        try Self.micrograph(secret)
        defer { try? FileManager.default.removeItem(atPath: secret) }
        symlink(secret, dir + "/S1/x.dm3")
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        let observation = try #require(FileSystem.observe(dir + "/S1/x.dm3"))
        guard case .recordedProblem(let why) = try ingest.ingest(path: dir + "/S1/x.dm3", observation: observation) else {
            Issue.record("a linked file was read"); return
        }
        #expect(why.contains("symbolic link"))
        let secretHash = sha256Hex(Array(try Data(contentsOf: URL(fileURLWithPath: secret))))
        let rows = try store.writer.read { db in try Row.fetchAll(db, sql: "SELECT state, content_sha256, file_size_bytes, error FROM image") }
        #expect(rows.count == 1)
        #expect(rows[0]["state"] as String == "skipped")
        #expect(rows[0]["content_sha256"] as String != secretHash)
        #expect(rows[0]["file_size_bytes"] as Int64 == 0)
    }

    @Test("a file over watch.max_file_mb is recorded as failed with its size and the limit, unread")
    func oversizeFileRefused() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/S1/huge.dm4"
        let fd = open(path, O_WRONLY | O_CREAT, 0o644)
        ftruncate(fd, 3 << 30)  // sparse: 3 GB that would take 3 GB of memory to read
        close(fd)
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, maxFileBytes: 2048 * 1_048_576, store: store)
        guard case .recordedProblem(let why) = try ingest.ingest(path: path, observation: FileSystem.observe(path)!) else {
            Issue.record("accepted"); return
        }
        #expect(why.contains("3072 MB") && why.contains("2048 MB") && why.contains("watch.max_file_mb"), "\(why)")
    }

    @Test("a report folder replaced by a link is refused, and nothing is written where it points")
    func reportFolderLinkRefused() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outside = dir + "-outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        symlink(outside, dir + "/S1/antema-report")
        let store = try AntemaStore.inMemory()
        let ingest = Ingest(rules: SessionRules(roots: [dir], depth: 1), markerFiles: [], reopenClosed: true, store: store)
        try Self.micrograph(dir + "/S1/a.dm3")
        guard case .queued(_, let sampleId) = try ingest.ingest(path: dir + "/S1/a.dm3", observation: FileSystem.observe(dir + "/S1/a.dm3")!) else {
            Issue.record("not queued"); return
        }
        var config = Configuration()
        config.watch.roots = [dir]
        let processor = Processor(store: store, configuration: config, softwareVersion: "test", segmenter: .classical())
        #expect(try processor.process(try #require(try store.claimNextQueued())) == .analysed(particles: 2))
        #expect { try ReportWriter(store: store, configuration: config).write(sampleId: sampleId, pictures: false) } throws: { e in
            "\(e)".contains("symbolic link")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
    }

    @Test("the report folder of a template outside the roots is opened below the template's fixed part")
    func reportBaseOfTemplates() {
        #expect(reportBase(template: "{sample_folder}/antema-report", directory: "/srv/x/S1/antema-report", roots: ["/srv/x"]) == "/srv/x")
        #expect(reportBase(template: "/var/lib/antema/reports/{sample}", directory: "/var/lib/antema/reports/S1", roots: ["/srv/x"]) == "/var/lib/antema/reports")
        #expect(reportBase(template: "/var/lib/antema/r-{sample}", directory: "/var/lib/antema/r-S1", roots: ["/srv/x"]) == "/var/lib/antema")
        #expect(reportBase(template: "/reports", directory: "/reports", roots: ["/srv/x"]) == "/reports")
    }

    @Test("SHA-256 of known inputs")
    func sha() {
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct LogFloodLimits {
    @Test("a repeated store error is logged once a minute with the count of repeats not logged; another error is logged at once")
    func repeats() {
        let limiter = RepeatLimiter(intervalSeconds: 60)
        #expect(limiter.shouldLog("disk is full", now: 0) == 0)
        for t in 1...19 { #expect(limiter.shouldLog("disk is full", now: Double(t)) == nil) }
        #expect(limiter.shouldLog("read-only", now: 20) == 0)
        #expect(limiter.shouldLog("disk is full", now: 61) == 19)
        #expect(limiter.shouldLog("disk is full", now: 62) == nil)
    }
}
