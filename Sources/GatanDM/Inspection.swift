import Foundation

/// What `antemactl inspect` reports for one file: a plain value, encodable as the documented JSON.
public struct FileInspection: Sendable, Encodable {
    public struct Axis: Sendable, Encodable {
        public let scale: Double
        public let origin: Double
        public let unit: String
    }

    public struct Image: Sendable, Encodable {
        public let title: String
        /// Slowest axis first.
        public let shape: [Int]
        public let dataType: String
        public let axes: [Axis]
        /// `[y, x]` in nm, or `nil` (JSON `null`) where the axes are not lengths.
        public let pixelSizeNm: [Double]?
        public let frames: Int
        /// Whether antema would analyse it; `nil` reason when it would.
        public let micrograph: Bool
        public let notMicrographReason: String?
        public let metadata: DMMetadata

        enum CodingKeys: String, CodingKey {
            case title, shape, dataType, axes, pixelSizeNm, frames, micrograph, notMicrographReason, metadata
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(title, forKey: .title)
            try c.encode(shape, forKey: .shape)
            try c.encode(dataType, forKey: .dataType)
            try c.encode(axes, forKey: .axes)
            try c.encode(pixelSizeNm, forKey: .pixelSizeNm)  // explicit null
            try c.encode(frames, forKey: .frames)
            try c.encode(micrograph, forKey: .micrograph)
            try c.encodeIfPresent(notMicrographReason, forKey: .notMicrographReason)
            try c.encode(metadata, forKey: .metadata)
        }
    }

    public let path: String
    public let format: String?
    public let version: Int?
    public let images: [Image]?
    public let error: String?

    /// Reads and describes one file; a file that cannot be read gives an inspection with `error`.
    public static func inspect(path: String) -> FileInspection {
        do {
            let file = try DMReader.read(contentsOf: URL(fileURLWithPath: path))
            let images = try file.images().map { image -> Image in
                var reason: String? = nil
                do { try image.validateAsMicrograph() } catch let e as DMError { reason = e.message } catch { reason = "\(error)" }
                return Image(title: image.title, shape: image.shape, dataType: image.dataType.description,
                             axes: image.axes.map { Axis(scale: $0.scale, origin: $0.origin, unit: $0.unit) },
                             pixelSizeNm: image.pixelSizeNm.map { [$0.y, $0.x] }, frames: image.frameCount,
                             micrograph: reason == nil, notMicrographReason: reason, metadata: image.metadata)
            }
            return FileInspection(path: path, format: file.formatName, version: file.version, images: images, error: nil)
        } catch {
            return FileInspection(path: path, format: nil, version: nil, images: nil, error: "\(error)")
        }
    }

    /// The human-readable report.
    public var text: String {
        if let error { return "\(path): error: \(error)\n" }
        var out = "\(path): \(format ?? "?") (version \(version ?? 0)), \(images?.count ?? 0) image(s)\n"
        for (i, image) in (images ?? []).enumerated() {
            out += "  [\(i + 1)] \"\(image.title)\" shape \(image.shape.map(String.init).joined(separator: " x ")) (slowest first), \(image.dataType)"
            out += image.frames > 1 ? ", \(image.frames) frames\n" : "\n"
            let names = image.axes.count == 3 ? ["z", "y", "x"] : image.axes.count == 2 ? ["y", "x"] : image.axes.indices.map { "axis\($0)" }
            for (name, a) in zip(names, image.axes) {
                out += "      \(name): scale \(a.scale) origin \(a.origin) unit \"\(a.unit)\"\n"
            }
            if let p = image.pixelSizeNm {
                out += "      pixel size: y \(p[0]) nm, x \(p[1]) nm\(p[0] == p[1] ? "" : " (non-square)")\n"
            } else {
                out += "      pixel size: none in nm (axes are not calibrated in length units)\n"
            }
            if let r = image.notMicrographReason { out += "      not a micrograph: \(r)\n" }
            let m = image.metadata
            var facts: [String] = []
            if let d = m.acquisitionDate { facts.append("acquired \(d)\(m.acquisitionTime.map { " " + $0 } ?? "")") }
            if let v = m.microscope { facts.append("microscope \(v)") }
            if let v = m.device { facts.append("device \(v)") }
            if let v = m.voltageV { facts.append("\(v / 1000) kV") }
            if let v = m.indicatedMagnification { facts.append("indicated magnification \(v)x") }
            if let v = m.actualMagnification { facts.append("actual magnification \(v)x") }
            if let v = m.exposureSeconds { facts.append("exposure \(v) s") }
            if let v = m.signal { facts.append("signal \(v)") }
            if !facts.isEmpty { out += "      " + facts.joined(separator: "; ") + "\n" }
        }
        return out
    }
}
