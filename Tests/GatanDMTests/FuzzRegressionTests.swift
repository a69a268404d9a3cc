import Foundation
import Testing
@testable import GatanDM

/// Every input the DM fuzzer (scripts/fuzz.sh dm) found a problem with.
@Suite struct DMFuzzRegressions {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")
    static let cases = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()

    @Test("fuzzer findings read or fail with a DMError", arguments: cases)
    func replay(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Self.folder.appendingPathComponent(name)))
        guard let file = try? DMReader.parse(bytes), let images = try? file.allImages() else { return }
        for image in images where image.pixelCount <= 1 << 22 {
            _ = try? image.validateAsMicrograph()
            _ = try? image.floatPixels()
        }
    }
}
