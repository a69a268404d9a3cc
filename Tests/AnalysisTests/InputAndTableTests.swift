import Foundation
import GatanDM
import Pipeline
import Testing
@testable import Analysis

@Suite struct InputsAndTables {
    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("antema-analysis-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test("CSV fields with commas, quotes and line breaks are quoted (RFC 4180)")
    func csvQuoting() {
        var t = CSVTable(header: ["a", "b,c"])
        t.append(["x\"y", "1\n2"])
        #expect(t.text == "a,\"b,c\"\r\n\"x\"\"y\",\"1\n2\"\r\n")
        #expect(CSVTable.number(nil) == "" && CSVTable.number(.nan) == "" && CSVTable.number(0.5) == "0.5")
    }

    @Test("mean and sample standard deviation (N - 1)")
    func statistics() {
        let s = Statistics.meanAndSD([1, 2, 3, 4])!
        #expect(s.mean == 2.5)
        #expect(abs(s.sd - (5.0 / 3).squareRoot()) < 1e-12)
        #expect(Statistics.meanAndSD([]) == nil)
        #expect(Statistics.meanAndSD([7])!.sd == 0)
    }

    @Test("DM files: stacks give one frame each; diffraction patterns and spectra are refused with the reason; an uncalibrated image has no pixel size (measured in pixels) unless a fallback is given")
    func dmInputs() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ image: DMImageToWrite) throws -> String {
            let p = dir + "/" + name
            try Data(DMWriter.write([image])).write(to: URL(fileURLWithPath: p))
            return p
        }
        let nm = DMAxis(scale: 0.2, origin: 0, unit: "nm")
        let stack = try write("stack.dm3", DMImageToWrite(title: "s", shape: [3, 8, 8], axes: [DMAxis(scale: 1, origin: 0, unit: ""), nm, nm], pixels: .int16([Int16](repeating: 1, count: 192))))
        let loader = InputLoader(fallbackPixelSizeNm: nil)
        let frames = loader.load(stack)
        #expect(frames.count == 3)
        #expect(frames.compactMap { try? $0.get().frame } == [0, 1, 2])
        let f32 = Double(Float(0.2))  // DM stores calibrations as float32
        #expect(try frames[0].get().pixelSize == PixelSizeNm(y: f32, x: f32))

        let inverse = DMAxis(scale: 0.1, origin: 0, unit: "1/nm")
        let dp = try write("dp.dm3", DMImageToWrite(title: "dp", shape: [8, 8], axes: [inverse, inverse], pixels: .float32([Float](repeating: 1, count: 64))))
        guard case .failure(let p1) = loader.load(dp)[0] else { Issue.record("diffraction pattern accepted"); return }
        #expect(p1.status == .failed && p1.message.contains("1/nm"))

        let plain = try write("plain.dm3", DMImageToWrite(title: "u", shape: [8, 8], pixels: .float32([Float](repeating: 1, count: 64))))
        let uncalibrated = try loader.load(plain)[0].get()
        #expect(uncalibrated.pixelSize == nil)
        #expect((try? InputLoader(fallbackPixelSizeNm: 0.3).load(plain)[0].get().pixelSize) == PixelSizeNm(y: 0.3, x: 0.3))

        var spectrumMeta = DMMetadata(); spectrumMeta.format = "Spectrum"
        let spectrum = try write("eels.dm3", DMImageToWrite(title: "e", shape: [4, 4], pixels: .float32([Float](repeating: 1, count: 16)), metadata: spectrumMeta))
        guard case .failure(let p3) = loader.load(spectrum)[0] else { Issue.record("spectrum accepted"); return }
        #expect(p3.status == .skipped)
    }

    @Test("folders expand to their supported files, sorted; unknown files fail clearly")
    func folders() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["b.dm3", "a.PNG", "notes.txt", "c.tif"] { FileManager.default.createFile(atPath: dir + "/" + name, contents: Data()) }
        #expect(InputLoader.expand([dir]).map { ($0 as NSString).lastPathComponent } == ["a.PNG", "b.dm3", "c.tif"])
        guard case .failure(let p) = InputLoader(fallbackPixelSizeNm: 1).load(dir + "/notes.txt")[0] else { Issue.record("text file accepted"); return }
        #expect(p.message.contains("unsupported"))
        guard case .failure(let empty) = InputLoader(fallbackPixelSizeNm: 1).load(dir + "/b.dm3")[0] else { Issue.record("empty DM accepted"); return }
        #expect(empty.message.contains("DM header"))
    }
}
