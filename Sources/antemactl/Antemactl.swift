import ArgumentParser
import Foundation
import GatanDM
import Store

@main
struct Antemactl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "antemactl",
        abstract: "Control and query antema, the nanoparticle TEM analysis service.",
        version: AntemaVersion.string,
        subcommands: [Status.self, Inspect.self, Analyze.self, Query.self, Samples.self, Show.self, Compare.self, Close.self, Retry.self, Reprocess.self, Report.self, Backup.self, Config.self, Evaluate.self, ExampleMicrograph.self, WriteDM3.self])

    /// Wrong usage exits 64 with the usage text (swift-argument-parser); a runtime `Failure`
    /// prints `antemactl: message` alone and exits with its sysexits code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as Failure {
            printError("antemactl: \(failure.message)")
            Foundation.exit(failure.exit.rawValue)
        } catch let error as StoreError {
            printError("antemactl: \(error)")
            Foundation.exit(error.exit.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}

enum AntemaVersion {
    static let string = "0.1.0"
}

/// Exit code for "some inputs could not be processed; the others were".
let someInputsFailed: Int32 = 2

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe Gatan DM3/DM4 files: images, shapes, data types, calibration and metadata.",
        discussion: "Exits with status 2 when any file cannot be read; the others are still described.")

    @Argument(help: "DM3/DM4 files.")
    var files: [String]

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Flag(help: "Also print every tag of the file's tag tree (text output only).")
    var tags = false

    func run() throws {
        let inspections = files.map { FileInspection.inspect(path: $0) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            struct Document: Encodable { let files: [FileInspection] }
            FileHandle.standardOutput.write(try encoder.encode(Document(files: inspections)))
            print()
        } else {
            for (path, inspection) in zip(files, inspections) {
                if inspection.error != nil {
                    FileHandle.standardError.write(Data(inspection.text.utf8))
                    continue
                }
                print(inspection.text, terminator: "")
                if tags, let file = try? DMReader.read(contentsOf: URL(fileURLWithPath: path)) {
                    for (p, v) in file.root.flattened() { print("    \(p) = \(v.summary())") }
                }
            }
        }
        if inspections.contains(where: { $0.error != nil }) { throw ExitCode(someInputsFailed) }
    }
}
