#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// Writes log records to the systemd journal through its native protocol: one datagram per
/// record on `/run/systemd/journal/socket`, with `MESSAGE`, `PRIORITY` (syslog levels),
/// `SYSLOG_IDENTIFIER`, and every metadata key as a field of its own in capitals (`sample` ->
/// `SAMPLE`, `image` -> `IMAGE`, `stage` -> `STAGE`, `duration_ms` -> `DURATION_MS`), so that
/// `journalctl SAMPLE=Au-batch-7` finds a sample's records. Values are sent in the protocol's
/// binary form (name, newline, 64-bit little-endian length, bytes), so a newline in a file name
/// can neither end a field nor forge one. A record that cannot be sent goes to stderr.
///
/// Used when antemad runs under systemd (`JOURNAL_STREAM` names its stderr); plain text on stderr
/// otherwise.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let identifier: String
    let socket: JournalSocket

    /// `socketPath`: the journal's socket (tests give their own).
    public init(identifier: String, socketPath: String = "/run/systemd/journal/socket") {
        self.identifier = identifier
        self.socket = JournalSocket(path: socketPath)
    }

    /// Whether standard error is the journal's stream (systemd sets `JOURNAL_STREAM` to its
    /// device and inode), i.e. whether records should go to the journal natively.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":").compactMap { UInt64($0) }
        var st = stat()
        guard parts.count == 2, fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == parts[0] && UInt64(st.st_ino) == parts[1]
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog(3) priorities.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A metadata key as a journal field name: capitals, digits and `_`, not starting with `_`
    /// (those are trusted fields the journal sets itself) or a digit.
    static func fieldName(_ key: String) -> String? {
        var name = String(key.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(64))
        while name.hasPrefix("_") { name.removeFirst() }
        guard let first = name.first, !first.isNumber else { return nil }
        return name
    }

    /// The datagram of one record.
    static func datagram(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out += Array(name.utf8)
            out.append(0x0A)
            let bytes = Array(value.utf8)
            withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out += $0 }
            out += bytes
            out.append(0x0A)
        }
        return out
    }

    func fields(_ event: LogEvent) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", event.message.description), ("PRIORITY", String(Self.priority(event.level))), ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file), ("CODE_LINE", String(event.line)), ("CODE_FUNC", event.function),
        ]
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in all.keys.sorted() {
            guard let name = Self.fieldName(key), !["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"].contains(name) else { continue }
            fields.append((name, "\(all[key]!)"))
        }
        return fields
    }

    public func log(event: LogEvent) {
        let data = Self.datagram(fields(event))
        if !socket.send(data) {
            // the journal is not reachable (or the record is too large for a datagram): stderr keeps it
            let line = "<\(Self.priority(event.level))>\(event.message)" + (event.metadata.map { " \($0)" } ?? "") + "\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}

/// A datagram socket to the journal (one per handler family, closed with its last handler).
final class JournalSocket: Sendable {
    let fd: Int32
    let address: sockaddr_un?

    init(path: String) {
        fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        if bytes.count < capacity {
            withUnsafeMutableBytes(of: &a.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            address = a
        } else {
            address = nil
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends one datagram; whether it went whole.
    func send(_ data: [UInt8]) -> Bool {
        guard fd >= 0, var a = address else { return false }
        let sent = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { addr in
                data.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), addr, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        return sent == data.count
    }

}
