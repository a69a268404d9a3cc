#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle
import Store
import UnixSignals

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

/// Heartbeat in the database, STATUS and WATCHDOG for systemd; SIGHUP (through
/// swift-service-lifecycle's `UnixSignalsSequence`) reloads the configuration;
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
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { self.reload() }
            }
            group.addTask {
                do { try await self.beat(interval: interval) } catch is CancellationError {}
            }
            // the beat ends with the graceful shutdown (or throws DatabaseMoved); the signal
            // sequence never ends by itself
            try await group.next()
            group.cancelAll()
        }
        notifier.notify("STOPPING=1")
    }

    /// SIGHUP: reads the configuration file again; the segmenter is rebuilt only when
    /// `[analysis]` changed. `[watch]` and `[store]` changes need a restart (said so).
    func reload() {
        guard let path = state.configPath else { logger.warning("SIGHUP: no configuration file to reload"); return }
        notifier.notify("RELOADING=1")
        defer { notifier.notify("READY=1") }
        do {
            let new = try Configuration.load(path: path)
            let old = state.current
            let segmenter = new.analysis == old.configuration.analysis ? old.segmenter : try new.makeSegmenter(configurationFile: path)
            state.replace(LoadedConfiguration(configuration: new, segmenter: segmenter))
            if new.watch != old.configuration.watch || new.store != old.configuration.store {
                logger.warning("configuration reloaded; [watch] and [store] changes take effect after a restart")
            } else {
                logger.notice("configuration reloaded", metadata: ["config": "\(path)"])
            }
        } catch {
            logger.error("configuration not reloaded: \(error)")
        }
    }

    func beat(interval: Double) async throws {
        let state = self.state, logger = self.logger, notifier = self.notifier
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try checkDatabaseInPlace()
                let activity = state.activity
                do { try store.daemonHeartbeat(activity: activity.name, imageId: activity.imageId, stage: activity.stage?.rawValue) } catch {
                    logger.error("heartbeat not recorded", metadata: ["error": "\(error)"])
                }
                notifier.notify("WATCHDOG=1\nSTATUS=\(activity.name)\(activity.imageId.map { " image \($0)" } ?? "")")
                try await Task.sleep(for: .seconds(interval))
            }
        }
    }
}
