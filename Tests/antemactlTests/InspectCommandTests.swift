import Foundation
import Testing

/// End-to-end runs of the real `antemactl` binary.
@Suite struct AntemactlInspect {
    /// The built products sit beside the test bundle.
    static let binary: URL = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("antemactl").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("antemactl")
    }()

    static func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("antemactl-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test("inspect --json describes a written micrograph, and a bad file gets an error entry and exit status 2")
    func jsonWithOneBadFile() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.dm3").path
        let bad = dir.appendingPathComponent("bad.dm3").path
        #expect(try Self.run(["example-micrograph", good, "--size", "64", "--pixel-size", "0.25", "--particles", "3"]).status == 0)
        try Data("not a micrograph".utf8).write(to: URL(fileURLWithPath: bad))
        let r = try Self.run(["inspect", "--json", good, bad])
        #expect(r.status == 2)
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let files = try #require(doc["files"] as? [[String: Any]])
        #expect(files.count == 2)
        #expect(files[0]["path"] as? String == good)
        #expect(files[0]["format"] as? String == "DM3")
        #expect(files[0]["version"] as? Int == 3)
        let image = try #require((files[0]["images"] as? [[String: Any]])?.first)
        #expect(image["shape"] as? [Int] == [64, 64])
        #expect(image["dataType"] as? String == "float32")
        let px = try #require(image["pixelSizeNm"] as? [Double])
        #expect(px.count == 2 && abs(px[0] - 0.25) < 1e-6 && abs(px[1] - 0.25) < 1e-6)
        let axes = try #require(image["axes"] as? [[String: Any]])
        #expect(axes.map { $0["unit"] as? String } == ["nm", "nm"])
        #expect((image["metadata"] as? [String: Any])?["voltageV"] as? Double == 200_000)
        #expect(files[1]["path"] as? String == bad)
        #expect((files[1]["error"] as? String)?.contains("not a DigitalMicrograph file") == true)
    }

    @Test("inspect prints null pixel size for non-length units", .enabled(if: FileManager.default.fileExists(atPath: sharedDM + "/rosettasciio_2D_test_diffraction_pattern.dm3"), "../shared/data/dm absent, skipping"))
    func nullPixelSize() throws {
        let r = try Self.run(["inspect", "--json", sharedDM + "/rosettasciio_2D_test_diffraction_pattern.dm3"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("\"pixelSizeNm\" : null"))
    }

    @Test("inspect text output names the pixel size and refuses a spectrum as a micrograph", .enabled(if: FileManager.default.fileExists(atPath: sharedDM + "/openNCEM_08_carbon.dm3"), "../shared/data/dm absent, skipping"))
    func textOutput() throws {
        let r = try Self.run(["inspect", sharedDM + "/openNCEM_08_carbon.dm3", sharedDM + "/openNCEM_dmTest_float32_nonSquare_diffPixelSize.dm3"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("not a micrograph: image '08_carbon' is a spectrum (EELS)"))
        #expect(r.stdout.contains("pixel size: y 0.2 nm, x 1.0 nm (non-square)"))
    }

    @Test("--help lists the commands")
    func help() throws {
        let r = try Self.run(["--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("inspect"))
        #expect(r.stdout.contains("example-micrograph"))
    }
}

let sharedDM: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/dm").path
