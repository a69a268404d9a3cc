import Dispatch
import Foundation
import Logging
@testable import Store
import Testing
import Watcher
@testable import AntemaService

/// The processing and heartbeat services run in-process: an in-memory store, an injected
/// analysis, no daemon spawned and no sleeps.
@Suite struct InProcessServices {
    struct Refused: Error {}

    static func queuedImages(_ store: AntemaStore, _ n: Int) throws -> [ImageRecord] {
        let sample = try store.openSample(name: "S", watchRoot: "/w", folder: "/w/S")
        return try (0..<n).map { k in
            try #require(try store.enqueue(ImageRecord(sampleId: sample.id!, path: "/w/S/\(k).dm3", contentSha256: String(repeating: "\(k)", count: 64),
                                                       fileSizeBytes: 1, frame: 0, queuedAt: Date(timeIntervalSince1970: Double(k)))))
        }
    }

    static func state() -> DaemonState { DaemonState(configuration: Configuration(), segmenter: .classical(), configPath: nil) }

    static func states(_ store: AntemaStore) throws -> [String] {
        try store.writer.read { db in try String.fetchAll(db, sql: "SELECT state FROM image ORDER BY id") }
    }

    @Test("when the store refuses one image's result, that image goes back to the queue and the others in flight stay with their workers")
    func refusedResultRequeuesOnlyThatImage() async throws {
        let store = try AntemaStore.inMemory()
        _ = try Self.queuedImages(store, 3)
        var service = ProcessingService(state: Self.state(), store: store, logger: Logger(label: "test")) { image, _, _ in
            if image.path.hasSuffix("/0.dm3") { throw Refused() }
            return .analysed(particles: 0)
        }
        service.failureBackoff = .zero
        let a = try #require(try store.claimNextQueued()), b = try #require(try store.claimNextQueued())
        #expect(try Self.states(store) == ["processing", "processing", "queued"])
        #expect(await service.handle(a) == .requeued)
        #expect(try Self.states(store) == ["queued", "processing", "queued"])
        _ = b
    }

    @Test("while an image is analysed the daemon's activity names it and its stage; afterwards it is idle")
    func activityFollowsTheStages() async throws {
        let store = try AntemaStore.inMemory()
        let image = try #require(try Self.queuedImages(store, 1).first)
        let state = Self.state()
        let seen = SeenActivities()
        let service = ProcessingService(state: state, store: store, logger: Logger(label: "test")) { _, _, stage in
            seen.append(state.activity)
            for s in [Activity.Stage.analysis, .storing, .pictures] { stage(s); seen.append(state.activity) }
            return .analysed(particles: 2)
        }
        _ = try store.claimNextQueued()
        #expect(await service.handle(image) == .analysed)
        #expect(seen.values == [.analysing(imageId: image.id!, stage: .reading), .analysing(imageId: image.id!, stage: .analysis),
                                .analysing(imageId: image.id!, stage: .storing), .analysing(imageId: image.id!, stage: .pictures)])
        #expect(state.activity == .idle)
    }

    @Test("cancelled after the grace period, an analysis is abandoned at once: the image stays processing for the next start to re-queue")
    func cancellationAbandons() async throws {
        let store = try AntemaStore.inMemory()
        let image = try #require(try Self.queuedImages(store, 1).first)
        let release = DispatchSemaphore(value: 0)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let service = ProcessingService(state: Self.state(), store: store, logger: Logger(label: "test")) { _, _, _ in
            startedContinuation.yield()
            release.wait()  // an analysis that outlasts the grace period
            return .analysed(particles: 0)
        }
        _ = try store.claimNextQueued()
        let task = Task { await service.handle(image) }
        for await _ in started { break }
        task.cancel()
        #expect(await task.value == .abandoned)
        #expect(try Self.states(store) == ["processing"])
        #expect(try store.requeueInterrupted() == 1)
        release.signal()
    }

    @Test("two workers report one activity: the first busy worker's; idle only when both are")
    func activityOfSeveralWorkers() {
        let state = Self.state()
        state.setActivity(.analysing(imageId: 7, stage: .analysis), worker: 1)
        #expect(state.activity == .analysing(imageId: 7, stage: .analysis))
        state.setActivity(.analysing(imageId: 5, stage: .storing), worker: 0)
        #expect(state.activity == .analysing(imageId: 5, stage: .storing))
        state.setActivity(.idle, worker: 0)
        #expect(state.activity.imageId == 7)
        state.setActivity(.idle, worker: 1)
        #expect(state.activity == .idle && state.activity.name == "idle")
    }

    @Test("SIGHUP's reload takes a changed [analysis] with a new segmenter, keeps everything on a bad file, and says [watch] needs a restart")
    func reload() throws {
        let dir = try IngestAndProcess.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/config.toml"
        func write(_ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
        try write("[watch]\nroots = [\"\(dir)\"]\n[analysis]\nsegmenter = \"classical\"\noverlap = \"separate\"\n")
        let first = try Configuration.load(path: path)
        let state = DaemonState(configuration: first, segmenter: try first.makeSegmenter(configurationFile: path), configPath: path)
        let heartbeat = HeartbeatService(state: state, store: try AntemaStore.inMemory(), logger: Logger(label: "test"), notifier: SystemdNotifier())
        try write("[watch]\nroots = [\"\(dir)\"]\n[analysis]\nsegmenter = \"classical\"\noverlap = \"flag\"\n")
        heartbeat.reload()
        #expect(state.configuration.analysis.overlap == .flag)
        try write("[analysis]\noverlap = \"sideways\"\n")
        heartbeat.reload()
        #expect(state.configuration.analysis.overlap == .flag)
    }
}

final class SeenActivities: Sendable {
    let storage = Mutex<[Activity]>([])
    func append(_ a: Activity) { storage.withLock { $0.append(a) } }
    var values: [Activity] { storage.withLock { $0 } }
}

import Synchronization
