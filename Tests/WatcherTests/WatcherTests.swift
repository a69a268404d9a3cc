#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Journal
import Testing
@testable import Watcher

@Suite struct StabilityTracking {
    struct Step { var at: Double; var size: Int64?; var mtime: Double = 0; var closed = false }
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var steps: [(Double, Int64?, Double, Bool)]
        /// times at which `ready` is asked, and whether the file must be ready then
        var checks: [(Double, Bool)]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a file closed after writing is ready after the settle time", steps: [(0, 100, 1, false), (0.5, 200, 2, true)],
             checks: [(1.0, false), (1.5, true)]),
        Case(name: "a file written in chunks waits until the size stops changing", steps: [(0, 10, 1, false), (1, 20, 2, false), (2, 30, 3, false)],
             checks: [(3.5, false), (4.0, true)]),
        Case(name: "a writer that reopens after closing restarts the wait", steps: [(0, 10, 1, true), (0.8, 20, 2, false)],
             checks: [(1.5, false), (2.7, false), (2.85, true)]),
        Case(name: "a file renamed into place (moved in) counts as closed", steps: [(0, 500, 9, true)], checks: [(0.99, false), (1.0, true)]),
        Case(name: "repeated polls of an unchanged file do not restart the wait", steps: [(0, 50, 1, false), (1, 50, 1, false), (1.9, 50, 1, false)],
             checks: [(2.0, true)]),
        Case(name: "a file that disappears is forgotten", steps: [(0, 50, 1, true), (0.2, nil, 0, false)], checks: [(5, false)]),
        Case(name: "a touched file (same size, new mtime) waits again", steps: [(0, 50, 1, false), (1.5, 50, 2, false)], checks: [(2.0, false), (3.5, true)]),
    ]

    @Test("the tracker decides completeness without sleeping", arguments: cases)
    func tracker(_ c: Case) {
        var t = StabilityTracker(stableSeconds: 2, closedSettleSeconds: 1)
        var stepIndex = 0
        for (checkAt, expectReady) in c.checks {
            while stepIndex < c.steps.count && c.steps[stepIndex].0 <= checkAt {
                let s = c.steps[stepIndex]
                t.ingest("/f", s.1.map { FileObservation(sizeBytes: $0, modifiedAt: s.2) }, closed: s.3, at: s.0)
                stepIndex += 1
            }
            let ready = t.ready(at: checkAt).map(\.path)
            #expect(ready == (expectReady ? ["/f"] : []), "at \(checkAt)")
            if expectReady { break }
        }
    }

    @Test("the next deadline is the earliest time a file can be ready")
    func deadline() {
        var t = StabilityTracker(stableSeconds: 2, closedSettleSeconds: 1)
        #expect(t.nextDeadline() == nil)
        t.ingest("/a", FileObservation(sizeBytes: 1, modifiedAt: 1), at: 10)
        t.ingest("/b", FileObservation(sizeBytes: 1, modifiedAt: 1), closed: true, at: 10.5)
        #expect(t.nextDeadline() == 11.5)
    }

    @Test("glob patterns ignore case")
    func patterns() {
        #expect(FileSystem.matches("A.DM3", patterns: ["*.dm3", "*.dm4"]))
        #expect(!FileSystem.matches("a.dm3.part", patterns: ["*.dm3"]))
    }
}

@Suite(.serialized) struct EventSources {
    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("antema-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Collects events until `predicate` holds or `seconds` pass.
    static func collect(_ stream: AsyncStream<WatchEvent>, seconds: Double, until predicate: @escaping @Sendable ([WatchEvent]) -> Bool) async -> [WatchEvent] {
        await withTaskGroup(of: [WatchEvent]?.self) { group in
            group.addTask {
                var seen: [WatchEvent] = []
                for await e in stream {
                    seen.append(e)
                    if predicate(seen) { return seen }
                }
                return seen
            }
            group.addTask { try? await Task.sleep(for: .seconds(seconds)); return nil }
            var result: [WatchEvent] = []
            for await r in group {
                if let r { result = r }
                group.cancelAll()
                break
            }
            return result
        }
    }

    @Test("inotify reports closed files, files in new subfolders, and a root that comes back")
    func inotify() async throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = InotifySource(roots: [root]) { FileSystem.matches(($0 as NSString).lastPathComponent, patterns: ["*.dm3"]) }
        let stream = source.events()
        defer { source.stop() }
        try await Task.sleep(for: .milliseconds(300))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: root + "/a.dm3"))
        try FileManager.default.createDirectory(atPath: root + "/sample1", withIntermediateDirectories: true)
        try Data([4]).write(to: URL(fileURLWithPath: root + "/sample1/b.dm3"))
        try Data([5]).write(to: URL(fileURLWithPath: root + "/ignored.txt"))
        let events = await Self.collect(stream, seconds: 10) { seen in
            seen.contains(.file(path: root + "/a.dm3", closed: true)) && seen.contains { if case .file(let p, _) = $0 { return p == root + "/sample1/b.dm3" } else { return false } }
        }
        #expect(events.contains(.file(path: root + "/a.dm3", closed: true)))
        #expect(events.contains { if case .file(let p, _) = $0 { return p == root + "/sample1/b.dm3" } else { return false } })
        #expect(!events.contains { if case .file(let p, _) = $0 { return p.hasSuffix(".txt") } else { return false } })
    }

    @Test("inotify asks for a scan once its watches are in place, so a file written at once after the start is never missed")
    func inotifyStartUpScan() async throws {
        let root = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = InotifySource(roots: [root]) { FileSystem.matches(($0 as NSString).lastPathComponent, patterns: ["*.dm3"]) }
        let stream = source.events()
        defer { source.stop() }
        try FileManager.default.createDirectory(atPath: root + "/s", withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: root + "/s/early.dm3"))
        let events = await Self.collect(stream, seconds: 10) { seen in seen.contains { if case .rescan = $0 { return true } else { return false } } }
        #expect(events.contains { if case .rescan(let r) = $0 { return r.contains("start-up") } else { return false } })
    }

    @Test("polling reports files and a root that is missing, then back")
    func polling() async throws {
        let base = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let root = base + "/share"
        let source = PollingSource(roots: [root], intervalSeconds: 0.2) { FileSystem.matches(($0 as NSString).lastPathComponent, patterns: ["*.dm3"]) }
        let stream = source.events()
        defer { source.stop() }
        try await Task.sleep(for: .milliseconds(300))
        try FileManager.default.createDirectory(atPath: root + "/s", withIntermediateDirectories: true)
        try Data([1]).write(to: URL(fileURLWithPath: root + "/s/x.dm3"))
        let events = await Self.collect(stream, seconds: 10) { $0.contains(.file(path: root + "/s/x.dm3", closed: false)) }
        #expect(events.contains { if case .warning(let w) = $0 { return w.contains("not reachable") } else { return false } })
        #expect(events.contains { if case .rescan = $0 { return true } else { return false } })
        #expect(events.contains(.file(path: root + "/s/x.dm3", closed: false)))
    }

    @Test("the mount type of / is known and local folders are not network file systems")
    func mounts() {
        #expect(FileSystem.mountType(of: "/") != nil)
        #expect(!FileSystem.isNetworkFileSystem(FileManager.default.temporaryDirectory.path))
    }
}

@Suite struct HostileNames {
    /// Creates a file whose name is raw bytes (not necessarily UTF-8) in `dir`.
    static func create(_ dir: String, nameBytes: [UInt8]) {
        let path = Array(dir.utf8) + [UInt8(ascii: "/")] + nameBytes + [0]
        let fd = path.withUnsafeBufferPointer { p in p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { open($0, O_CREAT | O_WRONLY, 0o644) } }
        precondition(fd >= 0)
        _ = write(fd, [UInt8](repeating: 7, count: 10), 10)
        close(fd)
    }

    @Test("printable escapes control characters, invalid bytes and format characters; ordinary text is unchanged")
    func printable() {
        #expect(LogText.printable("Au-01 µm échantillon") == "Au-01 µm échantillon")
        #expect(LogText.printable("a\nb\tc\r\u{1}\u{1B}[2J") == "a\\nb\\tc\\r\\u{1}\\u{1B}[2J")
        #expect(LogText.printable("back\\slash") == "back\\slash")
        #expect(LogText.printable(LogText.printable("a\nb")) == LogText.printable("a\nb"))
        #expect(LogText.printable("rtl\u{202E}gpj.dm3") == "rtl\\u{202E}gpj.dm3")
        #expect(LogText.printable(bytes: Array("bad".utf8) + [0xFF, 0xFE] + Array("é.dm3".utf8)) == "bad\\xFF\\xFEé.dm3")
    }

    @Test("a scan lists names that are not UTF-8 as unnamable instead of dropping them silently")
    func scanReportsUnnamable() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        Self.create(root, nameBytes: Array("bad".utf8) + [0xFF] + Array(".dm3".utf8))
        Self.create(root, nameBytes: Array("good.dm3".utf8))
        let tree = FileSystem.scan(root, patterns: ["*.dm3"])
        #expect(tree.files == [root + "/good.dm3"])
        #expect(tree.unnamable.count == 1 && tree.unnamable[0].hasPrefix(root + "/bad"))
    }

    @Test("inotify warns about a file whose name is not UTF-8, with the bytes escaped")
    func inotifyWarns() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = InotifySource(roots: [root]) { FileSystem.matches(($0 as NSString).lastPathComponent, patterns: ["*.dm3"]) }
        let stream = source.events()
        defer { source.stop() }
        try await Task.sleep(for: .milliseconds(300))
        Self.create(root, nameBytes: Array("bad".utf8) + [0xFF] + Array(".dm3".utf8))
        let events = await EventSources.collect(stream, seconds: 10) { seen in
            seen.contains { if case .warning = $0 { return true } else { return false } }
        }
        let warning = events.compactMap { if case .warning(let w) = $0 { return w } else { return nil } }.first
        #expect(warning?.contains("bad\\xFF.dm3") == true && warning?.contains("not valid UTF-8") == true)
    }
}
