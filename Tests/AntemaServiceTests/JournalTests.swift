#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Testing
@testable import AntemaService
@testable import Journal

/// The journal's native protocol, against a datagram socket of the test's own.
@Suite struct JournalProtocol {
    /// Binds a datagram socket at a temporary path; returns it and the path.
    static func listen() throws -> (fd: Int32, path: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString.prefix(8))").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { raw in raw.copyBytes(from: Array(path.utf8)) }
        let ok = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        try #require(ok == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return (fd, path)
    }

    /// Parses a datagram: text fields `NAME=value\n` and binary ones `NAME\n<u64 le length><bytes>\n`.
    static func parse(_ d: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:], i = 0
        while i < d.count {
            let nameEnd = d[i...].firstIndex { $0 == 0x0A || $0 == 0x3D }!
            let name = String(decoding: d[i..<nameEnd], as: UTF8.self)
            if d[nameEnd] == 0x3D {
                let end = d[nameEnd...].firstIndex(of: 0x0A)!
                fields[name] = String(decoding: d[(nameEnd + 1)..<end], as: UTF8.self)
                i = end + 1
            } else {
                var n: UInt64 = 0
                for k in 0..<8 { n |= UInt64(d[nameEnd + 1 + k]) << (8 * UInt64(k)) }
                let start = nameEnd + 9
                fields[name] = String(decoding: d[start..<(start + Int(n))], as: UTF8.self)
                i = start + Int(n) + 1
            }
        }
        return fields
    }

    @Test("a record arrives as one datagram with MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and each metadata key as its own field; a newline in a value stays inside it")
    func fields() throws {
        let (fd, path) = try Self.listen()
        defer { close(fd); unlink(path) }
        var handler = JournalLogHandler(identifier: "antemad", socketPath: path)
        handler.logLevel = .debug
        let logger = Logger(label: "t") { _ in handler }
        logger.error("analysis failed", metadata: ["sample": "Au-batch-7", "image": "/w/Au-batch-7/a\nPRIORITY=0.dm3", "stage": "done", "duration_ms": "412",
                                                   "_PID": "1"])
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        try #require(n > 0)
        let f = Self.parse(Array(buffer[0..<n]))
        #expect(f["MESSAGE"] == "analysis failed" && f["PRIORITY"] == "3" && f["SYSLOG_IDENTIFIER"] == "antemad")
        #expect(f["SAMPLE"] == "Au-batch-7" && f["STAGE"] == "done" && f["DURATION_MS"] == "412")
        #expect(f["IMAGE"] == "/w/Au-batch-7/a\nPRIORITY=0.dm3")
        #expect(f["_PID"] == nil && f["PID"] == "1", "a trusted field was forged")
    }

    @Test("levels map to syslog priorities; JOURNAL_STREAM is honoured only when it names this process's stderr")
    func prioritiesAndDetection() {
        #expect([Logger.Level.debug, .info, .notice, .warning, .error, .critical].map(JournalLogHandler.priority) == [7, 6, 5, 4, 3, 2])
        #expect(!JournalLogHandler.stderrIsJournal(environment: [:]))
        #expect(!JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "1:2"]))
        var st = stat()
        fstat(2, &st)
        #expect(JournalLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(st.st_dev):\(st.st_ino)"]))
    }
}
