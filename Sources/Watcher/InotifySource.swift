#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Journal
import Synchronization

/// Recursive inotify watching of folders: files closed after writing, moved in, created or
/// modified; new subfolders are watched as they appear (and scanned, for files that arrived
/// before their watch). Once the first watches are in place it asks for a scan of everything
/// (`.rescan`), so nothing that arrived before or while they were set up is missed. Queue overflow becomes `.rescan`; a root that disappears is reported and
/// watched again (with a rescan) when it comes back; the per-user watch limit becomes
/// `.needsPolling`.
public final class InotifySource: Sendable {
    public let roots: [String]
    public let isInteresting: @Sendable (String) -> Bool
    let stopRequested = Atomic<Bool>(false)

    public init(roots: [String], isInteresting: @escaping @Sendable (String) -> Bool) {
        self.roots = roots
        self.isInteresting = isInteresting
    }

    /// Starts watching on a thread of its own; events arrive on the stream until `stop()`.
    public func events() -> AsyncStream<WatchEvent> {
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream(bufferingPolicy: .unbounded)
        let thread = Thread { [self] in
            self.run(continuation)
            continuation.finish()
        }
        thread.name = "antema-inotify"
        thread.start()
        return stream
    }

    public func stop() { stopRequested.store(true, ordering: .sequentiallyConsistent) }

    /// `IN_ATTRIB`: a file or folder made readable (chmod) is picked up then.
    static let fileMask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_MODIFY) | UInt32(IN_ATTRIB)
    static let selfMask = UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)

    func run(_ out: AsyncStream<WatchEvent>.Continuation) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else {
            out.yield(.needsPolling(reason: "inotify_init1 failed: \(String(cString: strerror(errno)))"))
            return
        }
        defer { close(fd) }
        var paths: [Int32: String] = [:]
        var missing = Set<String>()
        /// Roots that exist but could not be read: no parent is watched to report a chmod, so they are retried.
        var unreadableRoots = Set<String>()
        var limitReported = false

        /// Watches `dir` and every folder below it; returns false when the watch limit is hit.
        func watchTree(_ dir: String, announceFiles: Bool) -> Bool {
            let tree = FileSystem.scan(dir, patterns: ["*"])
            for (path, reason) in tree.unreadable { out.yield(.warning(FileSystem.unreadableWarning(path: path, reason: reason))) }
            for link in tree.linkedFolders { out.yield(.warning(FileSystem.linkedFolderWarning(path: link))) }
            for folder in tree.folders where !tree.unreadable.contains(where: { $0.path == folder }) {
                // below a root, a folder replaced by a link between the scan and here is not followed
                let noFollow = roots.contains(folder) ? 0 : UInt32(IN_DONT_FOLLOW)
                let wd = inotify_add_watch(fd, folder, InotifySource.fileMask | InotifySource.selfMask | UInt32(IN_ONLYDIR) | noFollow)
                if wd < 0 {
                    if errno == ENOSPC {
                        if !limitReported {
                            limitReported = true
                            out.yield(.needsPolling(reason: "the inotify watch limit (fs.inotify.max_user_watches) is reached at \(folder)"))
                        }
                        return false
                    }
                    continue
                }
                paths[wd] = folder
            }
            if announceFiles {
                for f in tree.files where isInteresting(f) { out.yield(.file(path: f, closed: false)) }
            }
            return true
        }

        for root in roots {
            if FileSystem.isDirectory(root) {
                if !watchTree(root, announceFiles: false) { return }
                if !paths.values.contains(root) { unreadableRoots.insert(root) }
            } else {
                missing.insert(root)
                out.yield(.warning("watch root \(root) does not exist (yet); watching for it"))
            }
        }
        // the watches are in place: a scan now finds every file that came before them (those
        // that came during the start are seen by it or by a watch; a scan made before the
        // watches missed the files of that window)
        out.yield(.rescan(reason: "start-up reconciliation"))
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var lastMissingCheck = Date()
        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 250)
            if !(missing.isEmpty && unreadableRoots.isEmpty) && Date().timeIntervalSince(lastMissingCheck) > 1 {
                lastMissingCheck = Date()
                for root in missing where FileSystem.isDirectory(root) {
                    missing.remove(root)
                    if !watchTree(root, announceFiles: false) { return }
                    if !paths.values.contains(root) { unreadableRoots.insert(root); continue }
                    out.yield(.rescan(reason: "watch root \(root) is back"))
                }
                for root in unreadableRoots {
                    guard let d = opendir(root) else { continue }
                    closedir(d)
                    unreadableRoots.remove(root)
                    if !watchTree(root, announceFiles: false) { return }
                    out.yield(.rescan(reason: "watch root \(root) can be read now"))
                }
            }
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { continue }
            var offset = 0
            while offset + 16 <= n {
                let (wd, mask, nameLength): (Int32, UInt32, Int) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<min(n, offset + 16 + nameLength)].prefix { $0 != 0 }
                let validName = String(validating: nameBytes, as: UTF8.self)
                let name = validName ?? String(decoding: nameBytes, as: UTF8.self)
                offset += 16 + nameLength
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    out.yield(.rescan(reason: "inotify queue overflow: events were lost"))
                    continue
                }
                guard let dir = paths[wd] else { continue }
                if mask & UInt32(IN_IGNORED) != 0 { paths[wd] = nil; continue }
                if mask & InotifySource.selfMask != 0 {
                    if roots.contains(dir) {
                        missing.insert(dir)
                        out.yield(.warning("watch root \(dir) disappeared; watching for it to come back"))
                    }
                    continue
                }
                let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                if validName == nil {
                    if mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)) != 0 {
                        out.yield(.warning(FileSystem.unnamableWarning(dir: dir, name: LogText.printable(bytes: nameBytes))))
                    }
                    continue
                }
                if mask & UInt32(IN_ISDIR) != 0 {
                    if mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0 {
                        if !watchTree(path, announceFiles: true) { return }
                    } else if mask & UInt32(IN_ATTRIB) != 0, !paths.values.contains(path) {
                        // a folder not watched yet (it could not be read) whose permissions changed
                        if !watchTree(path, announceFiles: true) { return }
                    }
                    continue
                }
                if mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0, FileSystem.isSymbolicLink(path), FileSystem.isDirectory(path) {
                    out.yield(.warning(FileSystem.linkedFolderWarning(path: path)))
                    continue
                }
                guard isInteresting(path) else { continue }
                let closed = mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)) != 0
                out.yield(.file(path: path, closed: closed))
            }
        }
    }
}

/// Periodic scans of the roots, for network shares where inotify sees nothing of other
/// machines' writes. Every file of interest is reported on every scan; the stability tracker
/// and the daemon's memory of processed files make repeated reports cheap.
public final class PollingSource: Sendable {
    public let roots: [String]
    public let intervalSeconds: Double
    public let isInteresting: @Sendable (String) -> Bool
    let stopRequested = Atomic<Bool>(false)

    public init(roots: [String], intervalSeconds: Double, isInteresting: @escaping @Sendable (String) -> Bool) {
        self.roots = roots
        self.intervalSeconds = intervalSeconds
        self.isInteresting = isInteresting
    }

    public func events() -> AsyncStream<WatchEvent> {
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream(bufferingPolicy: .unbounded)
        let thread = Thread { [self] in
            var missing = Set<String>()
            while !self.stopRequested.load(ordering: .sequentiallyConsistent) {
                for root in self.roots {
                    if !FileSystem.isDirectory(root) {
                        if missing.insert(root).inserted { continuation.yield(.warning("watch root \(root) is not reachable; polling for it")) }
                        continue
                    }
                    if missing.remove(root) != nil { continuation.yield(.rescan(reason: "watch root \(root) is back")) }
                    let tree = FileSystem.scan(root, patterns: ["*"])
                    for f in tree.files where self.isInteresting(f) {
                        continuation.yield(.file(path: f, closed: false))
                    }
                    for bad in tree.unnamable {
                        continuation.yield(.warning(FileSystem.unnamableWarning(dir: (bad as NSString).deletingLastPathComponent,
                                                                                 name: LogText.printable((bad as NSString).lastPathComponent))))
                    }
                    for (path, reason) in tree.unreadable {
                        continuation.yield(.warning(FileSystem.unreadableWarning(path: path, reason: reason)))
                    }
                    for link in tree.linkedFolders { continuation.yield(.warning(FileSystem.linkedFolderWarning(path: link))) }
                }
                var waited = 0.0
                while waited < self.intervalSeconds && !self.stopRequested.load(ordering: .sequentiallyConsistent) {
                    Thread.sleep(forTimeInterval: min(0.2, self.intervalSeconds))
                    waited += 0.2
                }
            }
            continuation.finish()
        }
        thread.name = "antema-poll"
        thread.start()
        return stream
    }

    public func stop() { stopRequested.store(true, ordering: .sequentiallyConsistent) }
}
