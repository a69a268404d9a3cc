import Foundation
import Analysis
import SafeFiles
import Store
import Watcher

/// What became of a file handed to ingestion.
public enum IngestResult: Sendable, Equatable {
    /// Frames queued for analysis.
    case queued(frames: Int, sampleId: Int64)
    /// The same content is already known at this path (analysed, queued, or failed).
    case alreadyKnown
    /// The same content is already known at another path (a copy, or a file moved after it
    /// was analysed): not analysed or counted again; recorded as an event.
    case duplicate(of: String, sample: String)
    /// A marker file: its session is closing.
    case markerClosedSession(sampleId: Int64?)
    /// The file changed while being read; it goes back to the stability tracker.
    case changedWhileReading
    /// Recorded as failed or skipped, with the reason.
    case recordedProblem(String)
    /// Outside every watch root, or vanished: nothing recorded.
    case ignored(String)
}

/// Turns a complete file into queued image frames: hashes it, finds its sample, reads its
/// frames. Unreadable files are recorded as failed (with the reason) so that they show in
/// `antemactl status` and are not read again until they change.
public struct Ingest: Sendable {
    public var rules: SessionRules
    public var markerFiles: [String]
    public var reopenClosed: Bool
    /// Largest file read (`watch.max_file_mb`); larger ones are recorded as refused, unread.
    public var maxFileBytes: Int64
    public let store: AntemaStore

    public init(rules: SessionRules, markerFiles: [String], reopenClosed: Bool, maxFileBytes: Int64 = 2048 * 1_048_576, store: AntemaStore) {
        self.rules = rules
        self.markerFiles = markerFiles
        self.reopenClosed = reopenClosed
        self.maxFileBytes = maxFileBytes
        self.store = store
    }

    public func ingest(path: String, observation: FileObservation, at now: Date = Date()) throws -> IngestResult {
        guard let place = rules.sample(for: path) else { return .ignored("outside every watch root") }
        let name = (path as NSString).lastPathComponent
        let identity = Ingest.folderIdentity(place.folder)
        if markerFiles.contains(name) {
            // the sample of this folder, also when the folder was renamed since its images came
            let sample = try? store.openSample(name: place.name, watchRoot: place.root, folder: place.folder, identity: identity, at: now,
                                               reopen: false, create: false).sample
            if let id = sample?.id, sample?.state == .open { try store.setSampleState(id, .closing, at: now) }
            return .markerClosedSession(sampleId: sample?.id)
        }
        let bytes: [UInt8]
        do { bytes = try SafeFiles.readFile(path, base: place.root, maxBytes: maxFileBytes) } catch {
            if FileSystem.observe(path) == nil { return .ignored("vanished before it could be read") }
            let sample = try store.openSample(name: place.name, watchRoot: place.root, folder: place.folder, identity: identity, at: now, reopen: reopenClosed).sample
            // a link, a file over the size limit or one the daemon may not read: recorded by its
            // path and the reason only (nothing of a link's target is read or recorded)
            let state: ImageRecord.State = (error as? SafeFiles.Failure)?.kind == .symbolicLink ? .skipped : .failed
            let reason = (error as? SafeFiles.Failure)?.reason ?? "cannot read: \(error.localizedDescription)"
            return try recordUnreadable(path: path, sampleId: sample.id!, state: state, reason: reason, at: now)
        }
        // the file must not have changed while it was read
        guard Int64(bytes.count) == observation.sizeBytes, FileSystem.observe(path) == observation else { return .changedWhileReading }
        let hash = sha256Hex(bytes)
        if let known = try store.knownImage(contentSha256: hash) {
            if known.path == path { return .alreadyKnown }
            try store.logEvent(level: "info", message: "\(path): the same content as \(known.path) (sample \(known.sample)), analysed there; not analysed or counted again",
                               imageId: known.imageId, at: now)
            return .duplicate(of: known.path, sample: known.sample)
        }
        let sample = try store.openSample(name: place.name, watchRoot: place.root, folder: place.folder, identity: identity, at: now, reopen: reopenClosed).sample
        // frames numbered as everywhere (InputLoader): a frame that cannot be analysed (no
        // calibration, too large) is queued and fails with its reason when processed
        let opened = InputLoader(fallbackPixelSizeNm: nil, maxImagePixels: Int.max).open(path, dmBytes: bytes)
        if opened.frames.isEmpty {
            let state: ImageRecord.State = opened.problems.contains { $0.status == .failed } ? .failed : .skipped
            let reasons = opened.problems.map(\.message)
            return try record(path: path, hash: hash, size: bytes.count, sampleId: sample.id!, state: state,
                              reason: reasons.isEmpty ? "no images in the file" : reasons.joined(separator: "; "), at: now)
        }
        var queued = 0
        for k in opened.frames.indices {
            if try store.enqueue(ImageRecord(sampleId: sample.id!, path: path, contentSha256: hash, fileSizeBytes: Int64(bytes.count), frame: k, queuedAt: now)) != nil {
                queued += 1
            }
        }
        // newer content at the same path (a file replaced in place, or completed after a pause
        // in writing) supersedes what was recorded there: counted once, as it is now
        if try store.supersede(path: path, byContent: hash, at: now) > 0 {
            try store.logEvent(level: "info", message: "\(path): replaced by new content; the earlier version no longer counts", sampleId: sample.id, at: now)
        }
        return .queued(frames: queued, sampleId: sample.id!)
    }

    /// The device and inode of a sample folder (nil when it cannot be read).
    static func folderIdentity(_ folder: String) -> AntemaStore.FolderIdentity? {
        guard let st = SafeFiles.lstatOf(folder) else { return nil }
        return AntemaStore.FolderIdentity(device: Int64(bitPattern: UInt64(st.st_dev)), inode: Int64(bitPattern: UInt64(st.st_ino)))
    }

    func recordUnreadable(path: String, sampleId: Int64, state: ImageRecord.State = .failed, reason: String, at now: Date) throws -> IngestResult {
        // an unread file has no content hash; use the hash of its path and time so it is recorded once per attempt
        let hash = sha256Hex(Array("unreadable:\(path):\(now.timeIntervalSince1970)".utf8))
        return try record(path: path, hash: hash, size: 0, sampleId: sampleId, state: state, reason: reason, at: now)
    }

    func record(path: String, hash: String, size: Int, sampleId: Int64, state: ImageRecord.State, reason: String, at now: Date) throws -> IngestResult {
        // recorded with its state at once: a worker never sees it queued
        if let image = try store.enqueueUnanalysable(ImageRecord(sampleId: sampleId, path: path, contentSha256: hash, fileSizeBytes: Int64(size), frame: 0, queuedAt: now),
                                                     state: state, error: reason, at: now) {
            try store.logEvent(level: state == .failed ? "error" : "info", message: "\(path): \(reason)", sampleId: sampleId, imageId: image.id)
        }
        return .recordedProblem(reason)
    }
}
