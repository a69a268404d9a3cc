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
    /// nil: the frame has no calibration; it is analysed at its own pixels and measured in
    /// pixels only.
    public var pixelSize: PixelSizeNm?
    /// Pixels where no particle is counted and which the network's normalisation leaves out
    /// (burned-in annotations, regions excluded by the user); nil: none.
    public var exclude: BinaryImage?

    public init(path: String, frame: Int?, image: GrayImage, pixelSize: PixelSizeNm?, exclude: BinaryImage? = nil) {
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

/// One frame of a file, numbered as everywhere in antema (the database's `frame`, the tables,
/// the picture names): its 0-based position among the file's micrograph frames, in file order
/// (images that are not micrographs are not numbered; a 2-D image is frame 0 of 1). Its pixels
/// are decoded by `load()`, so a stack's frames are read one at a time.
public struct FrameSource: Sendable {
    public var path: String
    public var frame: Int
    /// Micrograph frames in the file.
    public var frameCount: Int
    public var widthPx: Int
    public var heightPx: Int
    /// Why this frame cannot be analysed (calibrated in a non-length unit, too large); nil when
    /// it can.
    public var problem: InputProblem?
    /// The acquisition metadata of a DM file.
    public var metadata: DMMetadata?
    /// The pixel size used: the file's, else the fallback; nil: none (measured in pixels).
    public let pixelSize: PixelSizeNm?
    let pixels: @Sendable () throws -> [Float]
    /// The pixel size the file itself states (nil where the fallback is used or there is none).
    public var statedPixelSize: PixelSizeNm? = nil

    /// The frame's pixels and calibration; throws the frame's problem.
    public func load() throws -> InputFrame {
        if let problem { throw problem }
        return InputFrame(path: path, frame: frame, image: GrayImage(width: widthPx, height: heightPx, pixels: try pixels()), pixelSize: pixelSize)
    }
}

/// A file opened for analysis: its frames, and what in it is not analysed (the whole file when
/// it cannot be read; images that are not micrographs, skipped with the reason).
public struct OpenedFile: Sendable {
    public var frames: [FrameSource]
    public var problems: [InputProblem]
}

/// Turns files and folders into frames: the one input path of `antemactl analyze`, `evaluate`
/// and `antemad`.
///
/// - DM3/DM4: every non-thumbnail image; stacks give one frame each. The pixel size comes from
///   the file's calibration; a file with no unit at all takes `fallbackPixelSizeNm`, else has
///   none (its particles are measured in pixels); other non-length units (`1/nm`, `eV`) are
///   refused. Images that are not micrographs (spectra, 1-D profiles) are skipped with the reason.
/// - PNG (8/16-bit) and TIFF: the pixel size from an ImageJ calibration in the TIFF, else
///   `fallbackPixelSizeNm`, else none (measured in pixels).
/// - Folders: the supported files directly inside, sorted by name (not recursive).
public struct InputLoader: Sendable {
    public static let extensions: Set<String> = ["dm3", "dm4", "png", "tif", "tiff"]
    public var fallbackPixelSizeNm: Double?
    /// Larger images (width x height per frame) are refused before their pixels are decoded.
    public var maxImagePixels: Int
    /// Where the option or setting for the pixel-size limit is named in messages.
    public var maxPixelsSetting = "--max-pixels"

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

    /// The frames of one file (read from disk), each a frame or the reason it is not analysed.
    public func load(_ path: String) -> [Result<InputFrame, InputProblem>] {
        let opened = open(path)
        return opened.problems.map { .failure($0) } + opened.frames.map { source in
            Result { try source.load() }.mapError { $0 as? InputProblem ?? InputProblem(path: path, frame: source.frame, status: .failed, message: "\($0)") }
        }
    }

    /// Opens a file from disk.
    public func open(_ path: String) -> OpenedFile {
        switch (path as NSString).pathExtension.lowercased() {
        case "dm3", "dm4":
            do { return open(path, dmBytes: Array(try Data(contentsOf: URL(fileURLWithPath: path)))) } catch {
                return OpenedFile(frames: [], problems: [InputProblem(path: path, frame: nil, status: .failed, message: "cannot read: \(error.localizedDescription)")])
            }
        case "png", "tif", "tiff":
            return openRaster(path)
        default:
            return OpenedFile(frames: [], problems: [InputProblem(path: path, frame: nil, status: .failed,
                                                                  message: "unsupported file type (antema reads .dm3, .dm4, .png, .tif, .tiff)")])
        }
    }

    /// Opens a DM3/DM4 file from its bytes (the daemon reads them through `SafeFiles`).
    public func open(_ path: String, dmBytes bytes: [UInt8]) -> OpenedFile {
        func problem(_ message: String, frame: Int? = nil, status: InputProblem.Status = .failed) -> InputProblem {
            InputProblem(path: path, frame: frame, status: status, message: message)
        }
        do {
            let images = try DMReader.parse(bytes).images()
            if images.isEmpty { return OpenedFile(frames: [], problems: [problem("no images in the file")]) }
            var problems: [InputProblem] = []
            var micrographs: [DMImage] = []
            for image in images {
                do { try image.validateAsMicrograph(); micrographs.append(image) } catch {
                    problems.append(problem("image '\(image.title)' skipped: \((error as? DMError)?.message ?? "\(error)")", status: .skipped))
                }
            }
            let count = micrographs.reduce(0) { $0 + $1.frameCount }
            var frames: [FrameSource] = []
            for image in micrographs {
                var pixelSize = image.pixelSizeNm
                var why: String? = nil
                if pixelSize == nil {
                    let units = image.axes.suffix(2).map(\.unit)
                    if units.allSatisfy(\.isEmpty) {
                        // no calibration: the fallback, else measured in pixels
                        pixelSize = fallbackPixelSizeNm.map { PixelSizeNm(y: $0, x: $0) }
                    } else {
                        why = "image '\(image.title)' is calibrated in '\(units.joined(separator: "', '"))', not a length: not a real-space micrograph"
                    }
                }
                if image.width * image.height > maxImagePixels {
                    why = "image '\(image.title)' is \(image.width) x \(image.height) pixels, more than the maximum of \(maxImagePixels) (\(maxPixelsSetting))"
                }
                for z in 0..<image.frameCount {
                    let k = frames.count
                    frames.append(FrameSource(path: path, frame: k, frameCount: count, widthPx: image.width, heightPx: image.height,
                                              problem: why.map { problem($0, frame: k) }, metadata: image.metadata, pixelSize: pixelSize,
                                              pixels: { try image.floatFrame(z) }, statedPixelSize: image.pixelSizeNm))
                }
            }
            return OpenedFile(frames: frames, problems: problems)
        } catch {
            return OpenedFile(frames: [], problems: [problem("\(error)")])
        }
    }

    func openRaster(_ path: String) -> OpenedFile {
        func failed(_ message: String) -> OpenedFile {
            OpenedFile(frames: [], problems: [InputProblem(path: path, frame: nil, status: .failed, message: message)])
        }
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
            let pixelSize = stated ?? fallbackPixelSizeNm.map { PixelSizeNm(y: $0, x: $0) }
            let pixels = raster.pixels
            return OpenedFile(frames: [FrameSource(path: path, frame: 0, frameCount: 1, widthPx: raster.width, heightPx: raster.height, problem: nil,
                                                   metadata: nil, pixelSize: pixelSize, pixels: { pixels }, statedPixelSize: stated)], problems: [])
        } catch let error as ImageFileError {
            return failed(error.message)  // the path is the problem's own
        } catch {
            return failed("\(error)")
        }
    }
}
