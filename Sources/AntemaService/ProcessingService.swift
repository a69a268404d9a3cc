import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Store
import Synchronization

/// Takes queued images one at a time (or `processing.concurrent_images` at once) and analyses
/// them. On SIGTERM the images being analysed may finish within
/// `processing.shutdown_grace_seconds` (the service group's graceful shutdown); after that they
/// are abandoned, stay `processing` in the database and are analysed again on the next start.
public struct ProcessingService: Service {
    let state: DaemonState
    let store: AntemaStore
    let logger: Logger
    /// Analyses one claimed image (the real `Processor` unless a test injects another).
    let process: @Sendable (ImageRecord, LoadedConfiguration, @escaping @Sendable (Activity.Stage) -> Void) throws -> Processor.Outcome
    /// The wait after the store refused a result, before the next image.
    var failureBackoff: Duration = .seconds(5)
    /// The wait when the queue is empty.
    var idlePoll: Duration = .milliseconds(200)
    let queue = DispatchQueue(label: "antema.processing", attributes: .concurrent)

    public init(state: DaemonState, store: AntemaStore, logger: Logger) {
        self.init(state: state, store: store, logger: logger) { image, loaded, stage in
            try Processor(store: store, configuration: loaded.configuration, softwareVersion: antemaVersion, segmenter: loaded.segmenter)
                .process(image, stage: stage)
        }
    }

    init(state: DaemonState, store: AntemaStore, logger: Logger,
         process: @escaping @Sendable (ImageRecord, LoadedConfiguration, @escaping @Sendable (Activity.Stage) -> Void) throws -> Processor.Outcome) {
        self.state = state
        self.store = store
        self.logger = logger
        self.process = process
    }

    public func run() async throws {
        let interrupted = try store.requeueInterrupted()
        if interrupted > 0 { logger.notice("re-queued images left processing by an interrupted run", metadata: ["images": "\(interrupted)"]) }
        let workers = state.configuration.processing.concurrentImages
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask { await self.work(worker: worker) }
            }
        }
    }

    /// One worker: claims and analyses images until shutdown.
    func work(worker: Int) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let image: ImageRecord?
            do { image = try store.claimNextQueued() } catch {
                if let suppressed = state.storeErrors.shouldLog("\(error)") {
                    logger.error("cannot read the queue; retrying", metadata: ["error": "\(error)", "repeats_not_logged": "\(suppressed)"])
                }
                try? await Task.sleep(for: .seconds(2))
                continue
            }
            guard let image else {
                try? await Task.sleep(for: idlePoll)
                continue
            }
            if await handle(image, worker: worker) == .abandoned { return }
        }
    }

    enum Handled: Equatable { case analysed, failed, requeued, abandoned }

    /// Analyses one claimed image on the processing queue and records what came of it. When the
    /// store refuses the result, this image (and only this one) goes back to the queue. When
    /// the task is cancelled (the grace period is over) the analysis is abandoned: the image
    /// stays `processing` and is re-queued by the next start.
    func handle(_ image: ImageRecord, worker: Int = 0) async -> Handled {
        let state = self.state, loaded = state.current, process = self.process
        state.setActivity(.analysing(imageId: image.id!, stage: .reading), worker: worker)
        defer { state.setActivity(.idle, worker: worker) }
        let start = DispatchTime.now().uptimeNanoseconds
        let pending = Mutex<CheckedContinuation<Result<Processor.Outcome, Error>?, Never>?>(nil)
        let outcome: Result<Processor.Outcome, Error>? = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                pending.withLock { $0 = continuation }
                queue.async {
                    let result = Result { try process(image, loaded) { state.setActivity(.analysing(imageId: image.id!, stage: $0), worker: worker) } }
                    pending.withLock { $0.take() }?.resume(returning: result)
                }
            }
        } onCancel: {
            pending.withLock { $0.take() }?.resume(returning: nil)
        }
        let ms = Int((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        switch outcome {
        case nil:
            logger.warning("the image being analysed did not finish within processing.shutdown_grace_seconds; abandoned (it is analysed again on the next start)",
                           metadata: ["image": "\(image.path)", "frame": "\(image.frame)"])
            return .abandoned
        case .success(.analysed(let n))?:
            logger.info("analysed", metadata: ["image": "\(image.path)", "frame": "\(image.frame)", "particles": "\(n)", "stage": "done", "duration_ms": "\(ms)"])
            return .analysed
        case .success(.failed(let why))?:
            logger.error("analysis failed", metadata: ["image": "\(image.path)", "error": "\(why)", "duration_ms": "\(ms)"])
            return .failed
        case .failure(let error)?:
            // the store refused the result (disk full, read-only): this image goes back to the queue
            logger.error("could not store the analysis; the image stays queued", metadata: ["image": "\(image.path)", "error": "\(error)"])
            _ = try? store.requeue(imageId: image.id!)
            try? await Task.sleep(for: failureBackoff)
            return .requeued
        }
    }
}
