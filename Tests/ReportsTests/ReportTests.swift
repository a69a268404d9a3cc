import Analysis
import Foundation
import ImageFiles
import Pipeline
import Testing
@testable import Reports

func measurement(_ d: Double, x: Double = 10, y: Double = 10, separated: Bool = false) -> ParticleMeasurement {
    ParticleMeasurement(areaPx: 50, areaNm2: Double.pi / 4 * d * d, equivalentDiameterNm: d, perimeterNm: Double.pi * d, circularity: 0.95,
                        feretMinNm: d * 0.9, feretMaxNm: d * 1.1, aspectRatio: 1.22, convexity: 0.98, solidity: 0.96,
                        centroidXPx: x, centroidYPx: y, box: BoundingBox(minRow: Int(y) - 3, minCol: Int(x) - 3, maxRow: Int(y) + 3, maxCol: Int(x) + 3),
                        separated: separated)
}

func reportInput(sample: String, particles n: Int, images: Int = 2) -> SampleReportInput {
    let imgs = (0..<images).map { k in
        SampleReportInput.Image(path: "/w/\(sample)/img\(k).dm3", frame: 0, widthPx: 512, heightPx: 512, pixelSizeXNm: 0.1, pixelSizeYNm: 0.1,
                                particleCount: n / images, state: "done", error: nil, seconds: 0.5)
    } + [SampleReportInput.Image(path: "/w/\(sample)/bad.dm3", frame: 0, widthPx: nil, heightPx: nil, pixelSizeXNm: nil, pixelSizeYNm: nil,
                                 particleCount: nil, state: "failed", error: "=HYPERLINK(\"x\")", seconds: nil)]
    let ps = (0..<n).map { i in
        SampleReportInput.Particle(imagePath: imgs[i % images].path, frame: 0, index: i / images + 1, m: measurement(1.5 + Double(i % 17) * 0.1, separated: i % 10 == 0))
    }
    return SampleReportInput(sample: sample, folder: "/w/\(sample)", openedAt: Date(timeIntervalSince1970: 1_780_000_000), lastImageAt: nil,
                             closedAt: nil, segmenter: "classical", parametersJson: "{\"overlap\":\"separate\"}", images: imgs, particles: ps)
}

func tempDir() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("antema-report-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func python(_ script: String) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", script]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, text)
}

let openpyxlAvailable: Bool = (try? python("import openpyxl").0) == 0

@Suite struct Workbooks {
    @Test("the workbook opens with openpyxl, its values equal the input, and a formula-like sample name stays text",
          .enabled(if: openpyxlAvailable, "python3-openpyxl is not installed: skipping the workbook check"))
    func openpyxlReadsIt() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let name = "=cmd|' /C calc'!A0"
        let input = reportInput(sample: name, particles: 40)
        let files = try SampleReport.write(input, to: dir)
        let xlsx = try #require(files.first { $0.hasSuffix(".xlsx") })
        #expect(!xlsx.contains("/") && !xlsx.contains("|"))
        let (status, out) = try python("""
            import openpyxl, json
            wb = openpyxl.load_workbook(r'''\(dir)/\(xlsx)''')
            s, p, i = wb['Summary'], wb['Particles'], wb['Images']
            print(json.dumps({
              'sheets': wb.sheetnames, 'sample': s['B1'].value, 'sample_type': s['B1'].data_type,
              'particles': p.max_row - 1, 'header': [c.value for c in p[1]][:5], 'first_d': p['E2'].value, 'first_d_type': p['E2'].data_type,
              'freeze': p.freeze_panes, 'images': i.max_row - 1, 'error': i['M4'].value, 'error_type': i['M4'].data_type, 'dropped': [i['H1'].value, i['I1'].value],
              'charts': sum(1 for n in __import__('zipfile').ZipFile(r'''\(dir)/\(xlsx)''').namelist() if n.startswith('xl/charts/chart')),
              'first_image': str(s['B3'].value), 'first_image_is_date': s['B3'].is_date, 'filter': p.auto_filter.ref,
              'formats': [p.cell(row=2, column=c).number_format for c in (4, 5, 13, 21)], 'pixel': i['C2'].value}))
            """)
        #expect(status == 0, "\(out)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(doc["sheets"] as? [String] == ["Summary", "Particles", "Images", "Histogram"])
        #expect(doc["sample"] as? String == name && doc["sample_type"] as? String == "s")
        #expect(doc["particles"] as? Int == 40)
        #expect(doc["header"] as? [String] == ["Image", "Frame", "Particle", "Area [nm²]", "Equivalent diameter [nm]"])
        #expect(doc["first_d"] as? Double == input.particles[0].m.equivalentDiameterNm && doc["first_d_type"] as? String == "n")
        #expect(doc["freeze"] as? String == "A2")
        #expect(doc["images"] as? Int == 3)
        #expect(doc["error"] as? String == "=HYPERLINK(\"x\")" && doc["error_type"] as? String == "s")
        #expect(doc["dropped"] as? [String] == ["Dropped, unsure", "Dropped as debris"], "\(doc)")
        #expect(doc["charts"] as? Int == 1, "a native chart of the histogram")
        #expect(doc["first_image_is_date"] as? Bool == true && (doc["first_image"] as? String)?.hasPrefix("2026-05-28") == true, "\(doc)")
        #expect((doc["filter"] as? String)?.hasPrefix("A1:") == true)
        #expect(doc["formats"] as? [String] == ["0.000", "0.000", "0", "0"], "\(doc)")
        #expect(doc["pixel"] as? Double == 0.1, "float32 noise shown: \(doc)")
    }

    @Test("the workbook converts with LibreOffice without errors", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/libreoffice"), "LibreOffice is not installed: skipping"))
    func libreOffice() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try SampleReport.write(reportInput(sample: "LO", particles: 10), to: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/libreoffice")
        p.arguments = ["--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", dir + "/lo", dir + "/" + files.first { $0.hasSuffix(".xlsx") }!]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let csv = try String(contentsOfFile: dir + "/lo/LO.csv", encoding: .utf8)
        #expect(csv.hasPrefix("Sample,LO"))
        #expect(csv.contains("Equivalent diameter [nm],10,"))
        // the values LibreOffice reads are the input's: n and the mean of the equivalent diameter
        let input = reportInput(sample: "LO", particles: 10)
        let row = try #require(csv.split(separator: "\n").first { $0.hasPrefix("Equivalent diameter [nm],") }).split(separator: ",")
        let mean = input.particles.compactMap(\.m.equivalentDiameterNm).reduce(0, +) / 10
        #expect(abs((Double(row[2]) ?? 0) - mean) < 1e-3, "\(row)")
    }

    @Test("column names run A..Z, AA..; text XML cannot hold is replaced; numbers keep 7 significant digits")
    func cells() {
        #expect(XLSXWriter.columnName(0) == "A" && XLSXWriter.columnName(25) == "Z" && XLSXWriter.columnName(26) == "AA" && XLSXWriter.columnName(701) == "ZZ")
        #expect(XLSXWriter.cleaned("a<b & \"c\"\u{1}") == "a<b & \"c\"\u{FFFD}")
        #expect(Cell.num(Double(Float(0.1))) == .number(0.1) && Cell.num(0.30298078180524735) == .number(0.3029808))
        #expect(CSVTable.number(Double(Float(0.1))) == "0.1" && CSVTable.number(0.30298078180524735) == "0.3029808")
        #expect(XLSXWriter.sanitizeSheetName("a/b[c]:d*e?f\\g") == "a_b_c__d_e_f_g")
    }
}

@Suite struct CSVAndPictures {
    @Test("the CSV files parse and round-trip the values")
    func csv() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = reportInput(sample: "Au, \"quoted\"", particles: 25)
        try SampleReport.write(input, to: dir)
        let (status, out) = try python("""
            import csv, json, glob
            f = glob.glob(r'''\(dir)/*_particles.csv''')[0]
            rows = list(csv.DictReader(open(f, newline='', encoding='utf-8')))
            s = list(csv.DictReader(open(glob.glob(r'''\(dir)/*_summary.csv''')[0], newline='', encoding='utf-8')))
            print(json.dumps({'n': len(rows), 'd0': float(rows[0]['equivalent_diameter_nm']), 'sep': rows[0]['separated'],
                              'mean': [r['mean'] for r in s if r['measurement'] == 'equivalent_diameter_nm'][0]}))
            """)
        #expect(status == 0, "\(out)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(doc["n"] as? Int == 25)
        #expect(doc["d0"] as? Double == input.particles[0].m.equivalentDiameterNm && doc["sep"] as? String == "1")
        let mean = input.particles.compactMap(\.m.equivalentDiameterNm).reduce(0, +) / 25
        #expect(abs(Double(doc["mean"] as! String)! - mean) < 1e-12)
    }

    @Test("per-image file names: one name per kind, the frame only for files of several frames, never outside the folder")
    func pictureNames() {
        #expect(SampleReport.PictureKind.allCases.map { $0.fileName(stem: pictureStem(path: "/a/grid 1.dm3", frame: 0, frames: 1)) }
                == ["grid 1_micrograph.png", "grid 1_mask.png", "grid 1_overlay.png", "grid 1_particles.png"])
        #expect(SampleReport.PictureKind.mask.fileName(stem: pictureStem(path: "/a/stack.dm4", frame: 3, frames: 5)) == "stack_frame3_mask.png")
        for bad in ["/x/../..", "/x/.hidden.png", "/x/a\\b:c.dm3"] {
            let name = SampleReport.PictureKind.overlay.fileName(stem: pictureStem(path: bad, frame: 0, frames: 1))
            #expect(!name.contains("/") && !name.hasPrefix("."), "\(name)")
        }
    }

    @Test("the particle CSV and the workbook's particle sheet have one column per catalog entry, in catalog order")
    func particleColumnsFollowTheCatalog() {
        #expect(SampleReport.particleColumns == ["image", "frame", "particle"] + MeasurementCatalog.particleColumns.map(\.column))
        let table = SampleReport.particleTable(reportInput(sample: "s", particles: 3).particles)
        #expect(table.rows.allSatisfy { $0.count == table.header.count })
        #expect(table.rows[0][table.header.firstIndex(of: "confidence")!] == "")
    }

    @Test("sample names never lead outside the report folder")
    func safeNames() {
        for bad in ["../../etc/passwd", "a/b", "..", "\u{1}\u{7}x", String(repeating: "x", count: 500), ""] {
            let s = SampleReport.safeName(bad)
            #expect(!s.contains("/") && !s.hasPrefix(".") && s.utf8.count <= 109 && !s.isEmpty && s.unicodeScalars.allSatisfy { $0.value >= 0x20 })
        }
    }

    @Test("names that differ only in replaced characters or beyond the cut get different safe names; plain names stay as they are")
    func safeNamesDoNotCollide() {
        #expect(SampleReport.safeName("Au (1)") == "Au (1)" && SampleReport.safeName("Au [1]") == "Au [1]")
        #expect(SampleReport.safeName("Au:1") != SampleReport.safeName("Au?1"))
        #expect(SampleReport.safeName("Au:1").hasPrefix("Au_1-"))
        let cjk = String(repeating: "金", count: 85)  // 255 bytes, the longest folder name ext4 allows
        #expect(SampleReport.safeName(cjk).utf8.count <= 109)
        #expect(SampleReport.safeName(cjk + "a") != SampleReport.safeName(cjk + "b"))
        #expect(SampleReport.safeName("Au-batch 7.2_x") == "Au-batch 7.2_x")
        #expect(SampleReport.safeName("金ナノ粒子") == "金ナノ粒子")
    }

    @Test("histograms render as PNG at 300 dpi (recorded in the file), SVG and PDF for no, one, equal and spread values")
    func histogramEdges() throws {
        for values in [[], [2.0], [3, 3, 3], [0.5, 1, 40, 100], (0..<5000).map { Double($0 % 97) / 10 + 0.1 }] {
            let figure = Charts.histogram(values, title: "Equivalent diameter", unit: "nm", fit: true)
            let png = try figure.render(.png)
            let decoded = try PNGFile.decode(png)
            #expect(decoded.width == 1890 && decoded.height == 1299, "160 x 110 mm at 300 dpi")
            #expect(abs((PNGFile.dotsPerInch(png) ?? 0) - 300) < 0.1)
            #expect(String(decoding: try figure.render(.svg).prefix(200), as: UTF8.self).contains("<svg"))
            #expect(String(decoding: try figure.render(.pdf).prefix(5), as: UTF8.self) == "%PDF-")
        }
    }

    @Test("particles a network dropped as unsure or debris are outlined in their own colour on the particle map and its SVG, and named in the legend")
    func droppedParticlesOnTheMap() throws {
        var mask = BinaryImage(width: 480, height: 160)
        let centres = [(40, 50), (100, 120)]
        for (cy, cx) in centres { for r in 0..<160 { for c in 0..<480 where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 100 { mask[r, c] = true } } }
        let gray = GrayImage(width: 480, height: 160, pixels: mask.pixels.map { $0 ? 200 : 1000 })
        let result = ParticleAnalysis.analyze(mask, pixelSize: .init(y: 0.1, x: 0.1))
        #expect(result.particles.count == 2)
        // the second particle as if the network had been unsure of it
        let kept = [(result.regions[0], result.particles[0])], dropped = [result.regions[1]]
        let map = try Pictures.particleMap(gray, particles: kept, borderExcluded: [], pixelSizeNm: 0.1, dropped: dropped).rasterRGB()
        func colour(_ r: Int, _ c: Int) -> RGB { let k = (r * map.width + c) * 3; return RGB(map.rgb[k], map.rgb[k + 1], map.rgb[k + 2]) }
        func near(_ a: RGB, _ b: RGB) -> Bool { abs(Int(a.r) - Int(b.r)) + abs(Int(a.g) - Int(b.g)) + abs(Int(a.b) - Int(b.b)) < 60 }
        func outlined(_ centre: (Int, Int), _ c: RGB) -> Bool {
            (9...11).flatMap { d in [(centre.0 - d, centre.1), (centre.0 + d, centre.1), (centre.0, centre.1 - d), (centre.0, centre.1 + d)] }
                .contains { near(colour($0.0, $0.1), c) }
        }
        let kept0 = result.particles[0], centre0 = (Int(kept0.centroidYPx), Int(kept0.centroidXPx))
        let other = centres.first { abs($0.0 - centre0.0) + abs($0.1 - centre0.1) > 5 }!
        #expect(outlined(centre0, RGB.particle) && !outlined(centre0, RGB.dropped))
        #expect(outlined(other, RGB.dropped) && !outlined(other, RGB.particle))
        // the legend strip below the image holds the dropped colour's swatch (a picture this wide has room for it)
        #expect((160..<map.height).contains { r in (0..<map.width).contains { near(colour(r, $0), RGB.dropped) } })
        let svg = Pictures.particleMapSVG(width: 480, height: 160, micrographFile: "m.png", particles: kept, borderExcluded: [], dropped: dropped)
        #expect(svg.components(separatedBy: "stroke=\"#009e73\"").count == 2, "one dropped outline in the SVG")
    }

    @Test("the particle map marks every particle at its place; tiny images still get pictures")
    func particleMap() throws {
        var mask = BinaryImage(width: 200, height: 160)
        let centres = [(40, 50), (100, 120), (60, 150)]
        for (cy, cx) in centres { for r in 0..<160 { for c in 0..<200 where (r - cy) * (r - cy) + (c - cx) * (c - cx) <= 100 { mask[r, c] = true } } }
        let gray = GrayImage(width: 200, height: 160, pixels: mask.pixels.map { $0 ? 200 : 1000 })
        let result = ParticleAnalysis.analyze(mask, pixelSize: .init(y: 0.1, x: 0.1))
        #expect(result.particles.count == 3)
        let map = try Pictures.particleMap(gray, particles: Array(zip(result.regions, result.particles)), borderExcluded: [], pixelSizeNm: 0.1).rasterRGB()
        func colour(_ r: Int, _ c: Int) -> RGB { let k = (r * map.width + c) * 3; return RGB(map.rgb[k], map.rgb[k + 1], map.rgb[k + 2]) }
        func near(_ a: RGB, _ b: RGB) -> Bool { abs(Int(a.r) - Int(b.r)) + abs(Int(a.g) - Int(b.g)) + abs(Int(a.b) - Int(b.b)) < 60 }
        for (cy, cx) in centres {
            // the outline runs along the pixel edges 10-11 px from each centre: look for the particle colour there
            let around = (9...11).flatMap { d in [(cy - d, cx), (cy + d, cx), (cy, cx - d), (cy, cx + d)] }
            #expect(around.contains { near(colour($0.0, $0.1), RGB.particle) }, "no outline near \(cy),\(cx)")
        }
        #expect(map.height > 160 && map.width == 200)   // the legend strip is below the image
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SampleReport.writeImagePictures(stem: "a/b", image: gray, segmentation: mask, result: result, pixelSizeNm: 0.1, to: dir)
        let stem = SampleReport.safeName("a/b")
        #expect(stem.hasPrefix("a_b-") && stem.count == 12)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
                == ["mask.png", "micrograph.png", "overlay.png", "particles.png", "particles.svg"].map { "\(stem)_\($0)" })
        // PNG colour type (byte 25): the micrograph is grey (a third of the data), the maps are RGB
        let colourType = { (name: String) in try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))[25] }
        #expect(try colourType("\(stem)_micrograph.png") == 0)
        #expect(try colourType("\(stem)_particles.png") == 2 && colourType("\(stem)_overlay.png") == 2)
        // the mask is the segmentation itself: grey, 255 = particle
        let decodedMask = try PNGFile.read(path: dir + "/\(stem)_mask.png")
        #expect(decodedMask.pixels.map { $0 > 0 } == mask.pixels)
        let tiny = GrayImage(width: 3, height: 2, pixels: [1, 2, 3, 4, 5, 6])
        try SampleReport.writeImagePictures(stem: "tiny", image: tiny, segmentation: BinaryImage(width: 3, height: 2),
                                            result: ParticleAnalysis.analyze(BinaryImage(width: 3, height: 2), pixelSize: .init(y: 1, x: 1)), pixelSizeNm: 1, to: dir)
        #expect(try PNGFile.read(path: dir + "/tiny_particles.png").width == 3)
    }

    @Test("scale bars are 1, 2 or 5 times a power of ten, about a fifth of the width")
    func scaleBars() {
        #expect(Pictures.scaleBarNm(widthPx: 1024, pixelSizeNm: 0.064) == 10)
        #expect(Pictures.scaleBarNm(widthPx: 512, pixelSizeNm: 1) == 100)
        #expect(Pictures.scaleBarNm(widthPx: 2048, pixelSizeNm: 0.02) == 5)
    }

    @Test("writing again replaces the same files")
    func idempotent() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try SampleReport.write(reportInput(sample: "S", particles: 5), to: dir)
        let second = try SampleReport.write(reportInput(sample: "S", particles: 7), to: dir)
        #expect(first == second)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == first.sorted())
    }
}
