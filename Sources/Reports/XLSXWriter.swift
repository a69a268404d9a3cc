#if canImport(Glibc)
import Glibc
#endif
import CXLSXWriter
import Foundation

/// A cell of a worksheet.
public enum Cell: Sendable, Equatable {
    case number(Double)
    case text(String)
    /// A date-time cell (shown as yyyy-mm-dd hh:mm:ss, UTC).
    case date(Date)
    case empty

    /// A number with the precision it carries (7 significant digits, `Precision`), or empty
    /// for nil/NaN/infinite.
    public static func num(_ v: Double?) -> Cell { v.map { $0.isFinite ? .number(Precision.significant($0)) : .empty } ?? .empty }
    public static func int(_ v: Int?) -> Cell { v.map { .number(Double($0)) } ?? .empty }
}

/// A native chart of a column against another on the same sheet (Excel draws it; the user can
/// restyle it).
public struct ChartSpec: Sendable {
    public enum Kind: Sendable { case column, scatterLines }
    public var kind: Kind
    public var title: String
    public var xTitle: String
    public var yTitle: String
    /// The sheet holding the data, and 0-based rows and columns of categories and values.
    public var dataSheet: String
    public var firstRow: Int
    public var lastRow: Int
    public var categoryColumn: Int
    public var valueColumn: Int
    /// Where the chart goes on its sheet (0-based row, column).
    public var anchorRow: Int
    public var anchorColumn: Int
}

/// One worksheet: rows of cells, the first row a header (bold; frozen and filtered when asked).
public struct Worksheet: Sendable {
    public var name: String
    public var rows: [[Cell]]
    /// Column widths in characters; from the content when nil.
    public var columnWidths: [Double]?
    /// Excel number formats per column for the rows below the header (`0.000`, `0`); nil: General.
    public var numberFormats: [String?] = []
    public var freezeHeader = true
    public var autofilter = true
    public var charts: [ChartSpec] = []

    public init(name: String, rows: [[Cell]]) {
        self.name = name
        self.rows = rows
    }
}

/// Numbers as precise as what they were computed from: calibrations are float32 in DM files, so
/// measurements carry about 7 significant digits; tables show those (0.1, not
/// 0.10000000149011612). The database keeps the full values.
public enum Precision {
    public static func significant(_ v: Double, digits: Int = 7) -> Double {
        guard v.isFinite, v != 0 else { return v }
        return Double(String(format: "%.\(digits)g", v)) ?? v
    }

}

/// Workbooks through libxlsxwriter (Debian's libxlsxwriter): numeric formats per column, real
/// date-time cells, an autofilter, frozen headers and native charts. Text always goes into
/// string cells, so `=cmd|' /C calc'!A0` stays text and is never evaluated.
public enum XLSXWriter {
    public static func data(_ sheets: [Worksheet]) throws -> Data {
        precondition(!sheets.isEmpty)
        var template = Array("\(NSTemporaryDirectory())/antema-xlsx-XXXXXX".utf8CString)
        guard let dir = mkdtemp(&template) else { throw ReportError("cannot create a temporary folder for the workbook") }
        let folder = String(cString: dir)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/workbook.xlsx"
        var options = lxw_workbook_options()
        let tmp = strdup(folder)
        defer { free(tmp) }
        options.tmpdir = tmp
        guard let wb = workbook_new_opt(path, &options) else { throw ReportError("cannot create the workbook") }
        let bold = workbook_add_format(wb)
        format_set_bold(bold)
        format_set_text_wrap(bold)
        format_set_align(bold, UInt8(LXW_ALIGN_VERTICAL_TOP.rawValue))
        let dateFormat = workbook_add_format(wb)
        format_set_num_format(dateFormat, "yyyy-mm-dd hh:mm:ss")
        var numberFormats: [String: UnsafeMutablePointer<lxw_format>] = [:]
        func format(_ code: String?) -> UnsafeMutablePointer<lxw_format>? {
            guard let code else { return nil }
            if let f = numberFormats[code] { return f }
            let f = workbook_add_format(wb)!
            format_set_num_format(f, code)
            numberFormats[code] = f
            return f
        }
        var used = Set<String>()
        var names: [String] = []
        for sheet in sheets {
            var name = sanitizeSheetName(sheet.name), k = 2
            while used.contains(name.lowercased()) { name = String(sanitizeSheetName(sheet.name).prefix(28)) + " \(k)"; k += 1 }
            used.insert(name.lowercased())
            names.append(name)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for (sheet, name) in zip(sheets, names) {
            guard let ws = workbook_add_worksheet(wb, name) else { throw ReportError("cannot add the sheet \(name)") }
            let columns = sheet.rows.map(\.count).max() ?? 0
            for (r, row) in sheet.rows.enumerated() {
                for (c, cell) in row.enumerated() {
                    let f = r == 0 && sheet.freezeHeader ? bold : (c < sheet.numberFormats.count ? format(sheet.numberFormats[c]) : nil)
                    switch cell {
                    case .number(let v): worksheet_write_number(ws, lxw_row_t(r), lxw_col_t(c), v, f)
                    case .text(let s): worksheet_write_string(ws, lxw_row_t(r), lxw_col_t(c), cleaned(s), r == 0 && sheet.freezeHeader ? bold : nil)
                    case .date(let d):
                        let p = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: d)
                        var dt = lxw_datetime(year: Int32(p.year!), month: Int32(p.month!), day: Int32(p.day!), hour: Int32(p.hour!),
                                              min: Int32(p.minute!), sec: Double(p.second!) + Double(p.nanosecond!) / 1e9)
                        worksheet_write_datetime(ws, lxw_row_t(r), lxw_col_t(c), &dt, dateFormat)
                    case .empty: break
                    }
                }
            }
            for c in 0..<columns {
                let width = sheet.columnWidths.flatMap { c < $0.count ? $0[c] : nil } ?? autoWidth(sheet.rows, column: c)
                worksheet_set_column(ws, lxw_col_t(c), lxw_col_t(c), width, nil)
            }
            if sheet.freezeHeader && sheet.rows.count > 1 { worksheet_freeze_panes(ws, 1, 0) }
            if sheet.autofilter && sheet.rows.count > 1 && columns > 0 {
                worksheet_autofilter(ws, 0, 0, lxw_row_t(sheet.rows.count - 1), lxw_col_t(columns - 1))
            }
            for spec in sheet.charts {
                guard let chart = workbook_add_chart(wb, UInt8(spec.kind == .column ? LXW_CHART_COLUMN.rawValue : LXW_CHART_SCATTER_STRAIGHT.rawValue)) else { continue }
                let data = "'\(spec.dataSheet.replacingOccurrences(of: "'", with: "''"))'"
                let categories = "=\(data)!$\(columnName(spec.categoryColumn))$\(spec.firstRow + 1):$\(columnName(spec.categoryColumn))$\(spec.lastRow + 1)"
                let values = "=\(data)!$\(columnName(spec.valueColumn))$\(spec.firstRow + 1):$\(columnName(spec.valueColumn))$\(spec.lastRow + 1)"
                let series = chart_add_series(chart, categories, values)
                _ = series
                if spec.kind == .column { chart_set_series_gap(chart, 10) }
                chart_title_set_name(chart, spec.title)
                chart_axis_set_name(chart.pointee.x_axis, spec.xTitle)
                chart_axis_set_name(chart.pointee.y_axis, spec.yTitle)
                chart_legend_set_position(chart, UInt8(LXW_CHART_LEGEND_NONE.rawValue))
                worksheet_insert_chart(ws, lxw_row_t(spec.anchorRow), lxw_col_t(spec.anchorColumn), chart)
            }
        }
        let status = workbook_close(wb)
        guard status == LXW_NO_ERROR else { throw ReportError("the workbook could not be written: \(String(cString: lxw_strerror(status)))") }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    static func autoWidth(_ rows: [[Cell]], column c: Int) -> Double {
        var w = 8.0
        for row in rows.prefix(200) where c < row.count {
            switch row[c] {
            case .text(let s): w = max(w, min(50, Double(s.count) + 2))
            case .number: w = max(w, 12)
            case .date: w = max(w, 20)
            case .empty: break
            }
        }
        return w
    }

    /// A1-style column name: 0 -> A, 25 -> Z, 26 -> AA.
    public static func columnName(_ index: Int) -> String {
        var n = index + 1, s = ""
        while n > 0 { let r = (n - 1) % 26; s = String(UnicodeScalar(UInt8(65 + r))) + s; n = (n - 1) / 26 }
        return s
    }

    /// Text without the characters XML 1.0 cannot hold (replaced by U+FFFD).
    static func cleaned(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for u in s.unicodeScalars {
            let v = u.value
            if v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000 {
                out.unicodeScalars.append(u)
            } else {
                out += "\u{FFFD}"
            }
        }
        return String(out.prefix(32767))
    }

    /// Sheet names: at most 31 characters, none of `[]:*?/\`.
    static func sanitizeSheetName(_ s: String) -> String {
        let cleaned = String(s.map { "[]:*?/\\'".contains($0) ? "_" : $0 }.prefix(31))
        return cleaned.isEmpty ? "Sheet" : cleaned
    }
}

public struct ReportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}
