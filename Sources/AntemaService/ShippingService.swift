import Facility
import Foundation
import Logging
import ServiceLifecycle
import Store

/// Ships the local results to the facility database (`store.url`) while antemad runs. The
/// microscope never waits for the network: analysis goes on into the local file, and when the
/// server cannot be reached the shipper says so once, retries after 1, 2, 4 ... 60 s, and says
/// when it is back; `antemactl status` shows what waits and since when.
public struct ShippingService: Service {
    let shipper: Shipper
    let logger: Logger
    var idle: Duration = .milliseconds(500)

    public init(shipper: Shipper, logger: Logger, idle: Duration = .milliseconds(500)) {
        self.shipper = shipper
        self.logger = logger
        self.idle = idle
    }

    public func run() async throws {
        let store = shipper.store
        await cancelWhenGracefulShutdown {
            var wait = 1.0, down = false
            while !Task.isCancelled {
                do {
                    let round = try await shipper.shipPending()
                    if down {
                        logger.notice("facility database reachable again; shipping what waited", metadata: ["server": "\(shipper.target)"])
                        down = false
                    }
                    wait = 1
                    if round.pending == 0 || round.shipped == 0 { try? await Task.sleep(for: idle) }
                } catch {
                    let message = FacilityError.describe(error)
                    try? store.recordShippingError(message)
                    if !down {
                        logger.warning("facility database not reachable; results stay in the local database and are shipped when it is back",
                                       metadata: ["server": "\(shipper.target)", "error": "\(message)"])
                        down = true
                    }
                    try? await Task.sleep(for: .seconds(wait))
                    wait = min(wait * 2, 60)
                }
            }
        }
    }
}
