@_exported import Units

/// Size and shape of one particle. Lengths in nm, areas in nm², positions in pixels.
///
/// Definitions follow MATLAB `regionprops`, as the reference program (ANTEMA v1.0) uses them:
/// - `areaNm2`: pixel count x pixel area.
/// - `equivalentDiameterNm`: `sqrt(4 * area / pi)`.
/// - `perimeterNm`: the outer 8-connected boundary, 0.980 per straight step, 1.406 per diagonal
///   step, minus 0.091 per change of step type (holes not included).
/// - `circularity`: `4 * pi * area / perimeter^2`, uncorrected (can exceed 1 for tiny objects).
/// - `feretMaxNm` / `feretMinNm`: on the convex hull of the pixel corners, the largest vertex
///   distance and the smallest caliper width over hull edges. `aspectRatio` = max / min.
/// - `convexity`: perimeter of the convex image / perimeter; `solidity`: area / convex area.
///   The convex image is the convex hull of every pixel's edge midpoints rasterised as
///   MATLAB's `poly2mask` does.
/// - `centroidXPx`, `centroidYPx`: mean column and row, 0-based; `box`: inclusive bounds.
///
/// Non-square pixels: every length is measured in physical coordinates (column offsets times
/// `pixelSize.x`, row offsets times `pixelSize.y`): hull points are scaled before the Feret
/// diameters, and boundary steps are weighted by their physical length (a straight step of
/// 0.980 px counts 0.980 x its axis's pixel size, a diagonal 1.406 x the mean of the two
/// diagonals, a corner 0.091 x the geometric mean). For square pixels this is exactly the
/// reference's definition scaled by the pixel size.
public struct ParticleMeasurement: Sendable, Equatable {
    public var areaPx: Int
    public var areaNm2: Double
    public var equivalentDiameterNm: Double
    public var perimeterNm: Double
    public var circularity: Double
    public var feretMinNm: Double
    public var feretMaxNm: Double
    public var aspectRatio: Double
    public var convexity: Double
    public var solidity: Double
    public var centroidXPx: Double
    public var centroidYPx: Double
    public var box: BoundingBox
    /// Came out of overlap separation.
    public var separated: Bool = false
    /// Kept whole although non-convex (overlap mode `flag`).
    public var overlapFlag: Bool = false
    /// The network's mean particle probability over the particle's pixels (0.5-1 for a
    /// threshold of 0.5); nil for the classical segmenter and for masks.
    public var confidence: Double? = nil

    public init(areaPx: Int, areaNm2: Double, equivalentDiameterNm: Double, perimeterNm: Double, circularity: Double,
                feretMinNm: Double, feretMaxNm: Double, aspectRatio: Double, convexity: Double, solidity: Double,
                centroidXPx: Double, centroidYPx: Double, box: BoundingBox, separated: Bool = false, overlapFlag: Bool = false,
                confidence: Double? = nil) {
        self.areaPx = areaPx
        self.areaNm2 = areaNm2
        self.equivalentDiameterNm = equivalentDiameterNm
        self.perimeterNm = perimeterNm
        self.circularity = circularity
        self.feretMinNm = feretMinNm
        self.feretMaxNm = feretMaxNm
        self.aspectRatio = aspectRatio
        self.convexity = convexity
        self.solidity = solidity
        self.centroidXPx = centroidXPx
        self.centroidYPx = centroidYPx
        self.box = box
        self.separated = separated
        self.overlapFlag = overlapFlag
        self.confidence = confidence
    }
}

/// Shape facts in pixel units used by separation and measurement.
struct Shape {
    let perimeterPx: Double
    let convexPerimeterPx: Double
    let convexAreaPx: Int
    var convexity: Double { perimeterPx > 0 ? convexPerimeterPx / perimeterPx : 1 }
    func solidity(area: Int) -> Double { convexAreaPx > 0 ? Double(area) / Double(convexAreaPx) : 1 }

    init(_ region: Region) {
        let mask = region.mask(pad: 0)
        perimeterPx = Boundary.perimeter(mask)
        let convex = Shape.convexImage(region)
        convexAreaPx = convex.count
        convexPerimeterPx = Boundary.perimeter(convex)
    }

    /// The convex image over the region's bounding box (regionprops `ConvexImage`).
    static func convexImage(_ region: Region) -> BinaryImage {
        let hull = Geometry.convexHull(Geometry.outlinePoints(region, corners: false))
        guard hull.count >= 3 else { return region.mask(pad: 0) }
        // bounding-box-local, 1-based MATLAB coordinates
        let xs = hull.map { $0.x - Double(region.box.minCol) + 1 }
        let ys = hull.map { $0.y - Double(region.box.minRow) + 1 }
        return Geometry.poly2mask(x: xs, y: ys, rows: region.box.height, cols: region.box.width)
    }
}

/// Second-moment ellipse minor axis length in pixels (regionprops `MinorAxisLength`, with the
/// 1/12 of a unit pixel added to the variances).
func minorAxisLength(_ region: Region) -> Double {
    let n = Double(region.area)
    var sx = 0.0, sy = 0.0
    for p in region.pixels { sx += Double(p.col); sy += Double(p.row) }
    let mx = sx / n, my = sy / n
    var uxx = 0.0, uyy = 0.0, uxy = 0.0
    for p in region.pixels {
        let x = Double(p.col) - mx, y = -(Double(p.row) - my)
        uxx += x * x; uyy += y * y; uxy += x * y
    }
    uxx = uxx / n + 1.0 / 12; uyy = uyy / n + 1.0 / 12; uxy /= n
    let common = ((uxx - uyy) * (uxx - uyy) + 4 * uxy * uxy).squareRoot()
    return 2 * 2.0.squareRoot() * max(0, uxx + uyy - common).squareRoot()
}

extension Region {
    /// Measures the region with the given pixel size.
    public func measure(pixelSize: PixelSizeNm) -> ParticleMeasurement {
        let shape = Shape(self)
        let px = pixelSize.x, py = pixelSize.y
        let areaNm2 = Double(area) * px * py
        let perimeterNm: Double
        if pixelSize.isSquare {
            perimeterNm = shape.perimeterPx * px
        } else {
            perimeterNm = Region.physicalPerimeter(Boundary.trace(mask(pad: 0)), px: px, py: py)
        }
        let corners = Geometry.outlinePoints(self, corners: true).map { Point(x: $0.x * px, y: $0.y * py) }
        let feret = Geometry.feret(Geometry.convexHull(corners))
        var sx = 0.0, sy = 0.0
        for p in pixels { sx += Double(p.col); sy += Double(p.row) }
        let circularity = perimeterNm > 0 ? 4 * Double.pi * areaNm2 / (perimeterNm * perimeterNm) : 0
        return ParticleMeasurement(
            areaPx: area, areaNm2: areaNm2, equivalentDiameterNm: (4 * areaNm2 / Double.pi).squareRoot(),
            perimeterNm: perimeterNm, circularity: circularity,
            feretMinNm: feret.min, feretMaxNm: feret.max,
            aspectRatio: feret.min > 0 ? feret.max / feret.min : 0,
            convexity: shape.convexity, solidity: shape.solidity(area: area),
            centroidXPx: sx / Double(area), centroidYPx: sy / Double(area), box: box)
    }

    /// The reference perimeter estimator with each step weighted by its physical length.
    static func physicalPerimeter(_ boundary: [Pixel], px: Double, py: Double) -> Double {
        let steps = boundary.count - 1
        guard steps > 1 else { return 0 }
        let diagonal = (px * px + py * py).squareRoot() / 2.0.squareRoot()
        var total = 0.0
        var kinds: [Int] = []  // 0 horizontal, 1 vertical, 2 diagonal
        for i in 0..<steps {
            let dr = boundary[i + 1].row - boundary[i].row, dc = boundary[i + 1].col - boundary[i].col
            if dr == 0 { total += 0.980 * px; kinds.append(0) } else if dc == 0 { total += 0.980 * py; kinds.append(1) } else { total += 1.406 * diagonal; kinds.append(2) }
        }
        for i in 0..<steps where kinds[i] != kinds[(i + 1) % steps] { total -= 0.091 * (px * py).squareRoot() }
        return total
    }
}
