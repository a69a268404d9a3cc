/// What an event source reports. Sources only turn kernel events or scans into values; the
/// daemon decides what they mean.
public enum WatchEvent: Sendable, Equatable {
    /// Something happened to a file of interest; `closed` when it was closed after writing or
    /// moved into place.
    case file(path: String, closed: Bool)
    /// Events may have been lost (queue overflow, a root that came back): scan everything.
    case rescan(reason: String)
    /// Worth a log line, nothing lost.
    case warning(String)
    /// inotify cannot cover the roots (the per-user watch limit): poll instead.
    case needsPolling(reason: String)
}
