#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Analysis
import Foundation
import Logging
import ServiceLifecycle
import Store
import Synchronization
import Watcher

public let antemaVersion = "0.1.0"

/// State shared by the services: the configuration (replaced on SIGHUP), what is being done.
public final class DaemonState: Sendable {
    let config: Mutex<(Configuration, Segmenter)>
    let activity = Mutex<(String, Int64?, String?)>(("idle", nil, nil))
    public let configPath: String?

    /// `segmenter`: `configuration.makeSegmenter()`, loaded once (the network is shared by all images).
    public init(configuration: Configuration, segmenter: Segmenter, configPath: String?) {
        config = Mutex((configuration, segmenter))
        self.configPath = configPath
    }

    public var configuration: Configuration { config.withLock { $0.0 } }
    public var segmenter: Segmenter { config.withLock { $0.1 } }
    func setActivity(_ activity: String, imageId: Int64? = nil, stage: String? = nil) {
        self.activity.withLock { $0 = (activity, imageId, stage) }
    }
}

/// Keeps a database that refuses writes for a long time (disk full, read-only) from flooding
/// the journal: the same error is logged at most once a minute, with how many repeats were not.
public final class RepeatLimiter: Sendable {
    let state = Mutex<[String: (last: Double, suppressed: Int)]>([:])
    let intervalSeconds: Double
    public init(intervalSeconds: Double = 60) { self.intervalSeconds = intervalSeconds }

    /// nil: do not log; otherwise the number of repeats suppressed since the last time.
    public func shouldLog(_ message: String, now: Double = Double(DispatchTime.now().uptimeNanoseconds) / 1e9) -> Int? {
        state.withLock { s in
            if let e = s[message], now - e.last < intervalSeconds {
                s[message] = (e.last, e.suppressed + 1)
                return nil
            }
            let suppressed = s[message]?.suppressed ?? 0
            if s.count > 100 { s.removeAll() }
            s[message] = (now, 0)
            return suppressed
        }
    }
}

let storeErrors = RepeatLimiter()
/// Watch warnings (a name that is not UTF-8 is seen on every event and rescan): once an hour each.
let watchWarnings = RepeatLimiter(intervalSeconds: 3600)

/// Watches the roots, tracks file stability, and ingests complete files.
public struct WatchService: Service {
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    /// How often the stability tracker is consulted.
    var tick: Duration = .milliseconds(200)

    public init(state: DaemonState, store: AntemaStore, logger: Logger) {
        self.state = state
        self.store = store
        self.logger = logger
    }

    /// The mode in effect: `auto` polls when any root is on a network file system.
    public static func effectiveMode(_ c: Configuration.Watch) -> Configuration.WatchMode {
        if c.mode != .auto { return c.mode }
        return c.roots.contains(where: FileSystem.isNetworkFileSystem) ? .poll : .inotify
    }

    public func run() async throws {
        let config = state.configuration
        let patterns = config.watch.patterns, markers = config.session.markerFiles
        let interesting: @Sendable (String) -> Bool = { path in
            let name = (path as NSString).lastPathComponent
            return markers.contains(name) || FileSystem.matches(name, patterns: patterns)
        }
        let initialMode = WatchService.effectiveMode(config.watch)
        logger.info("watching", metadata: ["roots": "\(config.watch.roots)", "mode": "\(initialMode)"])
        final class Shared: Sendable {
            let tracker: Mutex<StabilityTracker>
            let handled = Mutex<[String: FileObservation]>([:])
            init(_ t: StabilityTracker) { tracker = Mutex(t) }
        }
        let shared = Shared(StabilityTracker(stableSeconds: config.watch.stableSeconds))
        let logger = self.logger, store = self.store, tick = self.tick
        let clock = ContinuousClock()
        let origin = clock.now
        @Sendable func seconds() -> Double { let d = clock.now - origin; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

        @Sendable func observe(_ path: String, closed: Bool) {
            let o = FileSystem.observe(path)
            if let o, shared.handled.withLock({ $0[path] == o }) { return }  // already ingested as it is
            shared.tracker.withLock { $0.ingest(path, o, closed: closed, at: seconds()) }
        }
        /// A watch warning, logged and recorded at most once an hour for the same text.
        @Sendable func warn(_ w: String) {
            if watchWarnings.shouldLog(w) != nil { logger.warning("\(w)"); try? store.logEvent(level: "warning", message: w) }
        }
        @Sendable func scanAll(_ reason: String) {
            logger.info("scanning the watch roots", metadata: ["reason": "\(reason)"])
            for root in config.watch.roots {
                let tree = FileSystem.scan(root, patterns: ["*"])
                for f in tree.files where interesting(f) { observe(f, closed: true) }
                for bad in tree.unnamable {
                    let d = (bad as NSString).deletingLastPathComponent, n = (bad as NSString).lastPathComponent
                    warn(FileSystem.unnamableWarning(dir: d, name: FileSystem.printable(n)))
                }
                for (path, reason) in tree.unreadable { warn(FileSystem.unreadableWarning(path: path, reason: reason)) }
                for link in tree.linkedFolders { warn(FileSystem.linkedFolderWarning(path: link)) }
            }
        }
        // Reconciliation: files that arrived while the daemon was down.
        scanAll("start-up reconciliation")

        let ingest = Ingest(rules: SessionRules(roots: config.watch.roots, depth: config.session.depth),
                            markerFiles: config.session.markerFiles, reopenClosed: config.session.reopenClosed,
                            maxFileBytes: config.watch.maxFileBytes, store: store)
        try await cancelWhenGracefulShutdown {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // event sources
            group.addTask {
                var mode = initialMode
                while !Task.isCancelled {
                    let inotify = mode == .inotify ? InotifySource(roots: config.watch.roots, isInteresting: interesting) : nil
                    let poller = mode == .poll ? PollingSource(roots: config.watch.roots, intervalSeconds: config.watch.pollIntervalSeconds, isInteresting: interesting) : nil
                    let stream = inotify?.events() ?? poller!.events()
                    var switchToPolling = false
                    await withTaskCancellationHandler {
                        for await event in stream {
                            switch event {
                            case .file(let path, let closed): observe(path, closed: closed)
                            case .rescan(let reason): scanAll(reason)
                            case .warning(let w): warn(w)
                            case .needsPolling(let reason):
                                logger.warning("falling back to polling", metadata: ["reason": "\(reason)"])
                                try? store.logEvent(level: "warning", message: "falling back to polling: \(reason)")
                                switchToPolling = true
                                inotify?.stop()
                            }
                        }
                    } onCancel: {
                        inotify?.stop()
                        poller?.stop()
                    }
                    if switchToPolling { mode = .poll; scanAll("switching to polling"); continue }
                    break
                }
            }
            // the stability tracker's clock
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: tick)
                    let ready = shared.tracker.withLock { $0.ready(at: seconds()) }
                    for (path, observation) in ready {
                        do {
                            let result = try ingest.ingest(path: path, observation: observation)
                            switch result {
                            case .changedWhileReading:
                                observe(path, closed: false)
                            case .queued(let frames, _):
                                shared.handled.withLock { $0[path] = observation }
                                logger.info("queued", metadata: ["image": "\(path)", "frames": "\(frames)"])
                            case .alreadyKnown:
                                shared.handled.withLock { $0[path] = observation }
                                logger.debug("already analysed", metadata: ["image": "\(path)"])
                            case .duplicate(let known, let sample):
                                shared.handled.withLock { $0[path] = observation }
                                logger.info("same content as an image already analysed: not counted again",
                                            metadata: ["image": "\(path)", "known_as": "\(known)", "sample": "\(sample)"])
                            case .markerClosedSession(let id):
                                shared.handled.withLock { $0[path] = observation }
                                logger.info("marker file: closing the session", metadata: ["sample": "\(id.map(String.init) ?? "none")", "marker": "\(path)"])
                            case .recordedProblem(let why):
                                shared.handled.withLock { $0[path] = observation }
                                logger.error("not analysable", metadata: ["image": "\(path)", "error": "\(why)"])
                            case .ignored(let why):
                                logger.debug("ignored", metadata: ["image": "\(path)", "reason": "\(why)"])
                            }
                        } catch {
                            // the database refused (disk full, read-only): keep the file for later
                            if let suppressed = storeErrors.shouldLog("\(error)") {
                                logger.error("could not record; will retry", metadata: ["image": "\(path)", "error": "\(error)", "repeats_not_logged": "\(suppressed)"])
                            }
                            shared.tracker.withLock { $0.ingest(path, observation, closed: true, at: seconds() + 5) }
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
        }
    }
}

/// Takes queued images one at a time (or `processing.concurrent_images`) and analyses them.
public struct ProcessingService: Service {
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    let queue = DispatchQueue(label: "antema.processing", attributes: .concurrent)

    public init(state: DaemonState, store: AntemaStore, logger: Logger) {
        self.state = state
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        let interrupted = try store.requeueInterrupted()
        if interrupted > 0 { logger.notice("re-queued images left processing by an interrupted run", metadata: ["images": "\(interrupted)"]) }
        let workers = state.configuration.processing.concurrentImages
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask { try await self.work() }
            }
            try await group.waitForAll()
        }
    }

    func work() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let image: ImageRecord?
            do { image = try store.claimNextQueued() } catch {
                if let suppressed = storeErrors.shouldLog("\(error)") {
                    logger.error("cannot read the queue; retrying", metadata: ["error": "\(error)", "repeats_not_logged": "\(suppressed)"])
                }
                try? await Task.sleep(for: .seconds(2))
                continue
            }
            guard let image else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            state.setActivity("analysing", imageId: image.id, stage: "segmentation+analysis")
            let (configuration, segmenter) = state.config.withLock { $0 }
            let processor = Processor(store: store, configuration: configuration, softwareVersion: antemaVersion, segmenter: segmenter)
            let start = DispatchTime.now().uptimeNanoseconds
            let outcome: Result<Processor.Outcome, Error> = await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: Result { try processor.process(image) }) }
            }
            let ms = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
            switch outcome {
            case .success(.analysed(let n)):
                logger.info("analysed", metadata: ["image": "\(image.path)", "frame": "\(image.frame)", "particles": "\(n)", "stage": "done", "duration_ms": "\(ms)"])
            case .success(.failed(let why)):
                logger.error("analysis failed", metadata: ["image": "\(image.path)", "error": "\(why)", "duration_ms": "\(ms)"])
            case .failure(let error):
                // the store refused the result (disk full, read-only): the image goes back to the queue
                logger.error("could not store the analysis; the image stays queued", metadata: ["image": "\(image.path)", "error": "\(error)"])
                _ = try? store.requeueInterrupted()
                try? await Task.sleep(for: .seconds(5))
            }
            state.setActivity("idle")
        }
    }
}

/// When each sample's report may next be retried (seconds since 1970), and the wait after that.
final class ReportRetries: Sendable {
    let state = Mutex<[Int64: (at: Double, wait: Double)]>([:])
    func withLock<T>(_ body: (inout [Int64: (at: Double, wait: Double)]) -> T) -> T { state.withLock { body(&$0) } }
}

/// Closes sessions: idle ones, marked ones once their images are done; writes their reports,
/// and retries a report that could not be written (full disk, a name the file system refuses)
/// after 1, 2, 4 ... minutes, at most every hour, until it is written.
public struct SessionService: Service {
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    var tick: Duration = .seconds(1)
    /// When each sample's report may next be retried (seconds since 1970), and the wait after that.
    let retries = ReportRetries()

    public init(state: DaemonState, store: AntemaStore, logger: Logger, tick: Duration = .seconds(1)) {
        self.state = state
        self.store = store
        self.logger = logger
        self.tick = tick
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try step(now: Date()) } catch {
                    logger.error("session bookkeeping failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: tick)
            }
        }
    }

    func step(now: Date) throws {
        let idle = state.configuration.session.idleCloseMinutes * 60
        for sample in try store.openSamples() {
            switch sample.state {
            case .open:
                let last = sample.lastImageAt ?? sample.openedAt
                if now.timeIntervalSince(last) >= idle {
                    try store.setSampleState(sample.id!, .closing, at: now)
                    logger.info("session idle: closing", metadata: ["sample": "\(sample.name)"])
                }
            case .closing:
                if try store.pendingImageCount(sampleId: sample.id!) == 0 {
                    try store.setSampleState(sample.id!, .closed, at: now)
                    logger.info("session closed", metadata: ["sample": "\(sample.name)", "images": "\(sample.imageCount)", "particles": "\(sample.particleCount)"])
                    report(sample, at: now)
                }
            default: break
            }
        }
        for sample in try store.samplesAwaitingReport() {
            let due = retries.withLock { $0[sample.id!].map { now.timeIntervalSince1970 >= $0.at } ?? true }
            if due { report(sample, at: now) }
        }
    }

    /// Writes a closed sample's report; on failure records why and when to try again.
    func report(_ sample: SampleRecord, at now: Date) {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let dir = try ReportWriter(store: store, configuration: state.configuration).write(sampleId: sample.id!, pictures: false)
            try store.setSampleState(sample.id!, .reported, at: Date())
            retries.withLock { $0[sample.id!] = nil }
            let ms = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
            logger.info("report written", metadata: ["sample": "\(sample.name)", "report": "\(dir)", "duration_ms": "\(ms)"])
            try? store.logEvent(level: "info", message: "session \(sample.name) closed: \(sample.imageCount) images, \(sample.particleCount) particles; report in \(dir)", sampleId: sample.id)
        } catch {
            let wait = retries.withLock { r -> Double in
                let wait = min(3600, (r[sample.id!]?.wait ?? 30) * 2)
                r[sample.id!] = (now.timeIntervalSince1970 + wait, wait)
                return wait
            }
            logger.error("report not written; retrying later", metadata: ["sample": "\(sample.name)", "error": "\(error)", "retry_in_s": "\(Int(wait))"])
            try? store.recordReportFailure(sampleId: sample.id!, error: "\(error)")
            try? store.logEvent(level: "error", message: "report of \(sample.name) not written (retried in \(Int(wait)) s): \(error)", sampleId: sample.id)
        }
    }
}

/// The database file was deleted or replaced while the daemon ran.
public struct DatabaseMoved: Error, CustomStringConvertible {
    public let path: String
    public let place: DaemonLock.Place
    public let restored: Bool
    public var description: String {
        switch place {
        case .deleted where restored:
            return "the database \(path) was deleted while antemad ran; everything it held was written back to \(path) (SQLite backup); stopping so that the restart uses it"
        case .deleted:
            return "the database \(path) was deleted while antemad ran and could not be written back; stopping"
        default:
            return "the database \(path) was replaced by another file while antemad ran; stopping (the file it wrote is gone; nothing is written into the new one until the restart)"
        }
    }
}

/// Heartbeat in the database, STATUS and WATCHDOG for systemd; SIGHUP reloads the configuration;
/// checks at every beat that the database file is still the one at its path.
public struct HeartbeatService: Service {
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    let notifier: SystemdNotifier
    let lock: DaemonLock?

    public init(state: DaemonState, store: AntemaStore, logger: Logger, notifier: SystemdNotifier, lock: DaemonLock? = nil) {
        self.state = state
        self.store = store
        self.logger = logger
        self.notifier = notifier
        self.lock = lock
    }

    /// Throws `DatabaseMoved` when the database file is no longer at its path (after writing a
    /// deleted one back from the open connection).
    func checkDatabaseInPlace() throws {
        guard let lock else { return }
        let place = lock.place()
        guard place != .inPlace else { return }
        var restored = false
        if place == .deleted {
            do { try lock.restore(from: store); restored = true } catch {
                logger.critical("the deleted database could not be written back", metadata: ["database": "\(lock.path)", "error": "\(error)"])
            }
        }
        throw DatabaseMoved(path: lock.path, place: place, restored: restored)
    }

    public func run() async throws {
        let interval = min(5, (SystemdNotifier.watchdogInterval() ?? 10) / 2)
        notifier.notify("READY=1\nSTATUS=watching")
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        signal(SIGHUP, SIG_IGN)
        let state = self.state, logger = self.logger, notifier = self.notifier
        hangup.setEventHandler {
            guard let path = state.configPath else { logger.warning("SIGHUP: no configuration file to reload"); return }
            notifier.notify("RELOADING=1")
            do {
                let new = try Configuration.load(path: path)
                let old = state.configuration
                let segmenter = new.analysis == old.analysis ? state.segmenter : try new.makeSegmenter(configurationFile: path)
                state.config.withLock { $0 = (new, segmenter) }
                if new.watch != old.watch || new.store != old.store {
                    logger.warning("configuration reloaded; [watch] and [store] changes take effect after a restart")
                } else {
                    logger.notice("configuration reloaded", metadata: ["config": "\(path)"])
                }
            } catch {
                logger.error("configuration not reloaded: \(error)")
            }
            notifier.notify("READY=1")
        }
        hangup.resume()
        defer { hangup.cancel() }
        do {
            try await beat(interval: interval)
        } catch is CancellationError {}
        notifier.notify("STOPPING=1")
    }

    func beat(interval: Double) async throws {
        let state = self.state, logger = self.logger, notifier = self.notifier
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try checkDatabaseInPlace()
                let (activity, imageId, stage) = state.activity.withLock { $0 }
                do { try store.daemonHeartbeat(activity: activity, imageId: imageId, stage: stage) } catch {
                    logger.error("heartbeat not recorded", metadata: ["error": "\(error)"])
                }
                notifier.notify("WATCHDOG=1\nSTATUS=\(activity)\(imageId.map { " image \($0)" } ?? "")")
                try await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
