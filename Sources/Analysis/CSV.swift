/// RFC 4180 CSV: comma-separated, CRLF line ends, fields quoted when they hold a comma, quote,
/// or line break (quotes doubled). Numbers are written with full precision (Swift's shortest
/// round-tripping form); a missing value is an empty field.
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String]) { self.header = header }

    public mutating func append(_ row: [String]) {
        precondition(row.count == header.count, "row has \(row.count) fields, header \(header.count)")
        rows.append(row)
    }

    public static func field(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// A number with the precision it carries: 7 significant digits (calibrations are float32
    /// in DM files, and every measurement derives from one): 0.1, not 0.10000000149011612.
    public static func number(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "" }
        return String(format: "%.7g", v)
    }

    /// The table as RFC 4180 text (CRLF line ends, for files).
    public var text: String { text(lineEnding: "\r\n") }

    /// The table with the given line ends (LF for standard output).
    public func text(lineEnding: String) -> String {
        var out = header.map(CSVTable.field).joined(separator: ",") + lineEnding
        for r in rows { out += r.map(CSVTable.field).joined(separator: ",") + lineEnding }
        return out
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
