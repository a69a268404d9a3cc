@_exported import Units

/// Size and shape of one particle. Lengths in pixels always, and in nm when the frame has a
/// calibration (nil when it has none: the particle is measured in pixels only); areas in px
/// and nm²; positions in pixels.
///
/// Definitions follow MATLAB `regionprops`, as the reference program (ANTEMA v1.0) uses them:
/// - `areaPx`: pixel count; `areaNm2`: pixel count x pixel area.
/// - `equivalentDiameter…`: `sqrt(4 * area / pi)`.
/// - `perimeter…`: the outer 8-connected boundary, 0.980 per straight step, 1.406 per diagonal
///   step, minus 0.091 per change of step type (holes not included).
/// - `circularity`: `4 * pi * area / perimeter^2`, uncorrected (can exceed 1 for tiny objects).
/// - `feretMax…` / `feretMin…`: on the convex hull of the pixel corners, the largest vertex
///   distance and the smallest caliper width over hull edges. `aspectRatio` = max / min.
/// - `convexity`: perimeter of the convex image / perimeter; `solidity`: area / convex area.
///   The convex image is the convex hull of every pixel's edge midpoints rasterised as
///   MATLAB's `poly2mask` does.
/// - `centroidXPx`, `centroidYPx`: mean column and row, 0-based; `box`: inclusive bounds.
///
/// The `…Px` lengths are measured on the pixel grid (a pixel is 1 x 1 whatever its physical
/// shape). Non-square pixels: every nm length is measured in physical coordinates (column
/// offsets times `pixelSize.x`, row offsets times `pixelSize.y`): hull points are scaled before
/// the Feret diameters, and boundary steps are weighted by their physical length (a straight
/// step of 0.980 px counts 0.980 x its axis's pixel size, a diagonal 1.406 x the mean of the two
/// diagonals, a corner 0.091 x the geometric mean). For square pixels this is exactly the
/// reference's definition scaled by the pixel size. Circularity and aspect ratio come from the
/// nm lengths where there are some, else from the pixel lengths.
public struct ParticleMeasurement: Sendable, Equatable {
    public var areaPx: Int
    public var equivalentDiameterPx: Double
    public var perimeterPx: Double
    public var feretMinPx: Double
    public var feretMaxPx: Double
    /// nil: the frame has no calibration (as the other nm values).
    public var areaNm2: Double?
    public var equivalentDiameterNm: Double?
    public var perimeterNm: Double?
    public var feretMinNm: Double?
    public var feretMaxNm: Double?
    public var circularity: Double
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

    /// Measured in nm (and px).
    public var isCalibrated: Bool { equivalentDiameterNm != nil }

    /// Every value given.
    public init(areaPx: Int, equivalentDiameterPx: Double, perimeterPx: Double, feretMinPx: Double, feretMaxPx: Double,
                areaNm2: Double?, equivalentDiameterNm: Double?, perimeterNm: Double?, feretMinNm: Double?, feretMaxNm: Double?,
                circularity: Double, aspectRatio: Double, convexity: Double, solidity: Double,
                centroidXPx: Double, centroidYPx: Double, box: BoundingBox, separated: Bool = false, overlapFlag: Bool = false,
                confidence: Double? = nil) {
        self.areaPx = areaPx
        self.equivalentDiameterPx = equivalentDiameterPx
        self.perimeterPx = perimeterPx
        self.feretMinPx = feretMinPx
        self.feretMaxPx = feretMaxPx
        self.areaNm2 = areaNm2
        self.equivalentDiameterNm = equivalentDiameterNm
        self.perimeterNm = perimeterNm
        self.feretMinNm = feretMinNm
        self.feretMaxNm = feretMaxNm
        self.circularity = circularity
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

    /// A calibrated particle of square pixels from its nm values: the pixel lengths are the nm
    /// lengths over the pixel side that `areaNm2 / areaPx` implies.
    public init(areaPx: Int, areaNm2: Double, equivalentDiameterNm: Double, perimeterNm: Double, circularity: Double,
                feretMinNm: Double, feretMaxNm: Double, aspectRatio: Double, convexity: Double, solidity: Double,
                centroidXPx: Double, centroidYPx: Double, box: BoundingBox, separated: Bool = false, overlapFlag: Bool = false,
                confidence: Double? = nil) {
        let sideNm = areaPx > 0 && areaNm2 > 0 ? (areaNm2 / Double(areaPx)).squareRoot() : 1
        self.init(areaPx: areaPx, equivalentDiameterPx: (4 * Double(areaPx) / Double.pi).squareRoot(), perimeterPx: perimeterNm / sideNm,
                  feretMinPx: feretMinNm / sideNm, feretMaxPx: feretMaxNm / sideNm, areaNm2: areaNm2, equivalentDiameterNm: equivalentDiameterNm,
                  perimeterNm: perimeterNm, feretMinNm: feretMinNm, feretMaxNm: feretMaxNm, circularity: circularity, aspectRatio: aspectRatio,
                  convexity: convexity, solidity: solidity, centroidXPx: centroidXPx, centroidYPx: centroidYPx, box: box,
                  separated: separated, overlapFlag: overlapFlag, confidence: confidence)
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
    /// Measures the region: in pixels, and in nm with a pixel size (nil: no calibration, the
    /// nm values stay nil).
    public func measure(pixelSize: PixelSizeNm?) -> ParticleMeasurement {
        let shape = Shape(self)
        let outline = Geometry.outlinePoints(self, corners: true)
        let feretPx = Geometry.feret(Geometry.convexHull(outline))
        let areaPx = Double(area)
        var areaNm2: Double? = nil, perimeterNm: Double? = nil, feretNm: (min: Double, max: Double)? = nil
        if let pixelSize {
            let px = pixelSize.x, py = pixelSize.y
            areaNm2 = areaPx * px * py
            if pixelSize.isSquare {
                perimeterNm = shape.perimeterPx * px
                feretNm = (feretPx.min * px, feretPx.max * px)
            } else {
                perimeterNm = Region.physicalPerimeter(Boundary.trace(mask(pad: 0)), px: px, py: py)
                let f = Geometry.feret(Geometry.convexHull(outline.map { Point(x: $0.x * px, y: $0.y * py) }))
                feretNm = (f.min, f.max)
            }
        }
        var sx = 0.0, sy = 0.0
        for p in pixels { sx += Double(p.col); sy += Double(p.row) }
        // shape factors from the physical lengths where there are some
        let (a, perimeter, fMin, fMax) = (areaNm2 ?? areaPx, perimeterNm ?? shape.perimeterPx, feretNm?.min ?? feretPx.min, feretNm?.max ?? feretPx.max)
        return ParticleMeasurement(
            areaPx: area, equivalentDiameterPx: (4 * areaPx / Double.pi).squareRoot(), perimeterPx: shape.perimeterPx,
            feretMinPx: feretPx.min, feretMaxPx: feretPx.max,
            areaNm2: areaNm2, equivalentDiameterNm: areaNm2.map { (4 * $0 / Double.pi).squareRoot() }, perimeterNm: perimeterNm,
            feretMinNm: feretNm?.min, feretMaxNm: feretNm?.max,
            circularity: perimeter > 0 ? 4 * Double.pi * a / (perimeter * perimeter) : 0,
            aspectRatio: fMin > 0 ? fMax / fMin : 0,
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
