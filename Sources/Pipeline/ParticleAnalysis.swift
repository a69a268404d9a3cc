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
        var unseparated = cleaned
        var flaggedPixels = Set<Pixel>()
        var separated: [Region] = []
        for region in cleaned.regions() {
            let shape = Shape(region)
            guard shape.convexity <= p.convexityThreshold else { continue }
            switch p.overlap {
            case .flag:
                flaggedPixels.insert(region.pixels[0])
            case .separate:
                for px in region.pixels { unseparated[px.row, px.col] = false }
                separated += UECS.separate(region, markerMinimumPixels: max(minPixels, p.markerMinimumPixels), parameters: p)
            case .watershed:
                for px in region.pixels { unseparated[px.row, px.col] = false }
                separated += Watershed.separate(region, minimumPixels: minPixels)
            }
        }
        var particles: [ParticleMeasurement] = []
        var regions: [Region] = []
        var border: [Region] = []
        /// The reference's clean-up of one layer: clear the border, despeckle, fill holes.
        func finish(_ layer: BinaryImage, separated: Bool) {
            let objects = layer.regions(.eight)
            if p.clearBorder {
                border += objects.filter { $0.box.minRow == 0 || $0.box.minCol == 0 || $0.box.maxRow == layer.height - 1 || $0.box.maxCol == layer.width - 1 }
            }
            var image = p.clearBorder ? layer.borderCleared() : layer
            image = image.smallObjectsRemoved(minimumPixels: minPixels)
            if p.fillHoles { image = image.holesFilled() }
            for r in image.regions(.eight) {
                var m = r.measure(pixelSize: pixelSize)
                m.separated = separated
                m.overlapFlag = r.pixels.contains { flaggedPixels.contains($0) }
                particles.append(m)
                regions.append(r)
            }
        }
        finish(unseparated, separated: false)
        for r in separated {
            // each separated particle is its own layer, so shared pixels stay with both
            finish(BinaryImage(width: mask.width, height: mask.height, regions: [r]), separated: true)
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
