import AntemaService
import ArgumentParser
import Foundation
import Store

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write (again) a sample's reports: workbook, CSV files, histograms and every image's pictures.",
        discussion: "Into the sample's report folder (reports.directory of the configuration) or --out DIR. The same files are replaced.")
    @Argument(help: "Sample name or folder.") var sample: String
    @Option(help: "Output folder (default: the sample's report folder).") var out: String?
    @Flag(name: .customLong("no-pictures"), help: "Skip the per-image pictures (they need the images re-analysed).") var noPictures = false
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let store = try database.openForWriting()
        let found = try store.samples(named: sample)
        guard let s = found.first else { throw Failure(.noInput, "no sample named \(sample)") }
        var config = Configuration()
        if let path = database.configPath ?? (FileManager.default.fileExists(atPath: DatabaseOptions.defaultConfig) ? DatabaseOptions.defaultConfig : nil) {
            // the report folder and the segmenter come from the configuration: a broken one is said, not ignored
            do { config = try Configuration.load(path: path) } catch { throw Failure(.configuration, "\(error)") }
        }
        let written = try ReportWriter(store: store, configuration: config).write(sampleId: s.id!, to: out, pictures: !noPictures)
        for problem in written.pictureProblems { printError("error: \(problem)") }
        print("report of \(s.name) written to \(written.directory)")
        if !written.pictureProblems.isEmpty { throw ExitCode(someInputsFailed) }
    }
}
