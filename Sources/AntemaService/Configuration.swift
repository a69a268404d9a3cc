#if canImport(Glibc)
import Glibc
#endif
import Analysis
import Facility
import Foundation
import Journal
import Logging
import Pipeline
import SafeFiles
import Store
import TOMLKit
import Watcher

/// antemad's configuration: nested values with documented defaults (`config.example.toml` lists
/// every setting). Loaded from TOML; every problem names the key and why.
public struct Configuration: Sendable, Equatable {
    public enum WatchMode: String, Sendable, CaseIterable { case auto, inotify, poll }

    public struct Watch: Sendable, Equatable {
        /// Folders to watch (recursively).
        public var roots: [String] = ["/srv/microscope/export"]
        /// `auto` polls roots on network file systems and uses inotify elsewhere.
        public var mode: WatchMode = .auto
        public var pollIntervalSeconds: Double = 10
        /// A file is complete when unchanged this long (1 s, at most this, after it was closed).
        public var stableSeconds: Double = 2
        public var patterns: [String] = ["*.dm3", "*.dm4"]
        /// Largest file read, in MB (MiB): larger files are recorded as refused without being
        /// read. 2048 holds a 4096 x 4096 float32 stack of 32 frames.
        public var maxFileMb: Double = 2048
        public var maxFileBytes: Int64 { Int64(maxFileMb * 1_048_576) }
    }

    public struct Session: Sendable, Equatable {
        /// A sample is a folder this deep under a watch root (1 = first-level folders).
        public var depth: Int = 1
        /// A session closes when no image arrived for this long.
        public var idleCloseMinutes: Double = 30
        /// A file with one of these names closes its session.
        public var markerFiles: [String] = ["session.done"]
        /// An image arriving in a closed session reopens it.
        public var reopenClosed: Bool = true
    }

    public struct Store: Sendable, Equatable {
        /// The local SQLite file: the queue and every result, always (also with `url`).
        public var database: String = "/var/lib/antema/antema.sqlite"
        /// A facility's PostgreSQL (`postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]`):
        /// results are shipped there from the local file. nil: the local file only.
        public var url: String? = nil
        /// A file whose first line is the PostgreSQL password (else libpq's PGPASSFILE / ~/.pgpass).
        public var passwordFile: String? = nil
        /// The read-only role `antemactl query/samples/show` connect as (default: `url`).
        public var readerUrl: String? = nil
    }

    public struct Instrument: Sendable, Equatable {
        /// Recorded on every sample and image; tells instruments apart in a facility database.
        public var name: String = AntemaStore.hostInstrumentName
    }

    public struct Reports: Sendable, Equatable {
        /// Where a sample's reports go; `{sample_folder}` and `{sample}` are replaced.
        public var directory: String = "{sample_folder}/antema-report"
        /// The group that owns the report folders and files (a lab's users in it can read them);
        /// nil: antemad's own group.
        public var group: String? = nil
        /// The mode of report files, exactly (folders get the same with search bits); nil: 0644
        /// less the service's umask (0640 under the shipped unit), or 0640 with a group.
        public var mode: mode_t? = nil

        /// What `SafeFiles` applies to report folders and files; nil when nothing is configured.
        public func sharing() throws -> SafeFiles.Sharing? {
            guard group != nil || mode != nil else { return nil }
            var gid: gid_t? = nil
            if let group {
                guard let g = Reports.groupID(group) else {
                    throw ConfigurationError(file: "configuration", key: "reports.group", message: "there is no group \"\(group)\"")
                }
                gid = g
            }
            return SafeFiles.Sharing(group: gid, fileMode: mode ?? 0o640)
        }

        /// The group's id, from its name or number.
        static func groupID(_ name: String) -> gid_t? {
            if let n = UInt32(name) { return n }
            var entry = Glibc.group(), result: UnsafeMutablePointer<Glibc.group>? = nil
            var buffer = [CChar](repeating: 0, count: 16384)
            guard getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0, let result else { return nil }
            return result.pointee.gr_gid
        }
    }

    public struct Processing: Sendable, Equatable {
        /// Images analysed at the same time (each uses the pipeline's own parallelism).
        public var concurrentImages: Int = 1
        /// On SIGTERM, the current image may finish within this time; then it is abandoned
        /// (and analysed again on the next start).
        public var shutdownGraceSeconds: Double = 30
        /// Largest image accepted, in pixels (width x height).
        public var maxImagePixels: Int = 100_000_000
    }

    public struct Analysis: Sendable, Equatable {
        /// "model" (the bundled network, or `model`), "instance" (the bundled instance-aware
        /// network) or "classical".
        public var segmenter: SegmenterKind = .instance
        /// An ONNX model to use instead of the bundled one (metadata in `<model>.json`).
        public var model: String? = nil
        /// Particle where the network's probability is at least this.
        public var threshold: Double = 0.5
        public var contrast: Contrast = .auto
        public var overlap: OverlapMode = .network
        public var minDiameterNm: Double = 0.5
        /// The same in pixels, for images without a calibration (measured in pixels).
        public var minDiameterPx: Double = 2
        /// Objects with convexity at or below this go to UECS (ANTEMA's 0.95).
        public var convexityThreshold: Double = 0.95
        /// Particles of a network with a lower mean probability are dropped (nil: the model's
        /// own minimum, 0 for models without one).
        public var minConfidence: Double? = nil
        /// A network's particle smaller than this fraction of the frame's median particle area
        /// and not sure (confidence below 0.85) is debris; 0 turns it off.
        public var relativeSpeckArea: Double = AnalysisParameters().relativeSpeckArea
        /// Rectangles [x, y, width, height] in pixels where nothing is counted.
        public var excludeRegions: [[Int]] = []
        /// Find burned-in scale bars, labels and panel letters and leave them out.
        public var detectAnnotations: Bool = true
    }

    public struct Log: Sendable, Equatable {
        public var level: Logger.Level = .info
    }

    public var watch = Watch()
    public var session = Session()
    public var store = Store()
    public var instrument = Instrument()
    public var reports = Reports()
    public var processing = Processing()
    public var analysis = Analysis()
    public var log = Log()

    public init() {}

    /// The watch root holding `path` (the longest that does), or nil.
    public func watchRoot(of path: String) -> String? {
        watch.roots.filter { SafeFiles.components(of: path, below: $0) != nil }.max { $0.count < $1.count }
    }

    /// The input path of the daemon: `processing.max_image_pixels`; frames without a calibration are measured in pixels.
    public var frameLoader: InputLoader {
        var loader = InputLoader(fallbackPixelSizeNm: nil, maxImagePixels: processing.maxImagePixels)
        loader.maxPixelsSetting = "processing.max_image_pixels"
        return loader
    }

    /// The settings of a run: the configured segmenter and analysis parameters.
    public func runSettings(softwareVersion: String, segmenter: Segmenter) -> RunSettings {
        RunSettings(antemaVersion: softwareVersion, segmenter: segmenter.choice, analysis: analysisParameters, fallbackPixelSizeNm: nil,
                    excludeRegions: analysis.excludeRegions, detectAnnotations: analysis.detectAnnotations)
    }

    /// The configured segmenter, ready to run (loads the network: do it once, not per image).
    public func makeSegmenter(configurationFile: String = "configuration") throws -> Segmenter {
        do { return try Segmenter.make(analysis.segmenter, modelPath: analysis.model, threshold: analysis.threshold, contrast: analysis.contrast) } catch {
            throw ConfigurationError(file: configurationFile, key: analysis.model == nil ? "analysis.segmenter" : "analysis.model", message: "\(error)")
        }
    }

    /// The analysis parameters this configuration asks for.
    public var analysisParameters: AnalysisParameters {
        var p = AnalysisParameters()
        p.overlap = analysis.overlap
        p.minimumDiameterNm = analysis.minDiameterNm
        p.minimumDiameterPx = analysis.minDiameterPx
        p.convexityThreshold = analysis.convexityThreshold
        p.minimumConfidence = analysis.minConfidence
        p.relativeSpeckArea = analysis.relativeSpeckArea
        return p
    }
}

extension Configuration {
    /// A TOML boolean, integer (decimal, hex, octal, binary; `_` between digits) or float
    /// (fraction and/or exponent, `inf`, `nan`), as the specification writes them.
    static func isBareValue(_ token: String) -> Bool {
        bareValuePatterns.contains { token.wholeMatch(of: $0) != nil }
    }

    nonisolated(unsafe) static let bareValuePatterns: [Regex<AnyRegexOutput>] = [
        "true|false",
        "[+-]?(0|[1-9](_?[0-9])*)",
        "0x[0-9A-Fa-f](_?[0-9A-Fa-f])*|0o[0-7](_?[0-7])*|0b[01](_?[01])*",
        "[+-]?(0|[1-9](_?[0-9])*)(\\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?",
        "[+-]?(inf|nan)",
    ].map { try! Regex($0) }

    /// toml++ (under TOMLKit) aborts the whole process on assertions where the text breaks
    /// TOML's grammar in ways its callers are assumed to have checked (table or key names starting
    /// with an unexpected character, malformed unquoted values, control characters, strings it
    /// closes elsewhere; all found by fuzzing). The text is checked for those first; the error
    /// names the line and column.
    static func checkBareText(_ text: String, file: String) throws {
        enum State { case bare, comment, basic, literal, multiBasic, multiLiteral }
        enum Bracket { case array, table }
        var state = State.bare
        var brackets: [Bracket] = []
        var keyExpected = false       // the next non-blank character starts a table or key name
        var headerBrackets = 0        // "[" seen at the start of the current header
        var valueExpected: Unicode.Scalar? = nil   // after "=", or "[" / "," in an array: what came before
        var lineStart = true          // only blanks so far on this line (outside strings)
        let s = Array(text.unicodeScalars)
        let tripleQuote: [Unicode.Scalar] = ["\"", "\"", "\""], tripleApostrophe: [Unicode.Scalar] = ["'", "'", "'"]
        var i = 0, line = 1, column = 1
        func starts(_ q: [Unicode.Scalar]) -> Bool { i + q.count <= s.count && Array(s[i..<(i + q.count)]) == q }
        func fail(_ why: String) -> ConfigurationError {
            ConfigurationError(file: file, key: nil, message: "not valid TOML: \(why) at line \(line), column \(column)")
        }
        func isKeyStart(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-" || c == "\"" || c == "'"
        }
        // TOML allows no control character but tab and line ends, in strings and comments neither
        // (a date-time followed by a form feed reached a toml++ assertion, a fuzzer finding)
        for c in s {
            if (c.value < 0x20 && c != "\t" && c != "\n" && c != "\r") || c.value == 0x7F {
                throw fail("control character \(String(format: "U+%04X", c.value)) (TOML allows only tab and line ends)")
            }
            if c == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        line = 1; column = 1
        while i < s.count {
            let c = s[i]
            var advance = 1
            switch state {
            case .bare:
                let blank = c == " " || c == "\t" || c == "\r"
                if c.value > 0x7E {
                    throw fail("character U+\(String(c.value, radix: 16, uppercase: true)) outside a string or comment (table and key names are ASCII; quote other text)")
                }
                let spaceInArray = valueExpected != "=" && (c == "\n" || c == "\r" || c == "#")   // arrays may span lines
                if let after = valueExpected, c != " " && c != "\t" && !spaceInArray {
                    // toml++ asserts when a value starts with a value terminator ('r = [ [}', a fuzzer finding)
                    let closesArray = c == "]" && after != "="
                    if !closesArray && (c == "}" || c == "]" || c == "," || c == "\n" || c == "\r" || c == "#") {
                        throw fail("a value is missing before '\(LogText.printable(String(c)))'")
                    }
                    // an unquoted value must be a whole TOML number or boolean: toml++ asserted on
                    // malformed ones ('ter =0"...') and broken date-times ('-=0080-02-24 0'; no
                    // setting takes a date or a time), fuzzer findings
                    if !closesArray && c != "[" && c != "{" && c != "\"" && c != "'" {
                        var j = i, token = ""
                        while j < s.count, !" \t,]}#\n\r".unicodeScalars.contains(s[j]) { token.unicodeScalars.append(s[j]); j += 1 }
                        let looksLikeDate = token.unicodeScalars.count > 4 && token.unicodeScalars.prefix(4).allSatisfy { $0 >= "0" && $0 <= "9" }
                            && Array(token.unicodeScalars)[4] == "-"
                        if looksLikeDate || token.contains(":") {
                            throw fail("'\(LogText.printable(token))': no setting takes a date or a time (quote it to make it text)")
                        }
                        guard Self.isBareValue(token) else {
                            throw fail("'\(LogText.printable(token))' is not a value (text is quoted; numbers, true and false are written bare)")
                        }
                    }
                    valueExpected = nil
                }
                if keyExpected && c == "[" {
                    // a header opens with "[" or "[[" and nothing more
                    headerBrackets += 1
                    if headerBrackets > 2 || s[i - 1] != "[" { throw fail("a table or key name cannot start with '['") }
                } else if keyExpected && c != " " && c != "\t" {
                    guard c != "\n" && c != "\r" else { throw fail("a table or key name is missing") }
                    guard isKeyStart(c) || (c == "}" && brackets.last == .table) else {
                        throw fail("a table or key name cannot start with '\(LogText.printable(String(c)))' (letters, digits, '_', '-' or a quoted name)")
                    }
                    keyExpected = false
                }
                if c == "#" { state = .comment }
                else if starts(tripleQuote) { state = .multiBasic; advance = 3 }
                else if starts(tripleApostrophe) { state = .multiLiteral; advance = 3 }
                else if c == "\"" { state = .basic }
                else if c == "'" { state = .literal }
                else if c == "[" && lineStart && brackets.isEmpty && !keyExpected { keyExpected = true; headerBrackets = 1 }   // a table header: [name] or [[name]]
                else if c == "[" && keyExpected { /* the second bracket of an array-of-tables header */ }
                else if c == "[" { brackets.append(.array); valueExpected = "[" }
                else if c == "=" && !keyExpected { valueExpected = "=" }
                else if c == "," && brackets.last == .array { valueExpected = "," }
                else if c == "{" { brackets.append(.table); keyExpected = true }
                else if c == "]" || c == "}" { if !brackets.isEmpty { brackets.removeLast() } }
                else if c == "," && brackets.last == .table { keyExpected = true }
                else if c == "." && brackets.isEmpty && !lineStart { /* dotted names in headers and keys */ }
                if c == "\n" { lineStart = true; keyExpected = false; if brackets.last == .table { brackets.removeAll() } }
                else if !blank && c != "[" { lineStart = false }
            case .comment: if c == "\n" { state = .bare; lineStart = true }
            case .basic, .literal:
                // a one-line string ends on its line (a fuzzer finding: toml++ and this check had
                // disagreed on where text ended, and toml++ then asserted in parse_key)
                if c == "\n" || c == "\r" { throw fail("a string is not closed on its line") }
                if state == .basic && c == "\\" { advance = 2 } else if c == (state == .basic ? "\"" : "'") { state = .bare }
            case .multiBasic, .multiLiteral:
                let quote: Unicode.Scalar = state == .multiBasic ? "\"" : "'"
                if state == .multiBasic && c == "\\" { advance = 2 }
                else if starts(state == .multiBasic ? tripleQuote : tripleApostrophe) {
                    // up to two more quotes belong to the text: the last three close it
                    var run = 3
                    while run < 5, i + run < s.count, s[i + run] == quote { run += 1 }
                    state = .bare; advance = run
                }
            }
            for k in i..<min(s.count, i + advance) {
                if s[k] == "\n" { line += 1; column = 1 } else { column += 1 }
            }
            i += advance
        }
        if keyExpected && state == .bare { throw fail("a table or key name is missing") }
    }
}

/// A configuration problem: the file, the key (`watch.mode`) and what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var key: String?
    public var message: String
    public var description: String { "\(file): \(key.map { "\($0): " } ?? "")\(message)" }
}

/// Several problems in one configuration, each on its own line.
public struct ConfigurationProblems: Error, CustomStringConvertible, Sendable, Equatable {
    public var problems: [ConfigurationError]
    public init(problems: [ConfigurationError]) { self.problems = problems }
    public var description: String { "\(problems.count) problems:\n" + problems.map { "  \($0)" }.joined(separator: "\n") }
}

extension Configuration {
    /// The facility database, when `store.url` names one.
    public func facilityTarget() throws -> PostgresTarget? {
        guard let url = store.url else { return nil }
        return try PostgresTarget.parse(url, passwordFile: store.passwordFile)
    }

    public static func load(path: String) throws -> Configuration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError(file: path, key: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String = "<config>") throws -> Configuration {
        try checkBareText(text, file: file)
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw ConfigurationError(file: file, key: nil, message: "not valid TOML: \(e.description) at line \(e.source.begin.line), column \(e.source.begin.column)")
        }
        var c = Configuration()
        let reader = Reader(file: file)
        try reader.section(table, "watch", keys: ["roots", "mode", "poll_interval_seconds", "stable_seconds", "patterns", "max_file_mb"]) { t, reader in
            reader.check {
                c.watch.roots = try reader.strings(t, "roots") ?? c.watch.roots
            }
            reader.check {
                c.watch.mode = try reader.choice(t, "mode", WatchMode.self) ?? c.watch.mode
            }
            reader.check {
                c.watch.pollIntervalSeconds = try reader.number(t, "poll_interval_seconds", min: 0.1) ?? c.watch.pollIntervalSeconds
            }
            reader.check {
                c.watch.stableSeconds = try reader.number(t, "stable_seconds", min: 0) ?? c.watch.stableSeconds
            }
            reader.check {
                c.watch.patterns = try reader.strings(t, "patterns") ?? c.watch.patterns
            }
            reader.check {
                c.watch.maxFileMb = try reader.number(t, "max_file_mb", min: 1) ?? c.watch.maxFileMb
            }
        }
        try reader.section(table, "session", keys: ["depth", "idle_close_minutes", "marker_files", "reopen_closed"]) { t, reader in
            reader.check {
                if let d = try reader.number(t, "depth", min: 0) {
                    guard d == d.rounded(), d <= 16 else { throw reader.error("depth", "must be a whole number from 0 to 16") }
                    c.session.depth = Int(d)
                }
            }
            reader.check {
                c.session.idleCloseMinutes = try reader.number(t, "idle_close_minutes", min: 0) ?? c.session.idleCloseMinutes
            }
            reader.check {
                c.session.markerFiles = try reader.strings(t, "marker_files", allowEmpty: true) ?? c.session.markerFiles
            }
            reader.check {
                c.session.reopenClosed = try reader.bool(t, "reopen_closed") ?? c.session.reopenClosed
            }
        }
        try reader.section(table, "store", keys: ["database", "url", "password_file", "reader_url"]) { t, reader in
            reader.check {
                c.store.database = try reader.string(t, "database") ?? c.store.database
            }
            reader.check {
                if let u = try reader.string(t, "url"), !u.isEmpty {
                    do { _ = try PostgresTarget.parse(u) } catch { throw reader.error("url", "\(error)".replacingOccurrences(of: "store.url: ", with: "")) }
                    c.store.url = u
                }
            }
            reader.check {
                if let u = try reader.string(t, "reader_url"), !u.isEmpty {
                    do { _ = try PostgresTarget.parse(u, key: "store.reader_url") } catch { throw reader.error("reader_url", "\(error)".replacingOccurrences(of: "store.reader_url: ", with: "")) }
                    c.store.readerUrl = u
                }
            }
            reader.check {
                if let f = try reader.string(t, "password_file"), !f.isEmpty {
                    guard f.hasPrefix("/") else { throw reader.error("password_file", "\"\(f)\" is not an absolute path") }
                    c.store.passwordFile = f
                }
            }
        }
        try reader.section(table, "instrument", keys: ["name"]) { t, reader in
            reader.check {
                if let n = try reader.string(t, "name") {
                    guard !n.isEmpty, n.count <= 64, n.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
                        throw reader.error("name", "must be 1 to 64 printable characters")
                    }
                    c.instrument.name = n
                }
            }
        }
        try reader.section(table, "reports", keys: ["directory", "group", "mode"]) { t, reader in
            reader.check {
                c.reports.directory = try reader.string(t, "directory") ?? c.reports.directory
            }
            reader.check {
                if let g = try reader.string(t, "group") {
                    guard !g.isEmpty else { throw reader.error("group", "must name a group") }
                    c.reports.group = g
                }
            }
            reader.check {
                if let m = try reader.string(t, "mode") {
                    guard m.count >= 3, m.count <= 4, let v = mode_t(m, radix: 8), v <= 0o666, v & 0o600 == 0o600 else {
                        throw reader.error("mode", "must be an octal file mode such as \"0640\" (read and write for antemad, no execute bits), not \"\(m)\"")
                    }
                    c.reports.mode = v
                }
            }
        }
        try reader.section(table, "processing", keys: ["concurrent_images", "shutdown_grace_seconds", "max_image_pixels"]) { t, reader in
            reader.check {
                if let n = try reader.number(t, "concurrent_images", min: 1) {
                    guard n == n.rounded(), n <= 64 else { throw reader.error("concurrent_images", "must be a whole number from 1 to 64") }
                    c.processing.concurrentImages = Int(n)
                }
            }
            reader.check {
                c.processing.shutdownGraceSeconds = try reader.number(t, "shutdown_grace_seconds", min: 0) ?? c.processing.shutdownGraceSeconds
            }
            reader.check {
                if let n = try reader.number(t, "max_image_pixels", min: 1) { c.processing.maxImagePixels = Int(n) }
            }
        }
        try reader.section(table, "analysis", keys: ["segmenter", "model", "threshold", "contrast", "overlap", "min_diameter_nm", "min_diameter_px",
                                                           "convexity_threshold", "min_confidence", "relative_speck_area", "exclude_regions",
                                                           "detect_annotations"]) { t, reader in
            reader.check {
                c.analysis.segmenter = try reader.choice(t, "segmenter", SegmenterKind.self) ?? c.analysis.segmenter
            }
            reader.check {
                if let m = try reader.string(t, "model"), !m.isEmpty { c.analysis.model = m }
            }
            reader.check {
                if let th = try reader.number(t, "threshold", min: 0) {
                    guard th <= 1 else { throw reader.error("threshold", "must be a probability between 0 and 1") }
                    c.analysis.threshold = th
                }
            }
            reader.check {
                c.analysis.contrast = try reader.choice(t, "contrast", Contrast.self) ?? c.analysis.contrast
            }
            reader.check {
                c.analysis.overlap = try reader.choice(t, "overlap", OverlapMode.self) ?? c.analysis.overlap
            }
            reader.check {
                c.analysis.minDiameterNm = try reader.number(t, "min_diameter_nm", min: 0) ?? c.analysis.minDiameterNm
                c.analysis.minDiameterPx = try reader.number(t, "min_diameter_px", min: 0) ?? c.analysis.minDiameterPx
            }
            reader.check {
                if let v = try reader.number(t, "convexity_threshold", min: 0) {
                    guard v > 0 && v <= 1 else { throw reader.error("convexity_threshold", "must be in (0, 1]") }
                    c.analysis.convexityThreshold = v
                }
            }
            reader.check {
                if let v = try reader.number(t, "min_confidence", min: 0) {
                    guard v <= 1 else { throw reader.error("min_confidence", "must be between 0 and 1") }
                    c.analysis.minConfidence = v
                }
            }
            reader.check {
                if let v = try reader.number(t, "relative_speck_area", min: 0) {
                    guard v < 1 else { throw reader.error("relative_speck_area", "must be a fraction of the median particle area below 1 (0 turns it off)") }
                    c.analysis.relativeSpeckArea = v
                }
            }
            reader.check {
                c.analysis.detectAnnotations = try reader.bool(t, "detect_annotations") ?? c.analysis.detectAnnotations
            }
            reader.check {
                if let v = t["exclude_regions"] {
                    guard let rows = v.array else { throw reader.error("exclude_regions", "must be an array of [x, y, width, height] arrays") }
                    c.analysis.excludeRegions = try rows.map { row in
                        guard let a = row.array, a.count == 4 else { throw reader.error("exclude_regions", "each region is [x, y, width, height] in pixels") }
                        let n = a.compactMap { $0.int }
                        guard n.count == 4, n[0] >= 0, n[1] >= 0, n[2] > 0, n[3] > 0 else {
                            throw reader.error("exclude_regions", "each region is [x, y, width, height]: whole numbers, x and y from 0, width and height positive")
                        }
                        return n
                    }
                }
            }
        }
        try reader.section(table, "log", keys: ["level"]) { t, reader in
            reader.check {
                c.log.level = try reader.choice(t, "level", Logger.Level.self) ?? c.log.level
            }
        }
        for key in table.keys where !["watch", "session", "store", "instrument", "reports", "processing", "analysis", "log"].contains(key) {
            reader.problems.append(ConfigurationError(file: file, key: key, message: "unknown section or key"))
        }
        reader.problems += c.placementProblems(file: file)
        if reader.problems.count == 1 { throw reader.problems[0] }
        if !reader.problems.isEmpty { throw ConfigurationProblems(problems: reader.problems) }
        return c
    }

    /// Where the configuration puts things, checked without touching the file system: absolute
    /// roots, not `/`, none inside another, the database outside every root, only known
    /// placeholders in the report template.
    func placementProblems(file: String) -> [ConfigurationError] {
        var out: [ConfigurationError] = []
        func add(_ key: String, _ message: String) { out.append(ConfigurationError(file: file, key: key, message: message)) }
        if watch.roots.isEmpty { add("watch.roots", "needs at least one folder") }
        let absolute = watch.roots.filter { $0.hasPrefix("/") }
        for r in watch.roots {
            if !r.hasPrefix("/") { add("watch.roots", "\"\(r)\" is not an absolute path"); continue }
            if SafeFiles.components(of: r, below: "/") == [] {
                add("watch.roots", "\"/\" would watch the whole system (and close sessions on every session.done anywhere); name the export folders")
            }
        }
        for i in absolute.indices { for j in absolute.indices where i < j {
            if SafeFiles.components(of: absolute[j], below: absolute[i]) == [] {
                add("watch.roots", "\"\(absolute[i])\" is listed twice")
            } else if SafeFiles.components(of: absolute[j], below: absolute[i]) != nil || SafeFiles.components(of: absolute[i], below: absolute[j]) != nil {
                add("watch.roots", "\"\(absolute[i])\" and \"\(absolute[j])\" overlap (one is inside the other): files below both would belong to two samples")
            }
        } }
        if !store.database.hasPrefix("/") {
            add("store.database", "\"\(store.database)\" is not an absolute path")
        } else if let root = watchRoot(of: store.database), SafeFiles.components(of: root, below: "/") != [] {  // "/" is reported above
            add("store.database", "\"\(store.database)\" is inside the watched folder \"\(root)\", where anyone who writes there could reach it; keep it in antemad's own folder (/var/lib/antema)")
        }
        var rest = Substring(reports.directory)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { add("reports.directory", "a \"{\" without its \"}\""); break }
            let name = rest[rest.index(after: open)..<close]
            if name != "sample_folder" && name != "sample" {
                add("reports.directory", "unknown placeholder {\(name)} (known: {sample_folder}, {sample})")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// What the file system says about the configuration now (for `antemactl config check`;
    /// antemad only warns, since a share may be mounted after it starts): roots that do not
    /// exist or are not folders.
    public func fileSystemProblems(file: String) -> [ConfigurationError] {
        var out: [ConfigurationError] = []
        if let g = reports.group {
            if let gid = Reports.groupID(g) {
                var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)))
                let n = getgroups(Int32(groups.count), &groups)
                if geteuid() != 0 && getegid() != gid && !groups.prefix(max(0, Int(n))).contains(gid) {
                    out.append(ConfigurationError(file: file, key: "reports.group", message: "this user is not a member of \"\(g)\": reports cannot be given to it (add antema to the group: usermod -aG \(g) antema)"))
                }
            } else {
                out.append(ConfigurationError(file: file, key: "reports.group", message: "there is no group \"\(g)\""))
            }
        }
        for r in watch.roots where r.hasPrefix("/") {
            var st = stat()
            if stat(r, &st) != 0 {
                out.append(ConfigurationError(file: file, key: "watch.roots", message: "\"\(r)\" does not exist (\(String(cString: strerror(errno))))"))
            } else if (st.st_mode & S_IFMT) != S_IFDIR {
                out.append(ConfigurationError(file: file, key: "watch.roots", message: "\"\(r)\" is not a folder"))
            }
        }
        return out
    }

    final class Reader {
        let file: String
        let prefix: String
        /// Every problem found, so that one run lists them all.
        var problems: [ConfigurationError] = []
        /// The reader of the enclosing table, which collects the problems.
        let parent: Reader?

        init(file: String, prefix: String = "", parent: Reader? = nil) {
            self.file = file
            self.prefix = prefix
            self.parent = parent
        }

        /// Runs `body`; a problem it throws is recorded and the next key is read.
        func check(_ body: () throws -> Void) {
            do { try body() } catch let e as ConfigurationError { record(e) } catch { record(ConfigurationError(file: file, key: nil, message: "\(error)")) }
        }

        func record(_ e: ConfigurationError) {
            if let parent { parent.record(e) } else { problems.append(e) }
        }

        func error(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(file: file, key: prefix + key, message: message)
        }

        func section(_ root: TOMLTable, _ name: String, keys: Set<String>, _ body: (TOMLTable, Reader) throws -> Void) throws {
            guard let value = root[name] else { return }
            guard let t = value.table else { record(ConfigurationError(file: file, key: name, message: "must be a table ([\(name)])")); return }
            let inner = Reader(file: file, prefix: name + ".", parent: self)
            for k in t.keys.sorted() where !keys.contains(k) {
                record(inner.error(k, "unknown key (known: \(keys.sorted().joined(separator: ", ")))"))
            }
            try body(t, inner)
        }

        func string(_ t: TOMLTable, _ key: String) throws -> String? {
            guard let v = t[key] else { return nil }
            guard let s = v.string else { throw error(key, "must be a string") }
            return s
        }

        func strings(_ t: TOMLTable, _ key: String, allowEmpty: Bool = false) throws -> [String]? {
            guard let v = t[key] else { return nil }
            guard let a = v.array else { throw error(key, "must be an array of strings") }
            var out: [String] = []
            for item in a {
                guard let s = item.string, !s.isEmpty else { throw error(key, "must be an array of non-empty strings") }
                out.append(s)
            }
            if out.isEmpty && !allowEmpty { throw error(key, "must not be empty") }
            return out
        }

        func number(_ t: TOMLTable, _ key: String, min: Double) throws -> Double? {
            guard let v = t[key] else { return nil }
            guard let d = v.double ?? v.int.map(Double.init) else { throw error(key, "must be a number") }
            guard d.isFinite, d >= min else { throw error(key, "must be at least \(min)") }
            return d
        }

        /// One of an enumeration's values, by its name; the message lists them all.
        func choice<E: RawRepresentable & CaseIterable>(_ t: TOMLTable, _ key: String, _: E.Type) throws -> E? where E.RawValue == String {
            guard let s = try string(t, key) else { return nil }
            guard let v = E(rawValue: s) else {
                let names = E.allCases.map(\.rawValue)
                throw error(key, "must be \(names.dropLast().joined(separator: ", ")) or \(names.last!), not \"\(s)\"")
            }
            return v
        }

        func bool(_ t: TOMLTable, _ key: String) throws -> Bool? {
            guard let v = t[key] else { return nil }
            guard let b = v.bool else { throw error(key, "must be true or false") }
            return b
        }
    }
}
