import Analysis
import Dispatch
import Synchronization

public let antemaVersion = "0.1.0"

/// What the daemon is doing, as `antemactl status` shows it.
public enum Activity: Sendable, Equatable {
    case idle
    case analysing(imageId: Int64, stage: Stage)

    /// The steps of one image's analysis (`Processor`).
    public enum Stage: String, Sendable, CaseIterable {
        case reading, analysis = "segmentation and measurement", storing, pictures
    }

    /// The word stored in `daemon_status.activity`.
    public var name: String {
        switch self {
        case .idle: "idle"
        case .analysing: "analysing"
        }
    }
    public var imageId: Int64? { if case .analysing(let id, _) = self { id } else { nil } }
    public var stage: Stage? { if case .analysing(_, let stage) = self { stage } else { nil } }
}

/// The configuration in effect and the segmenter built from it, replaced together on SIGHUP.
public struct LoadedConfiguration: Sendable {
    public var configuration: Configuration
    public var segmenter: Segmenter
}

/// State shared by the services: the configuration (replaced on reload), what each worker is
/// doing, and the limiters that keep repeated errors from flooding the journal.
public final class DaemonState: Sendable {
    let loaded: Mutex<LoadedConfiguration>
    /// Per worker (`processing.concurrent_images`), what it does.
    let activities = Mutex<[Int: Activity]>([:])
    public let configPath: String?
    /// A database that refuses writes (disk full, read-only): the same error once a minute.
    let storeErrors = RepeatLimiter()
    /// Watch warnings (a name that is not UTF-8 is seen on every event and rescan): once an hour each.
    let watchWarnings = RepeatLimiter(intervalSeconds: 3600)

    /// `segmenter`: `configuration.makeSegmenter()`, loaded once (the network is shared by all images).
    public init(configuration: Configuration, segmenter: Segmenter, configPath: String?) {
        loaded = Mutex(LoadedConfiguration(configuration: configuration, segmenter: segmenter))
        self.configPath = configPath
    }

    public var current: LoadedConfiguration { loaded.withLock { $0 } }
    public var configuration: Configuration { current.configuration }
    public var segmenter: Segmenter { current.segmenter }
    func replace(_ new: LoadedConfiguration) { loaded.withLock { $0 = new } }

    func setActivity(_ activity: Activity, worker: Int = 0) {
        activities.withLock { $0[worker] = activity == .idle ? nil : activity }
    }

    /// What the daemon does: the first busy worker's activity, or idle.
    public var activity: Activity { activities.withLock { a in a.min { $0.key < $1.key }?.value ?? .idle } }
}

/// Keeps an error that repeats for a long time (a database that refuses writes) from flooding
/// the journal: the same text is logged at most once per interval, with how many repeats were not.
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
