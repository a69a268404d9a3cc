#if canImport(Glibc)
import Glibc
#endif
import AntemaService
import ArgumentParser
import Foundation
import Journal
import Store
import Watcher

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what antemad is doing: whether it runs, its queue, open sessions, recent errors, throughput.",
        discussion: "Reads the database (read-only); works, saying so, when the daemon is down, and then exits with status 3 (as systemctl status does).")

    @Flag(help: "Print one JSON document.") var json = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let db = try database.open()
        let now = Date()
        let report = StatusReport.from(try db.status(since: now.addingTimeInterval(-3600)), now: now)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text, terminator: "")
        }
        // as `systemctl status` and LSB status actions: 3 when the program is not running
        if !report.daemon.running { throw ExitCode(3) }
    }
}

struct StatusReport: Encodable {
    struct Daemon: Encodable {
        var running: Bool
        var pid: Int32?
        var version: String?
        var startedAt: Date?
        var heartbeatAt: Date?
        var uptimeSeconds: Double?
        var activity: String?
        var watchRoots: [String]
        var watchMode: String?
        var configPath: String?
    }
    struct Queue: Encodable { var queued: Int; var processing: Int; var failed: Int; var skipped: Int; var done: Int; var currentFile: String?; var currentStage: String? }
    struct Session: Encodable { var sample: String; var folder: String; var state: String; var images: Int; var particles: Int; var queued: Int; var idleMinutes: Double }
    struct Event: Encodable { var at: Date; var level: String; var message: String }
    /// Shipping to the facility database (absent without one).
    struct Shipping: Encodable {
        var server: String
        var waitingImages: Int
        var waitingSamples: Int
        var waitingSince: Date?
        var lastShippedAt: Date?
        var lastError: String?
        var lastErrorAt: Date?
    }

    var daemon: Daemon
    var queue: Queue
    var openSessions: [Session]
    var lastErrors: [Event]
    var imagesLastHour: Int
    var particlesLastHour: Int
    var shipping: Shipping?

    static func from(_ snapshot: StatusSnapshot, now: Date) -> StatusReport {
        var daemon = Daemon(running: false, watchRoots: [])
        if let s = snapshot.daemon {
            let alive = kill(s.pid, 0) == 0 || errno == EPERM
            let fresh = now.timeIntervalSince(s.heartbeatAt) < 60
            daemon = Daemon(running: s.stoppedAt == nil && alive && fresh, pid: s.pid, version: s.version, startedAt: s.startedAt,
                            heartbeatAt: s.heartbeatAt, uptimeSeconds: s.stoppedAt == nil ? now.timeIntervalSince(s.startedAt) : nil,
                            activity: s.activity, watchRoots: (try? JSONDecoder().decode([String].self, from: Data(s.watchRootsJson.utf8))) ?? [],
                            watchMode: s.watchMode, configPath: s.configPath)
        }
        let counts = snapshot.imagesByState
        let queue = Queue(queued: counts["queued"] ?? 0, processing: counts["processing"] ?? 0, failed: counts["failed"] ?? 0,
                          skipped: counts["skipped"] ?? 0, done: counts["done"] ?? 0, currentFile: snapshot.currentImagePath,
                          currentStage: snapshot.currentImagePath == nil ? nil : snapshot.daemon?.currentStage)
        let sessions = snapshot.openSessions.map {
            Session(sample: $0.name, folder: $0.folder, state: $0.state, images: $0.images, particles: $0.particles, queued: $0.waiting,
                    idleMinutes: max(0, now.timeIntervalSince($0.lastActivity) / 60))
        }
        return StatusReport(daemon: daemon, queue: queue, openSessions: sessions,
                            lastErrors: snapshot.recentProblems.map { Event(at: $0.at, level: $0.level, message: $0.message) },
                            imagesLastHour: snapshot.imagesSince, particlesLastHour: snapshot.particlesSince,
                            shipping: snapshot.shipping.map {
                                Shipping(server: $0.target, waitingImages: $0.pendingImages, waitingSamples: $0.pendingSamples, waitingSince: $0.oldestPending,
                                         lastShippedAt: $0.lastShippedAt, lastError: $0.lastError, lastErrorAt: $0.lastErrorAt)
                            })
    }

    var text: String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        var out = ""
        if daemon.running {
            out += "antemad \(daemon.version ?? "?") is running (pid \(daemon.pid ?? 0)), up \(Self.duration(daemon.uptimeSeconds ?? 0)), last heartbeat \(daemon.heartbeatAt.map(f.string) ?? "-")\n"
        } else if let seen = daemon.heartbeatAt {
            out += "antemad is not running (last seen \(f.string(from: seen)); pid was \(daemon.pid ?? 0)); what follows is the database's state\n"
        } else {
            out += "antemad has never run against this database\n"
        }
        if !daemon.watchRoots.isEmpty { out += "watching: \(daemon.watchRoots.joined(separator: ", ")) (\(daemon.watchMode ?? "?"))\n" }
        out += "queue: \(queue.queued) queued, \(queue.processing) processing, \(queue.failed) failed, \(queue.skipped) skipped, \(queue.done) done\n"
        if let file = queue.currentFile { out += "now: \(daemon.activity ?? "") \(file)\(queue.currentStage.map { " (\($0))" } ?? "")\n" }
        out += "last hour: \(imagesLastHour) images analysed, \(particlesLastHour) particles\n"
        if let s = shipping {
            if s.waitingImages + s.waitingSamples == 0 {
                out += "facility database \(s.server): everything shipped\(s.lastShippedAt.map { " (last \(f.string(from: $0)))" } ?? "")\n"
            } else {
                out += "facility database \(s.server): \(s.waitingImages) image(s) and \(s.waitingSamples) sample update(s) wait to be shipped"
                    + "\(s.waitingSince.map { " since \(f.string(from: $0))" } ?? "")\n"
            }
            if let e = s.lastError { out += "  last shipping error\(s.lastErrorAt.map { " (\(f.string(from: $0)))" } ?? ""): \(LogText.printable(e))\n" }
        }
        if openSessions.isEmpty { out += "open sessions: none\n" } else {
            out += "open sessions:\n"
            for s in openSessions {
                out += "  \(s.sample) [\(s.state)]: \(s.images) images, \(s.particles) particles, \(s.queued) waiting, idle \(String(format: "%.1f", s.idleMinutes)) min\n"
            }
        }
        if !lastErrors.isEmpty {
            out += "recent problems:\n"
            for e in lastErrors { out += "  \(f.string(from: e.at)) \(e.level): \(e.message)\n" }
        }
        return out.split(separator: "\n", omittingEmptySubsequences: false).map { LogText.printable(String($0)) }.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s)
        return t >= 86400 ? "\(t / 86400)d \(t % 86400 / 3600)h" : t >= 3600 ? "\(t / 3600)h \(t % 3600 / 60)m" : "\(t / 60)m \(t % 60)s"
    }
}

struct Close: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Close a sample session: it closes once its queued images are done.")
    @Argument(help: "Sample name or folder.") var sample: String
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.openForWriting()
        let found = try store.samples(named: sample)
        guard !found.isEmpty else { throw Failure(.noInput, "no sample named \(sample)") }
        for s in found where s.state == .open {
            try store.setSampleState(s.id!, .closing)
            print("\(LogText.printable(s.name)): closing (\(LogText.printable(s.folder)))")
        }
        for s in found where s.state != .open { print("\(LogText.printable(s.name)): already \(s.state.rawValue)") }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Queue failed images again (of one sample, or all).")
    @Argument(help: "Sample name or folder (default: every sample).") var sample: String?
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.openForWriting()
        if let sample {
            let found = try store.samples(named: sample)
            guard !found.isEmpty else { throw Failure(.noInput, "no sample named \(sample)") }
            let n = try found.reduce(0) { $0 + (try store.retryFailed(sampleId: $1.id!)) }
            print("\(n) failed image(s) queued again")
        } else {
            print("\(try store.retryFailed()) failed image(s) queued again")
        }
    }
}

struct Reprocess: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyse a sample's images (or one image) again with the current model and parameters.",
        discussion: "Each image gets a new analysis that becomes current; the old ones stay in the database.")
    @Argument(help: "Sample name or folder.") var sample: String?
    @Option(help: "One image, by its id (see antemactl query \"SELECT id, path FROM image\").") var image: Int64?
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard (sample == nil) != (image == nil) else { throw ValidationError("give a sample or --image ID (one of them)") }
    }

    func run() throws {
        let store = try database.openForWriting()
        if let image {
            guard let record = try store.image(id: image) else { throw Failure(.noInput, "no image with id \(image)") }
            if let newer = record.supersededBy { throw Failure(.dataError, "image \(image) (\(record.path)) was replaced by image \(newer): reprocess that one") }
            switch record.state {
            case .queued, .processing: print("image \(image) (\(record.path)) is already \(record.state.rawValue)"); return
            case .skipped: throw Failure(.dataError, "image \(image) (\(record.path)) was skipped: \(record.error ?? "not a micrograph")")
            case .done, .failed: break
            }
            print("\(try store.requestReprocess(imageId: image)) image(s) queued for a new analysis")
        } else if let sample {
            let found = try store.samples(named: sample)
            guard !found.isEmpty else { throw Failure(.noInput, "no sample named \(sample)") }
            let n = try found.reduce(0) { $0 + (try store.requestReprocess(sampleId: $1.id!)) }
            print("\(n) image(s) queued for a new analysis")
        }
    }
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Work with antemad's configuration.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration file; name the bad key and why.")
        @Argument(help: "Configuration file.") var path: String = DatabaseOptions.defaultConfig

        func run() throws {
            do {
                let c = try Configuration.load(path: path)
                let found = c.fileSystemProblems(file: path)
                if found.count == 1 { throw found[0] }
                if !found.isEmpty { throw ConfigurationProblems(problems: found) }
                let segmenter = try c.makeSegmenter(configurationFile: path)
                print("\(path): ok")
                print("  segmenter: \(segmenter.label)\(segmenter.runner == nil ? "" : " (\(c.analysis.model ?? "bundled"), threshold \(c.analysis.threshold))")")
                print("  watch: \(c.watch.roots.joined(separator: ", ")) (mode \(c.watch.mode.rawValue), stable \(c.watch.stableSeconds) s, \(c.watch.patterns.joined(separator: " ")))")
                print("  sessions: depth \(c.session.depth), idle close \(c.session.idleCloseMinutes) min, markers \(c.session.markerFiles.joined(separator: " "))")
                print("  database: \(c.store.database)")
                print("  instrument: \(c.instrument.name)")
                if let facility = try c.facilityTarget() {
                    print("  facility database: \(facility) (password from \(c.store.passwordFile ?? "PGPASSFILE or ~/.pgpass"))")
                }
                print("  reports: \(c.reports.directory)")
            } catch {
                FileHandle.standardError.write(Data("\(error)\n".utf8))
                throw ExitCode(Exit.configuration.rawValue)
            }
        }
    }
}
