/// Size and modification time of a file, as `stat` reports them.
public struct FileObservation: Sendable, Equatable {
    public var sizeBytes: Int64
    /// Modification time, seconds since the epoch (with fraction).
    public var modifiedAt: Double
    public init(sizeBytes: Int64, modifiedAt: Double) {
        self.sizeBytes = sizeBytes
        self.modifiedAt = modifiedAt
    }
}

/// Decides when a file is complete, from what the event sources saw. Pure: time is passed in.
///
/// A file is complete when its size and modification time have not changed for
/// `stableSeconds`, or, once it was closed after writing or moved into place, for
/// `closedSettleSeconds` (a writer that reopens the file within that time, as some SMB and NFS
/// clients do, starts the wait again). A file that disappears is forgotten.
public struct StabilityTracker: Sendable {
    public var stableSeconds: Double
    public var closedSettleSeconds: Double

    struct Entry: Sendable {
        var observation: FileObservation
        var lastChangeAt: Double
        var closed: Bool
    }
    var entries: [String: Entry] = [:]

    public init(stableSeconds: Double, closedSettleSeconds: Double? = nil) {
        self.stableSeconds = stableSeconds
        self.closedSettleSeconds = closedSettleSeconds ?? min(stableSeconds, 1)
    }

    /// Records what was seen of `path` at `now`: its size and mtime (`nil` when it is gone), and
    /// whether the event says it was closed after writing or moved in.
    public mutating func ingest(_ path: String, _ observation: FileObservation?, closed: Bool = false, at now: Double) {
        guard let observation else { entries[path] = nil; return }
        if var e = entries[path] {
            if e.observation != observation {
                e.observation = observation
                e.lastChangeAt = now
                e.closed = closed
            } else if closed {
                e.closed = true
            }
            entries[path] = e
        } else {
            entries[path] = Entry(observation: observation, lastChangeAt: now, closed: closed)
        }
    }

    /// The files complete at `now`, with their last observation, removed from tracking (sorted).
    public mutating func ready(at now: Double) -> [(path: String, observation: FileObservation)] {
        var out: [(String, FileObservation)] = []
        for (path, e) in entries {
            let quiet = now - e.lastChangeAt
            if quiet >= stableSeconds || (e.closed && quiet >= closedSettleSeconds) { out.append((path, e.observation)) }
        }
        for (p, _) in out { entries[p] = nil }
        return out.sorted { $0.0 < $1.0 }
    }

    /// When the next file could become complete, or `nil` when nothing is tracked.
    public func nextDeadline() -> Double? {
        entries.values.map { $0.lastChangeAt + ($0.closed ? closedSettleSeconds : stableSeconds) }.min()
    }

    public var trackedCount: Int { entries.count }
}
