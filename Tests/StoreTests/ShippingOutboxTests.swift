import Foundation
import Pipeline
import Testing
@testable import Store

@Suite("Shipping outbox")
struct ShippingOutboxTests {
    @Test("without a shipping target nothing is queued; with one, every sample change and every finished image is, once however often it changes")
    func triggersFillTheOutbox() throws {
        let store = try AntemaStore.inMemory(instrument: "TEM-1")
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        _ = try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/0.dm3", contentSha256: sha(1), fileSizeBytes: 1, frame: 0, queuedAt: Date()))
        #expect(try store.pendingShipments(limit: 10).isEmpty)
        // enabling ships the history: the sample (the queued image is not finished yet)
        #expect(try store.enableShipping(target: "postgresql://a@h:5432/d") == 1)
        #expect(try store.enableShipping(target: "postgresql://a@h:5432/d") == 0)
        let image = try #require(try store.claimNextQueued())
        #expect(try store.pendingShipments(limit: 10).map(\.kind) == [.sample])
        try store.recordAnalysis(outcome([2, 3]), imageId: image.id!, facts: nil)
        let items = try store.pendingShipments(limit: 10)
        #expect(items.map(\.kind) == [.sample, .image] && items[1].refId == image.id)
        #expect(items[0].version > 1)  // the sample's counts changed with the image
        // a change while shipping keeps the item (with its new content) for the next round
        try store.setSampleState(s.id!, .closing)
        #expect(try store.markShipped(items[0]) == false)
        #expect(try store.markShipped(items[1]) == true)
        let left = try store.pendingShipments(limit: 10)
        #expect(left.map(\.kind) == [.sample])
        #expect(try store.markShipped(left[0]) == true)
        #expect(try store.shippingStatus()?.pendingImages == 0 && store.shippingStatus()?.lastShippedAt != nil)
        // a recorded problem (a link) is a finished image too
        _ = try store.enqueueUnanalysable(ImageRecord(sampleId: s.id!, path: "/w/A/l.dm3", contentSha256: sha(9), fileSizeBytes: 0, frame: 0, queuedAt: Date()),
                                          state: .skipped, error: "link")
        #expect(try store.pendingShipments(limit: 10).contains { $0.kind == .image })
        #expect(try store.image(id: image.id!)?.instrument == "TEM-1" && store.sample(id: s.id!)?.instrument == "TEM-1")
    }

    @Test("an image's shipment holds the sample, its summaries, the image, the current analysis and its particles; timestamps as dates")
    func shipmentContents() throws {
        let store = try AntemaStore.inMemory(instrument: "TEM-1")
        let s = try store.openSample(name: "A", watchRoot: "/w", folder: "/w/A")
        let image = try #require(try store.enqueue(ImageRecord(sampleId: s.id!, path: "/w/A/0.dm3", contentSha256: sha(1), fileSizeBytes: 1, frame: 0, queuedAt: Date())))
        _ = try store.claimNextQueued()
        try store.recordAnalysis(outcome([2, 3, 4]), imageId: image.id!, facts: nil)
        let shipment = try #require(try store.imageShipment(imageId: image.id!))
        #expect(shipment.particles.count == 3 && shipment.particleColumns.contains("equivalent_diameter_nm"))
        #expect(shipment.image["instrument"] == .text("TEM-1") && shipment.sample["particle_count"] == .integer(3))
        if case .date = shipment.image["finished_at"] {} else { Issue.record("finished_at is not a date: \(String(describing: shipment.image["finished_at"]))") }
        #expect(shipment.aggregates.contains { $0["measurement"] == .text("equivalent_diameter_nm") })
        #expect(shipment.analysis?["particle_count"] == .integer(3))
    }
}
