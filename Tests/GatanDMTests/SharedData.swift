import Foundation

/// Third-party data lives in `../shared/data` beside the project (read-only, never copied in).
/// `ANTEMA_SHARED_DATA` overrides the location. Tests that need it are skipped, with this
/// message, where it is absent.
enum SharedData {
    static let root: URL = {
        if let env = ProcessInfo.processInfo.environment["ANTEMA_SHARED_DATA"] { return URL(fileURLWithPath: env) }
        // Tests/GatanDMTests/SharedData.swift -> project root -> ../shared/data
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data")
    }()
    static let dm = root.appendingPathComponent("dm")
    static var dmAvailable: Bool { FileManager.default.fileExists(atPath: dm.appendingPathComponent("reference.json").path) }
    static let skipMessage: Comment = "../shared/data/dm/reference.json is absent: real DM3/DM4 files not available, skipping"
}

import Testing

/// One entry of `reference.json` (values RosettaSciIO 0.15 returns for each file).
struct ReferenceFile: Decodable {
    let file: String
    let dmVersion: Int
    let signals: [ReferenceSignal]
}

struct ReferenceSignal: Decodable {
    let title: String
    let shape: [Int]
    let dtype: String
    let axes: [ReferenceAxis]
    let sum: Double?
    let min: Double?
    let max: Double?
    let firstValues: [Double]?
    let lastValue: Double?
    let sumReal: Double?
    let sumImag: Double?
}

struct ReferenceAxis: Decodable {
    let name: String
    let size: Int
    let scale: Double
    let offset: Double
    let units: String
}

func loadReference() throws -> [ReferenceFile] {
    try JSONDecoder().decode([ReferenceFile].self, from: Data(contentsOf: SharedData.dm.appendingPathComponent("reference.json")))
}

extension ReferenceFile: CustomTestStringConvertible {
    var testDescription: String { file }
}
