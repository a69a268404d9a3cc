// Physical units and their conversions, in one place: the pixel size of a frame and what
// follows from it. Shared by the file readers (GatanDM, ImageFiles' callers), the pipeline and
// the reports. Lengths in nm, areas in nm².

/// Pixel size of a 2-D frame in nm, per axis. Non-square pixels are real: never assume y == x.
public struct PixelSizeNm: Sendable, Equatable, Codable {
    /// Row spacing (the slow axis).
    public var y: Double
    /// Column spacing (the fast axis).
    public var x: Double
    public init(y: Double, x: Double) { self.y = y; self.x = x }
    /// Square pixels of `nm`.
    public init(square nm: Double) { self.init(y: nm, x: nm) }
    public var isSquare: Bool { abs(y - x) <= 1e-9 * max(abs(x), abs(y)) }
    /// The side of the square pixel of the same area, `sqrt(x y)`: the one length used where a
    /// single scale is needed (minimum sizes in pixels, scale bars, the network's input scale).
    public var geometricMeanNm: Double { (x * y).squareRoot() }
    /// The area of one pixel in nm².
    public var pixelAreaNm2: Double { x * y }
    /// `nm` as a length in pixels at the geometric-mean scale.
    public func pixels(nm: Double) -> Double { nm / geometricMeanNm }
}
