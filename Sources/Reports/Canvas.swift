/// An 8-bit RGB colour.
public struct RGB: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0)
    /// Colours that stay apart for colour-blind readers (Okabe-Ito).
    public static let particle = RGB(86, 180, 233)      // sky blue
    public static let separated = RGB(204, 121, 167)    // reddish purple
    public static let flagged = RGB(230, 159, 0)        // orange
    public static let border = RGB(150, 150, 150)       // grey
    public static let segmentation = RGB(240, 228, 66)  // yellow
    public static let leftOut = RGB(213, 94, 0)         // vermillion: burned-in lettering, scale bars, excluded regions
    public static let bar = RGB(0, 114, 178)            // blue
    public static let dropped = RGB(0, 158, 115)        // bluish green: a network's unsure particles and debris, dropped
}

/// A micrograph's pixels as RGB (contrast-stretched, tinted), row-major from the top left: the
/// raster that `Pictures` draws over with cairo.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [RGB]

    public init(width: Int, height: Int, fill: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [RGB](repeating: fill, count: width * height)
    }

    /// A contrast-stretched greyscale rendering (0.5th to 99.5th percentile to 0...255).
    public init(gray values: [Float], width: Int, height: Int) {
        self.init(width: width, height: height)
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return }
        let step = max(1, finite.count / 20_000)
        let sample = stride(from: 0, to: finite.count, by: step).map { finite[$0] }.sorted()
        let lo = sample[Int(Double(sample.count - 1) * 0.005)], hi = sample[Int(Double(sample.count - 1) * 0.995)]
        let scale = hi > lo ? 255 / (hi - lo) : 0
        for i in 0..<(width * height) {
            let v = values[i].isFinite ? UInt8(max(0, min(255, (values[i] - lo) * scale))) : 0
            pixels[i] = RGB(v, v, v)
        }
    }

    public mutating func blend(_ x: Int, _ y: Int, _ c: RGB, _ alpha: Double) {
        guard x >= 0 && y >= 0 && x < width && y < height else { return }
        let p = pixels[y * width + x]
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8(Double(a) * (1 - alpha) + Double(b) * alpha) }
        pixels[y * width + x] = RGB(mix(p.r, c.r), mix(p.g, c.g), mix(p.b, c.b))
    }

    func rgbBytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for (i, p) in pixels.enumerated() { bytes[3 * i] = p.r; bytes[3 * i + 1] = p.g; bytes[3 * i + 2] = p.b }
        return bytes
    }
}
