import Analysis
import ArgumentParser
import Foundation
import Pipeline
import Reports
import SafeFiles
import Store

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the size distributions of samples: overlaid distributions, statistics per sample, tests between each pair.",
        discussion: """
            Writes into --out: comparison_<measurement>.png (300 dpi), .svg and .pdf (empirical \
            distribution functions and density histograms overlaid), comparison_samples.csv (n, \
            mean, sd, median, the log-normal fit's geometric mean and geometric sd with 95 % \
            confidence intervals), comparison_tests.csv (two-sample Kolmogorov-Smirnov and \
            Mann-Whitney U tests, two-sided, for every pair) and comparison.xlsx (both tables), and \
            prints the tables. A sample is named by its name or folder (the newest of that name).
            """)

    @Argument(help: "Two or more samples (name or folder).") var samples: [String]
    @Option(help: "The measurement compared (a column of the particle table).") var measurement = "equivalent_diameter_nm"
    @Option(help: "Output folder (created if needed).") var out = "comparison"
    @OptionGroup var database: DatabaseOptions

    func validate() throws {
        guard samples.count >= 2 else { throw ValidationError("give at least two samples") }
        guard let column = MeasurementCatalog.column(measurement), column.summarised else {
            throw ValidationError("--measurement must be one of \(MeasurementCatalog.summarised.map(\.column).joined(separator: ", "))")
        }
    }

    func run() throws {
        let db = try database.open()
        let column = MeasurementCatalog.column(measurement)!
        var data: [(name: String, values: [Double])] = []
        for name in samples {
            guard let o = try db.overview(of: name), let id = o.sample.id else { throw Failure(.noInput, "no sample named \(name)") }
            let values = try db.contents(sampleId: id).particles.compactMap { column.value($0.measurement).double }
            data.append((o.sample.name, values))
        }
        let folder: SafeFiles.Directory
        do { folder = try SafeFiles.openUserDirectory(out, create: true) } catch { throw Failure(.cannotCreate, "cannot create \(out): \(error)") }
        let unit = column.column.hasSuffix("_nm2") ? "nm²" : column.column.hasSuffix("_nm") ? "nm" : column.column.hasSuffix("_px") ? "px" : ""
        let title = String(column.header.split(separator: "[").first ?? Substring(column.header)).trimmingCharacters(in: .whitespaces)
        let figure = Charts.comparison(data, title: title, unit: unit)
        for format in FigureFormat.allCases {
            try folder.write(try figure.render(format), to: "comparison_\(measurement).\(format.rawValue)")
        }
        // per sample
        var perSample = CSVTable(header: ["sample", "n", "mean", "sd", "median", "geometric_mean", "geometric_mean_ci95_low", "geometric_mean_ci95_high",
                                          "geometric_sd", "geometric_sd_ci95_low", "geometric_sd_ci95_high"])
        var sampleRows: [[Cell]] = [perSample.header.map { .text($0) }]
        for (name, values) in data {
            let s = Summary(values), f = SizeStatistics.logNormal(values)
            let numbers = [s.mean, s.sd, s.median, f?.geometricMean, f?.geometricMeanCI95.low, f?.geometricMeanCI95.high, f?.geometricSD,
                           f?.geometricSDCI95.low, f?.geometricSDCI95.high]
            perSample.append([name, String(s.n)] + numbers.map(CSVTable.number))
            sampleRows.append([.text(name), .int(s.n)] + numbers.map { .num($0) })
        }
        // each pair
        var tests = CSVTable(header: ["sample_a", "sample_b", "n_a", "n_b", "ks_d", "ks_p", "mann_whitney_u", "mann_whitney_p"])
        var testRows: [[Cell]] = [tests.header.map { .text($0) }]
        for i in data.indices {
            for j in data.indices where j > i {
                let ks = SizeStatistics.kolmogorovSmirnov(data[i].values, data[j].values)
                let mw = SizeStatistics.mannWhitney(data[i].values, data[j].values)
                let numbers = [ks?.d, ks?.p, mw?.u, mw?.p]
                tests.append([data[i].name, data[j].name, String(data[i].values.count), String(data[j].values.count)] + numbers.map(CSVTable.number))
                testRows.append([.text(data[i].name), .text(data[j].name), .int(data[i].values.count), .int(data[j].values.count)] + numbers.map { .num($0) })
            }
        }
        try folder.write(Array(perSample.text.utf8), to: "comparison_samples.csv")
        try folder.write(Array(tests.text.utf8), to: "comparison_tests.csv")
        var sheet1 = Worksheet(name: "Samples", rows: sampleRows)
        sheet1.numberFormats = [nil, "0"] + Array(repeating: "0.0000", count: 9)
        var sheet2 = Worksheet(name: "Tests", rows: testRows)
        sheet2.numberFormats = [nil, nil, "0", "0", "0.0000", "0.0000", "0", "0.0000"]
        try folder.write(Array(try XLSXWriter.data([sheet1, sheet2])), to: "comparison.xlsx")
        printLine("\(measurement) by sample:")
        printLine(try ResultFormatter.render(table(perSample), as: .table).trimmingCharacters(in: .newlines))
        printLine("\ntwo-sample tests (two-sided):")
        printLine(try ResultFormatter.render(table(tests), as: .table).trimmingCharacters(in: .newlines))
        printLine("\nwritten to \(folder.path)")
    }

    func table(_ t: CSVTable) -> QueryResult {
        QueryResult(columns: t.header, rows: t.rows.map { $0.map { v in Double(v).map { $0.databaseValue } ?? v.databaseValue } })
    }
}
