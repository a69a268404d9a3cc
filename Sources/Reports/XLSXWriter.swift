import Foundation
import ZIPFoundation

/// A cell of a worksheet.
public enum Cell: Sendable, Equatable {
    case number(Double)
    case text(String)
    case empty

    /// A number, or empty for nil/NaN/infinite.
    public static func num(_ v: Double?) -> Cell { v.map { $0.isFinite ? .number($0) : .empty } ?? .empty }
    public static func int(_ v: Int?) -> Cell { v.map { .number(Double($0)) } ?? .empty }
}

/// One worksheet: rows of cells, the first row a header (frozen, bold).
public struct Worksheet: Sendable {
    public var name: String
    public var rows: [[Cell]]
    /// Column widths in characters; computed from the content when nil.
    public var columnWidths: [Double]?
    /// A PNG to show on the sheet, anchored at (column, row), 0-based, with its size in pixels.
    public var picture: (png: [UInt8], column: Int, row: Int, widthPx: Int, heightPx: Int)?
    public var freezeHeader = true

    public init(name: String, rows: [[Cell]]) {
        self.name = name
        self.rows = rows
    }
}

/// A minimal, valid Office Open XML workbook (SpreadsheetML), written by hand because no Swift
/// xlsx writer is worth depending on. Text goes into inline-string cells, so a value such as
/// `=cmd|' /C calc'!A0` is stored as text and never evaluated as a formula.
public enum XLSXWriter {
    public static func data(_ sheets: [Worksheet]) throws -> Data {
        precondition(!sheets.isEmpty)
        let archive = try Archive(accessMode: .create)
        func add(_ path: String, _ text: String) throws { try add(path, Data(text.utf8)) }
        func add(_ path: String, _ data: Data) throws {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        var contentTypes = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
            <Default Extension="xml" ContentType="application/xml"/>
            <Default Extension="png" ContentType="image/png"/>
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
            <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
            <Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
            """
        for i in sheets.indices {
            contentTypes += "<Override PartName=\"/xl/worksheets/sheet\(i + 1).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\n"
            if sheets[i].picture != nil {
                contentTypes += "<Override PartName=\"/xl/drawings/drawing\(i + 1).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.drawing+xml\"/>\n"
            }
        }
        contentTypes += "</Types>"
        try add("[Content_Types].xml", contentTypes)
        try add("_rels/.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
            </Relationships>
            """)
        try add("docProps/core.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <dc:creator>antema</dc:creator>
            </cp:coreProperties>
            """)
        var workbook = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            <sheets>
            """
        var workbookRels = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
            """
        var usedNames = Set<String>()
        for (i, sheet) in sheets.enumerated() {
            var name = sanitizeSheetName(sheet.name)
            while usedNames.contains(name.lowercased()) { name = String(name.prefix(28)) + "_\(i + 1)" }
            usedNames.insert(name.lowercased())
            workbook += "<sheet name=\"\(escape(name))\" sheetId=\"\(i + 1)\" r:id=\"rId\(i + 1)\"/>\n"
            workbookRels += "<Relationship Id=\"rId\(i + 1)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet\(i + 1).xml\"/>\n"
        }
        workbook += "</sheets>\n</workbook>"
        workbookRels += "<Relationship Id=\"rId\(sheets.count + 1)\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>\n</Relationships>"
        try add("xl/workbook.xml", workbook)
        try add("xl/_rels/workbook.xml.rels", workbookRels)
        try add("xl/styles.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
            <fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
            <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
            <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
            <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
            <cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>
            <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
            </styleSheet>
            """)
        for (i, sheet) in sheets.enumerated() {
            try add("xl/worksheets/sheet\(i + 1).xml", worksheetXML(sheet, drawing: sheet.picture != nil ? "rId1" : nil))
            if let picture = sheet.picture {
                try add("xl/worksheets/_rels/sheet\(i + 1).xml.rels", """
                    <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                    <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
                    <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing" Target="../drawings/drawing\(i + 1).xml"/>
                    </Relationships>
                    """)
                try add("xl/drawings/_rels/drawing\(i + 1).xml.rels", """
                    <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                    <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
                    <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="../media/image\(i + 1).png"/>
                    </Relationships>
                    """)
                let emuPerPixel = 9525
                try add("xl/drawings/drawing\(i + 1).xml", """
                    <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
                    <xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
                    <xdr:oneCellAnchor>
                    <xdr:from><xdr:col>\(picture.column)</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>\(picture.row)</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>
                    <xdr:ext cx="\(picture.widthPx * emuPerPixel)" cy="\(picture.heightPx * emuPerPixel)"/>
                    <xdr:pic>
                    <xdr:nvPicPr><xdr:cNvPr id="2" name="Histogram"/><xdr:cNvPicPr><a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr>
                    <xdr:blipFill><a:blip r:embed="rId1"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>
                    <xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="\(picture.widthPx * emuPerPixel)" cy="\(picture.heightPx * emuPerPixel)"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr>
                    </xdr:pic>
                    <xdr:clientData/>
                    </xdr:oneCellAnchor>
                    </xdr:wsDr>
                    """)
                try add("xl/media/image\(i + 1).png", Data(picture.png))
            }
        }
        guard let data = archive.data else { throw ReportError("the workbook could not be assembled") }
        return data
    }

    static func worksheetXML(_ sheet: Worksheet, drawing: String?) -> String {
        var out = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
            """
        if sheet.freezeHeader && sheet.rows.count > 1 {
            out += "<sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews>"
        }
        let columns = sheet.rows.map(\.count).max() ?? 0
        if columns > 0 {
            let widths = sheet.columnWidths ?? (0..<columns).map { c in
                min(60, max(8, sheet.rows.prefix(200).map { row -> Double in
                    guard c < row.count else { return 0 }
                    switch row[c] {
                    case .text(let s): return Double(s.count) + 2
                    case .number: return 12
                    case .empty: return 0
                    }
                }.max() ?? 8))
            }
            out += "<cols>"
            for (c, w) in widths.enumerated() { out += "<col min=\"\(c + 1)\" max=\"\(c + 1)\" width=\"\(w)\" customWidth=\"1\"/>" }
            out += "</cols>"
        }
        out += "<sheetData>"
        var row = ""
        for (r, cells) in sheet.rows.enumerated() {
            row = "<row r=\"\(r + 1)\">"
            for (c, cell) in cells.enumerated() {
                let ref = columnName(c) + String(r + 1)
                let style = r == 0 && sheet.freezeHeader ? " s=\"1\"" : ""
                switch cell {
                case .empty: continue
                case .number(let v): row += "<c r=\"\(ref)\"\(style)><v>\(v)</v></c>"
                case .text(let s): row += "<c r=\"\(ref)\"\(style) t=\"inlineStr\"><is><t xml:space=\"preserve\">\(escape(s))</t></is></c>"
                }
            }
            row += "</row>"
            out += row
        }
        out += "</sheetData>"
        if let drawing { out += "<drawing r:id=\"\(drawing)\"/>" }
        out += "</worksheet>"
        return out
    }

    /// A1-style column name: 0 -> A, 25 -> Z, 26 -> AA.
    public static func columnName(_ index: Int) -> String {
        var n = index + 1, s = ""
        while n > 0 { let r = (n - 1) % 26; s = String(UnicodeScalar(UInt8(65 + r))) + s; n = (n - 1) / 26 }
        return s
    }

    /// XML text: escaped, and without the characters XML 1.0 cannot hold.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                let v = u.value
                if v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000 {
                    out.unicodeScalars.append(u)
                } else {
                    out += "\u{FFFD}"
                }
            }
        }
        return out
    }

    /// Sheet names: at most 31 characters, none of `[]:*?/\`.
    static func sanitizeSheetName(_ s: String) -> String {
        let cleaned = String(s.map { "[]:*?/\\".contains($0) ? "_" : $0 }.prefix(31))
        return cleaned.isEmpty ? "Sheet" : cleaned
    }
}

public struct ReportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}
