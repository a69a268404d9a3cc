import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Store
import Synchronization

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
            let dir = try ReportWriter(store: store, configuration: state.configuration).write(sampleId: sample.id!, pictures: false).directory
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
