import Foundation
import GatanDM
import ImageFiles
import Pipeline

/// One 2-D frame to analyse, with where it came from.
public struct InputFrame: Sendable {
    public var path: String
    /// 0-based frame of a stack; `nil` for a 2-D image.
    public var frame: Int?
    public var image: GrayImage
    public var pixelSize: PixelSizeNm
    /// Pixels where no particle is counted and which the network's normalisation leaves out
    /// (burned-in annotations, regions excluded by the user); nil: none.
    public var exclude: BinaryImage?

    public init(path: String, frame: Int?, image: GrayImage, pixelSize: PixelSizeNm, exclude: BinaryImage? = nil) {
        self.path = path
        self.frame = frame
        self.image = image
        self.pixelSize = pixelSize
        self.exclude = exclude
    }
}

/// Why an input (or one image of it) is not analysed.
public struct InputProblem: Error, Sendable, CustomStringConvertible {
    public enum Status: String, Sendable { case failed, skipped }
    public var path: String
    public var frame: Int?
    public var status: Status
    public var message: String
    public var description: String { "\(path)\(frame.map { " frame \($0)" } ?? ""): \(message)" }

    public init(path: String, frame: Int?, status: Status, message: String) {
        self.path = path
        self.frame = frame
        self.status = status
        self.message = message
    }
}

/// Turns files and folders into frames.
///
/// - DM3/DM4: every non-thumbnail image; stacks give one frame each. The pixel size comes from
///   the file's calibration; a file with no unit at all takes `fallbackPixelSizeNm`; other
///   non-length units (`1/nm`, `eV`) are refused. Images that are not micrographs (spectra,
///   1-D profiles) are skipped with the reason.
/// - PNG (8/16-bit) and TIFF: the pixel size from an ImageJ calibration in the TIFF, else
///   `fallbackPixelSizeNm`, else refused.
/// - Folders: the supported files directly inside, sorted by name (not recursive).
public struct InputLoader: Sendable {
    public static let extensions: Set<String> = ["dm3", "dm4", "png", "tif", "tiff"]
    public var fallbackPixelSizeNm: Double?
    /// Larger images (width x height per frame) are refused before their pixels are decoded.
    public var maxImagePixels: Int

    public init(fallbackPixelSizeNm: Double?, maxImagePixels: Int = 100_000_000) {
        self.fallbackPixelSizeNm = fallbackPixelSizeNm
        self.maxImagePixels = maxImagePixels
    }

    /// Expands folders; keeps explicit files whatever their extension (they fail clearly later).
    public static func expand(_ paths: [String]) -> [String] {
        var out: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
                for name in names.sorted() where extensions.contains((name as NSString).pathExtension.lowercased()) {
                    out.append((p as NSString).appendingPathComponent(name))
                }
            } else {
                out.append(p)
            }
        }
        return out
    }

    /// The frames of one file, each a frame or the reason it is not analysed.
    public func load(_ path: String) -> [Result<InputFrame, InputProblem>] {
        func fail(_ message: String, frame: Int? = nil, status: InputProblem.Status = .failed) -> Result<InputFrame, InputProblem> {
            .failure(InputProblem(path: path, frame: frame, status: status, message: message))
        }
        switch (path as NSString).pathExtension.lowercased() {
        case "dm3", "dm4":
            do {
                let file = try DMReader.read(contentsOf: URL(fileURLWithPath: path))
                let images = try file.images()
                if images.isEmpty { return [fail("no images in the file")] }
                var out: [Result<InputFrame, InputProblem>] = []
                for image in images {
                    do { try image.validateAsMicrograph() } catch {
                        out.append(fail("image '\(image.title)' skipped: \((error as? DMError)?.message ?? "\(error)")", status: .skipped))
                        continue
                    }
                    let pixelSize: PixelSizeNm
                    if let p = image.pixelSizeNm {
                        pixelSize = p
                    } else {
                        let units = image.axes.suffix(2).map(\.unit)
                        if units.allSatisfy(\.isEmpty), let f = fallbackPixelSizeNm {
                            pixelSize = PixelSizeNm(y: f, x: f)
                        } else if units.allSatisfy(\.isEmpty) {
                            out.append(fail("image '\(image.title)' has no calibration; give --pixel-size"))
                            continue
                        } else {
                            out.append(fail("image '\(image.title)' is calibrated in '\(units.joined(separator: "', '"))', not a length: not a real-space micrograph"))
                            continue
                        }
                    }
                    guard image.width * image.height <= maxImagePixels else {
                        out.append(fail("image '\(image.title)' is \(image.width) x \(image.height) pixels, more than the maximum of \(maxImagePixels) (--max-pixels)"))
                        continue
                    }
                    let all = try image.floatPixels()
                    let size = image.width * image.height
                    for z in 0..<image.frameCount {
                        let frame = image.frameCount > 1 ? z : nil
                        let pixels = Array(all[(z * size)..<((z + 1) * size)])
                        out.append(.success(InputFrame(path: path, frame: frame, image: GrayImage(width: image.width, height: image.height, pixels: pixels), pixelSize: pixelSize)))
                    }
                }
                return out
            } catch {
                return [fail("\(error)")]
            }
        case "png", "tif", "tiff":
            do {
                let raster: GrayRaster
                var stated: PixelSizeNm? = nil
                if (path as NSString).pathExtension.lowercased() == "png" {
                    raster = try PNGFile.read(path: path, maxPixels: maxImagePixels)
                } else {
                    let t = try TIFFFile.read(path: path, maxPixels: maxImagePixels)
                    raster = t.raster
                    stated = t.pixelSizeNm.map { PixelSizeNm(y: $0.y, x: $0.x) }
                }
                guard let pixelSize = stated ?? fallbackPixelSizeNm.map({ PixelSizeNm(y: $0, x: $0) }) else {
                    return [fail("no pixel size in the file; give --pixel-size")]
                }
                return [.success(InputFrame(path: path, frame: nil, image: GrayImage(width: raster.width, height: raster.height, pixels: raster.pixels), pixelSize: pixelSize))]
            } catch {
                return [fail("\(error)")]
            }
        default:
            return [fail("unsupported file type (antema reads .dm3, .dm4, .png, .tif, .tiff)")]
        }
    }
}
