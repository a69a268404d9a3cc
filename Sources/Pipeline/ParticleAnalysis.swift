import GatanDM

/// How non-convex objects (likely overlapping particles) are handled.
public enum OverlapMode: String, Sendable, Codable, CaseIterable {
    /// Split by ultimate erosion of convex shapes (UECS), the reference's default.
    case separate
    /// Keep non-convex objects whole and mark them (`overlapFlag`).
    case flag
    /// Distance-transform watershed, as ImageJ users know it.
    case watershed
}

/// Every parameter of the post-processing, with defaults equal to the reference program's
/// (ANTEMA v1.0).
public struct AnalysisParameters: Sendable, Equatable, Codable {
    /// Objects with an equivalent diameter below this are specks and are removed (nm). Default 0.5.
    public var minimumDiameterNm: Double = 0.5
    /// Objects with convexity at or below this go to separation (or are flagged). Default 0.95.
    public var convexityThreshold: Double = 0.95
    /// Pieces with solidity below this keep eroding during separation. Default 0.95.
    public var solidityThreshold: Double = 0.95
    /// A separation marker must have more pixels than `max(minimum-diameter area, this)`. Default 30.
    public var markerMinimumPixels: Int = 30
    /// Regrowth stops (on even steps) when the newly added in-object pixels are less than this
    /// fraction of the dilation ring. Default 0.25.
    public var regrowthStopFraction: Double = 0.25
    /// Overlap handling. Default `separate`.
    public var overlap: OverlapMode = .separate
    /// Remove objects touching the image border. Default true.
    public var clearBorder: Bool = true
    /// Fill holes in objects (the reference fills all holes, whatever their size). Default true.
    public var fillHoles: Bool = true

    public init() {}

    /// Pixels of an object whose equivalent diameter is `minimumDiameterNm`:
    /// `ceil(pi/4 * (d / pixelSize)^2)` (48 px at 0.06398699 nm/px).
    public func minimumPixels(pixelSizeNm: Double) -> Int {
        Int((Double.pi / 4 * (minimumDiameterNm / pixelSizeNm) * (minimumDiameterNm / pixelSizeNm)).rounded(.up))
    }
}

/// The result of analysing one segmentation.
public struct ParticleAnalysisResult: Sendable {
    public var particles: [ParticleMeasurement]
    /// Regions of the particles, same order (for pictures and overlays).
    public var regions: [Region]
    /// Objects removed because they touched the border.
    public var borderRegions: [Region]
    public var parameters: AnalysisParameters
}

public enum ParticleAnalysis {
    /// Clean-up, overlap handling and measurement of a binary segmentation, in the reference's
    /// order: despeckle; split (or flag) non-convex objects; clear the border; despeckle again;
    /// fill holes; measure. Output order: unseparated particles in column-major label order,
    /// then separated particles in the order of their markers.
    public static func analyze(_ mask: BinaryImage, pixelSize: PixelSizeNm, parameters p: AnalysisParameters = AnalysisParameters()) -> ParticleAnalysisResult {
        let pixelNm = (pixelSize.x * pixelSize.y).squareRoot()
        let minPixels = p.minimumPixels(pixelSizeNm: pixelNm)
        let cleaned = mask.smallObjectsRemoved(minimumPixels: minPixels)
        var whole: [Region] = []
        var flagged = Set<Int>()
        var separated: [Region] = []
        for region in cleaned.regions() {
            let shape = Shape(region)
            if shape.convexity > p.convexityThreshold {
                whole.append(region)
                continue
            }
            switch p.overlap {
            case .flag:
                flagged.insert(whole.count)
                whole.append(region)
            case .separate:
                separated += UECS.separate(region, markerMinimumPixels: max(minPixels, p.markerMinimumPixels), parameters: p)
            case .watershed:
                separated += Watershed.separate(region, minimumPixels: minPixels)
            }
        }
        // Border clearing, despeckling and hole filling act on each particle's own pixels, so
        // separated particles keep the pixels they share with their neighbours.
        func touchesBorder(_ r: Region) -> Bool {
            r.box.minRow == 0 || r.box.minCol == 0 || r.box.maxRow == mask.height - 1 || r.box.maxCol == mask.width - 1
        }
        var particles: [ParticleMeasurement] = []
        var regions: [Region] = []
        var border: [Region] = []
        for (i, r0) in whole.enumerated() {
            if p.clearBorder && touchesBorder(r0) { border.append(r0); continue }
            guard r0.area >= minPixels else { continue }
            let r = p.fillHoles ? r0.holesFilled() : r0
            var m = r.measure(pixelSize: pixelSize)
            m.overlapFlag = flagged.contains(i)
            particles.append(m); regions.append(r)
        }
        for r0 in separated {
            if p.clearBorder && touchesBorder(r0) { border.append(r0); continue }
            guard r0.area >= minPixels else { continue }
            let r = p.fillHoles ? r0.holesFilled() : r0
            var m = r.measure(pixelSize: pixelSize)
            m.separated = true
            particles.append(m); regions.append(r)
        }
        return ParticleAnalysisResult(particles: particles, regions: regions, borderRegions: border, parameters: p)
    }
}

extension Region {
    /// The region with its holes filled.
    func holesFilled() -> Region {
        let filled = mask(pad: 1).holesFilled()
        var pixels: [Pixel] = []
        pixels.reserveCapacity(area)
        for r in 0..<filled.height { for c in 0..<filled.width where filled[r, c] { pixels.append(Pixel(r + box.minRow - 1, c + box.minCol - 1)) } }
        return Region(pixels: pixels)
    }
}
