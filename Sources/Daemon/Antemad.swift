import Analysis
#if canImport(Glibc)
import Glibc
#endif
import AntemaService
import Facility
import ArgumentParser
import Foundation
import Journal
import Logging
import ServiceLifecycle
import Store

@main
struct Antemad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "antemad",
        abstract: "The antema service: watches microscope export folders and analyses every new micrograph.",
        discussion: """
            Logs go to stderr (journald collects them). SIGTERM and SIGINT stop it gracefully (the \
            current image may finish within processing.shutdown_grace_seconds); SIGHUP reloads the \
            configuration. See config.example.toml for every setting.
            """,
        version: antemaVersion)

    @Option(help: "Configuration file.")
    var config: String = "/etc/antema/config.toml"

    @Flag(name: .customLong("check-config"), help: "Validate the configuration and exit.")
    var checkConfig = false

    func run() async throws {
        // The analyses run on a worker thread. With a malloc arena of its own, the network's
        // memory went back to the system after every image and was faulted in again for the
        // next (about 100,000 faults, 0.3 s per 1024 x 1024 image; docs/inference.md). One arena
        // for all threads keeps it; glibc reads MALLOC_ARENA_MAX only when a program starts and
        // by now other threads have arenas, so antemad starts itself once more with it set:
        // same pid, same arguments (execv returns only if that fails, and antemad goes on).
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil {
            setenv("MALLOC_ARENA_MAX", "1", 1)
            execv("/proc/self/exe", CommandLine.unsafeArgv)
        }
        let configuration: AntemaService.Configuration
        do { configuration = try AntemaService.Configuration.load(path: config) } catch {
            FileHandle.standardError.write(Data("antemad: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG: systemd will not restart in a loop on a bad config
        }
        let segmenter: Segmenter
        do { segmenter = try configuration.makeSegmenter(configurationFile: config) } catch {
            FileHandle.standardError.write(Data("antemad: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let facility: PostgresTarget?
        do {
            facility = try configuration.facilityTarget()
            _ = try facility?.password()  // an unreadable password file is a configuration error, said now
        } catch {
            FileHandle.standardError.write(Data("antemad: \(config): \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig { print("\(config): ok (segmenter: \(segmenter.label))"); return }

        let level = configuration.log.level
        // under systemd, records go to the journal natively with their fields (SAMPLE, IMAGE,
        // STAGE, DURATION_MS: journalctl SAMPLE=...); plain text on stderr otherwise
        let journal = JournalLogHandler.stderrIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(identifier: "antemad")
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return PrintableLogHandler(handler)  // names from the file system are shown escaped
        }
        let logger = Logger(label: "antemad")
        // a root that is missing now may be a share mounted later: said, then watched for
        for problem in configuration.fileSystemProblems(file: config) { logger.warning("\(problem)") }

        let databaseFolder = (configuration.store.database as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: databaseFolder, withIntermediateDirectories: true)
        let store: AntemaStore
        do { store = try AntemaStore(path: configuration.store.database, instrument: configuration.instrument.name) } catch {
            logger.critical("cannot open the database", metadata: ["database": "\(configuration.store.database)", "error": "\(error)"])
            throw ExitCode(73)  // EX_CANTCREAT
        }
        // one daemon per database: a second one is refused before it records anything
        let lock: DaemonLock
        do { lock = try DaemonLock(databasePath: configuration.store.database, pidOfHolder: store.recordedDaemonPid) } catch {
            logger.critical("\(error)")
            FileHandle.standardError.write(Data("antemad: \(error)\n".utf8))
            throw ExitCode(75)  // EX_TEMPFAIL
        }
        let state = DaemonState(configuration: configuration, segmenter: segmenter, configPath: config)
        do {
            try store.daemonStarted(DaemonStatusRecord(pid: getpid(), version: antemaVersion, startedAt: Date(),
                                                       watchRoots: configuration.watch.roots,
                                                       watchMode: "\(WatchService.effectiveMode(configuration.watch))", configPath: config))
        } catch {
            // a read-only database file or folder, a full disk: nothing can be recorded, so stop
            logger.critical("cannot write the database (is the file or its folder read-only, or the disk full?)",
                            metadata: ["database": "\(configuration.store.database)", "error": "\(error)"])
            throw ExitCode(73)  // EX_CANTCREAT
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: HeartbeatService(state: state, store: store, logger: logger, notifier: SystemdNotifier(), lock: lock)),
            .init(service: WatchService(state: state, store: store, logger: logger)),
            .init(service: ProcessingService(state: state, store: store, logger: logger)),
            .init(service: SessionService(state: state, store: store, logger: logger)),
        ]
        do {
            if let facility {
                // every change from now on waits in the local outbox until the server has it;
                // a new server gets the whole history first
                let queued = try store.enableShipping(target: facility.description)
                if queued > 0 { logger.notice("shipping the local history to a new facility database", metadata: ["server": "\(facility)", "items": "\(queued)"]) }
                services.append(.init(service: ShippingService(shipper: Shipper(store: store, target: facility, softwareVersion: antemaVersion, logger: logger),
                                                               logger: logger)))
            } else {
                try store.disableShipping()
            }
        } catch {
            logger.critical("cannot write the database", metadata: ["database": "\(configuration.store.database)", "error": "\(error)"])
            throw ExitCode(73)
        }
        logger.notice("antemad \(antemaVersion) starting", metadata: ["config": "\(config)", "database": "\(configuration.store.database)", "pid": "\(getpid())",
                                                                     "instrument": "\(configuration.instrument.name)", "facility": "\(facility.map { "\($0)" } ?? "none")"])

        // SIGTERM and SIGINT start a graceful shutdown: the images being analysed may finish
        // within processing.shutdown_grace_seconds; then the group cancels, the processing
        // service abandons them (they stay `processing` and are analysed again on the next start)
        var groupConfiguration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int64(configuration.processing.shutdownGraceSeconds * 1000))
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch let moved as DatabaseMoved {
            // the database file was deleted or replaced under the daemon: stop (systemd restarts
            // it on the file now at the path) rather than write where nobody will ever read
            logger.critical("\(moved)")
            throw ExitCode(75)  // EX_TEMPFAIL
        } catch {
            logger.error("stopped with an error", metadata: ["error": "\(error)"])
        }
        try? store.daemonStopped()
        logger.notice("antemad stopped")
    }
}
