import ArgumentParser
import Foundation
import GatanDM
import Pipeline

struct ExampleMicrograph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-micrograph",
        abstract: "Write a synthetic bright-field micrograph (dark discs on a noisy background) as a DM3 file.",
        discussion: "For demos and tests: the particles' true positions and sizes are printed as CSV with --truth.")

    @Argument(help: "Output .dm3 file.")
    var output: String

    @Option(help: "Width and height in pixels.") var size = 512
    @Option(help: "Pixel size in nm.") var pixelSize = 0.1
    @Option(help: "Number of particles.") var particles = 40
    @Option(help: "Mean particle diameter in nm.") var meanDiameter = 4.0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "Also write the true particles (centre row/col in px, diameter in nm) to this CSV file.") var truth: String?

    func validate() throws {
        guard (8...16384).contains(size) else { throw ValidationError("--size must be between 8 and 16384 pixels") }
        guard pixelSize > 0, pixelSize.isFinite else { throw ValidationError("--pixel-size must be a positive number of nm") }
        guard particles >= 0 else { throw ValidationError("--particles must not be negative") }
    }

    func run() throws {
        let synth = SyntheticMicrograph(width: size, height: size, pixelSizeNm: pixelSize, count: particles, meanDiameterNm: meanDiameter, seed: seed)
        var image = DMImageToWrite.float32(title: URL(fileURLWithPath: output).deletingPathExtension().lastPathComponent,
                                           width: size, height: size, pixelSizeNm: pixelSize, pixels: synth.pixels)
        image.metadata.microscope = "antema synthetic"
        image.metadata.voltageV = 200_000
        try Data(DMWriter.write([image])).write(to: URL(fileURLWithPath: output))
        if let truth {
            var csv = "particle,center_row_px,center_col_px,diameter_nm\n"
            for (i, p) in synth.particles.enumerated() {
                csv += "\(i + 1),\(p.centerRow),\(p.centerCol),\(2 * p.radiusPx * pixelSize)\n"
            }
            try csv.write(toFile: truth, atomically: true, encoding: .utf8)
        }
        print("wrote \(output): \(size) x \(size) px at \(pixelSize) nm/px, \(synth.particles.count) particles")
    }
}

/// Wraps raw float32 pixels (little-endian, row-major) in a calibrated DM3 file with the
/// project's own writer: how training/make_testset.py turns simulated micrographs into the
/// files the product reads.
struct WriteDM3: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-dm3",
        abstract: "Write raw float32 pixels (little-endian, row-major) as a calibrated DM3 file.",
        shouldDisplay: false)

    @Option(help: "Raw float32 file.") var raw: String
    @Option(help: "Width in pixels.") var width: Int
    @Option(help: "Height in pixels.") var height: Int
    @Option(name: .customLong("pixel-size"), help: "Pixel size in nm.") var pixelSizeNm: Double
    @Argument(help: "Output .dm3 file.") var output: String

    func run() throws {
        guard width > 0, height > 0, width <= 16384, height <= 16384 else { throw ValidationError("width and height must be 1 to 16384") }
        guard pixelSizeNm > 0, pixelSizeNm.isFinite else { throw ValidationError("--pixel-size must be a positive number of nm") }
        let data = try Data(contentsOf: URL(fileURLWithPath: raw))
        guard data.count == width * height * 4 else {
            throw Failure(.dataError, "\(raw) has \(data.count) bytes, not \(width) x \(height) x 4")
        }
        let pixels = data.withUnsafeBytes { buf in (0..<(width * height)).map { Float(bitPattern: UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) } }
        var image = DMImageToWrite.float32(title: URL(fileURLWithPath: output).deletingPathExtension().lastPathComponent,
                                           width: width, height: height, pixelSizeNm: pixelSizeNm, pixels: pixels)
        image.metadata.microscope = "antema simulator"
        image.metadata.voltageV = 200_000
        try Data(DMWriter.write([image])).write(to: URL(fileURLWithPath: output))
    }
}
