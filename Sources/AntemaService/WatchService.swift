import Foundation
import Journal
import Logging
import ServiceLifecycle
import Store
import Synchronization
import Watcher

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
        let watch = Watch(configuration: state.configuration, state: state, store: store, logger: logger)
        logger.info("watching", metadata: ["roots": "\(watch.configuration.watch.roots)", "mode": "\(Self.effectiveMode(watch.configuration.watch))"])
        // reconciliation (files that arrived while the daemon was down) comes from the source
        // itself once its watches are in place (inotify's first `.rescan`, polling's first scan):
        // a scan made before the watches would miss what arrives in between
        let tick = self.tick
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await watch.followEvents(startingIn: Self.effectiveMode(watch.configuration.watch)) }
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: tick)
                        watch.ingestReady()
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// The watching of one configuration: file events in, complete files ingested. Paths go
/// through the stability tracker; a file is ingested once per observation (size, time, inode).
final class Watch: Sendable {
    let configuration: Configuration
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    let ingest: Ingest
    let tracker: Mutex<StabilityTracker>
    /// The observation each path was last ingested as (events for it unchanged are ignored).
    let handled = Mutex<[String: FileObservation]>([:])
    let origin = ContinuousClock.now

    init(configuration: Configuration, state: DaemonState, store: AntemaStore, logger: Logger) {
        self.configuration = configuration
        self.state = state
        self.store = store
        self.logger = logger
        tracker = Mutex(StabilityTracker(stableSeconds: configuration.watch.stableSeconds))
        ingest = Ingest(rules: SessionRules(roots: configuration.watch.roots, depth: configuration.session.depth),
                        markerFiles: configuration.session.markerFiles, reopenClosed: configuration.session.reopenClosed,
                        maxFileBytes: configuration.watch.maxFileBytes, store: store)
    }

    /// Seconds since the watch began (the tracker's clock).
    func seconds() -> Double {
        let d = ContinuousClock.now - origin
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Micrographs by pattern, and the marker files.
    func isInteresting(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        return configuration.session.markerFiles.contains(name) || FileSystem.matches(name, patterns: configuration.watch.patterns)
    }

    func observe(_ path: String, closed: Bool) {
        let o = FileSystem.observe(path)
        if let o, handled.withLock({ $0[path] == o }) { return }  // already ingested as it is
        let now = seconds()
        tracker.withLock { $0.ingest(path, o, closed: closed, at: now) }
    }

    /// A watch warning, logged and recorded at most once an hour for the same text.
    func warn(_ w: String) {
        if state.watchWarnings.shouldLog(w) != nil { logger.warning("\(w)"); try? store.logEvent(level: "warning", message: w) }
    }

    func scanAll(_ reason: String) {
        logger.info("scanning the watch roots", metadata: ["reason": "\(reason)"])
        for root in configuration.watch.roots {
            let tree = FileSystem.scan(root, patterns: ["*"])
            for f in tree.files where isInteresting(f) { observe(f, closed: true) }
            for bad in tree.unnamable {
                let d = (bad as NSString).deletingLastPathComponent, n = (bad as NSString).lastPathComponent
                warn(FileSystem.unnamableWarning(dir: d, name: LogText.printable(n)))
            }
            for (path, reason) in tree.unreadable { warn(FileSystem.unreadableWarning(path: path, reason: reason)) }
            for link in tree.linkedFolders { warn(FileSystem.linkedFolderWarning(path: link)) }
        }
    }

    /// Follows inotify (or polling) events until cancelled; falls back to polling when inotify
    /// runs out of watches.
    func followEvents(startingIn initialMode: Configuration.WatchMode) async {
        let roots = configuration.watch.roots
        let interesting: @Sendable (String) -> Bool = { [self] in isInteresting($0) }
        var mode = initialMode
        while !Task.isCancelled {
            let inotify = mode == .inotify ? InotifySource(roots: roots, isInteresting: interesting) : nil
            let poller = mode == .poll ? PollingSource(roots: roots, intervalSeconds: configuration.watch.pollIntervalSeconds, isInteresting: interesting) : nil
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
            guard switchToPolling else { return }
            mode = .poll
            scanAll("switching to polling")
        }
    }

    /// Ingests the files the tracker finds complete.
    func ingestReady() {
        let now = seconds()
        let ready = tracker.withLock { $0.ready(at: now) }
        for (path, observation) in ready {
            do {
                let result = try ingest.ingest(path: path, observation: observation)
                if result != .changedWhileReading, !isIgnored(result) { handled.withLock { $0[path] = observation } }
                log(result, path: path)
                if result == .changedWhileReading { observe(path, closed: false) }
            } catch {
                // the database refused (disk full, read-only): keep the file for later
                if let suppressed = state.storeErrors.shouldLog("\(error)") {
                    logger.error("could not record; will retry", metadata: ["image": "\(path)", "error": "\(error)", "repeats_not_logged": "\(suppressed)"])
                }
                let later = seconds() + 5
                tracker.withLock { $0.ingest(path, observation, closed: true, at: later) }
            }
        }
    }

    func isIgnored(_ result: IngestResult) -> Bool { if case .ignored = result { true } else { false } }

    func log(_ result: IngestResult, path: String) {
        switch result {
        case .changedWhileReading:
            logger.debug("changed while read; tracked again", metadata: ["image": "\(path)"])
        case .queued(let frames, _):
            logger.info("queued", metadata: ["image": "\(path)", "frames": "\(frames)"])
        case .alreadyKnown:
            logger.debug("already analysed", metadata: ["image": "\(path)"])
        case .duplicate(let known, let sample):
            logger.info("same content as an image already analysed: not counted again", metadata: ["image": "\(path)", "known_as": "\(known)", "sample": "\(sample)"])
        case .markerClosedSession(let id):
            logger.info("marker file: closing the session", metadata: ["sample": "\(id.map(String.init) ?? "none")", "marker": "\(path)"])
        case .recordedProblem(let why):
            logger.error("not analysable", metadata: ["image": "\(path)", "error": "\(why)"])
        case .ignored(let why):
            logger.debug("ignored", metadata: ["image": "\(path)", "reason": "\(why)"])
        }
    }
}
