@_exported import Units

/// How non-convex objects (likely overlapping particles) are handled.
public enum OverlapMode: String, Sendable, Codable, CaseIterable {
    /// Split by ultimate erosion of convex shapes (UECS), the reference's default.
    case separate
    /// Keep non-convex objects whole and mark them (`overlapFlag`).
    case flag
    /// Distance-transform watershed, as ImageJ users know it.
    case watershed
    /// Seeded from an instance-aware network's distance map (`MarkerSeparation`); an object the
    /// map leaves whole and that is non-convex goes through UECS, as in `separate`, and what is
    /// still whole is cut at a waist between two concavities (`NeckCut`); without a distance map
    /// (classical segmenter, masks, single-output models) UECS, as `separate`.
    case network
}

/// Every parameter of the post-processing, with defaults equal to the reference program's
/// (ANTEMA v1.0).
public struct AnalysisParameters: Sendable, Equatable, Codable {
    /// Objects with an equivalent diameter below this are specks and are removed (nm). Default 0.5.
    public var minimumDiameterNm: Double = 0.5
    /// The same in pixels, for frames without a calibration. Default 2 (objects of 3 px or
    /// fewer are specks).
    public var minimumDiameterPx: Double = 2
    /// Objects with convexity at or below this go to separation (or are flagged). Default 0.95.
    public var convexityThreshold: Double = 0.95
    /// Pieces with solidity below this keep eroding during separation. Default 0.95.
    public var solidityThreshold: Double = 0.95
    /// A separation marker must have more pixels than `max(minimum-diameter area, this)`. Default 30.
    public var markerMinimumPixels: Int = 30
    /// Regrowth stops (on even steps) when the newly added in-object pixels are less than this
    /// fraction of the dilation ring. Default 0.25.
    public var regrowthStopFraction: Double = 0.25
    /// The `network` separation (`MarkerSeparation`): the network's distance map is smoothed by
    /// a Gaussian of this many pixels before its summits are sought. Default 1.5.
    public var markerSmoothingPx: Double = MarkerSeparation.smoothingSigmaPx
    /// The `network` separation: a summit of the smoothed distance map seeds a particle when it
    /// stands at least this much (of the map's 0-1 range) above the pass to a higher summit.
    /// Default 0.2. Both chosen on every third EMPS validation image (training/README.md).
    public var markerPeakHeight: Double = MarkerSeparation.peakHeight
    /// The `network` overlap mode: an object that neither the distance map nor UECS split is cut
    /// where its outline narrows to a waist between two concavities (`NeckCut`). Default true.
    public var neckCut: Bool = true
    /// Overlap handling. Default `separate`.
    public var overlap: OverlapMode = .separate
    /// Remove objects touching the image border. Default true.
    public var clearBorder: Bool = true
    /// Fill holes in objects (the reference fills all holes, whatever their size). Default true.
    public var fillHoles: Bool = true
    /// Particles of a network whose confidence (mean particle probability) is below this are
    /// dropped. Default nil: the model's own `minimumConfidence` (chosen on its validation
    /// images), 0 for models without one.
    public var minimumConfidence: Double? = nil
    /// Debris relative to the frame's particles: a network's particle smaller than this fraction
    /// of the frame's median particle area whose confidence is below `relativeSpeckConfidence`
    /// is dropped (after the minimum confidence; frames with fewer than
    /// `relativeSpeckMinimumParticles` particles are left as they are). The median is taken
    /// over the particles of at least that confidence where there are that many, else over all.
    /// A tenth of the area is about a third of the typical particle's diameter. 0 turns it off.
    /// Default 0.1, chosen on every third EMPS validation image (training/README.md, "Debris
    /// beside the particles").
    public var relativeSpeckArea: Double = 0.1
    /// A small particle the network is this sure of stays, however small. Default 0.85.
    public var relativeSpeckConfidence: Double = 0.85
    /// The fewest particles a frame needs for its median area to judge debris by. Default 5.
    public var relativeSpeckMinimumParticles: Int = 5

    public init() {}

    /// Which of a frame's particles (their areas in pixels and confidences, same order) stay
    /// under the relative-speck rule (`relativeSpeckArea`): all of them when the rule is off or
    /// the frame has too few particles to judge by.
    public func keptBesideTheFrame(areasPx: [Int], confidences: [Double]) -> [Bool] {
        precondition(areasPx.count == confidences.count)
        guard relativeSpeckArea > 0, areasPx.count >= max(1, relativeSpeckMinimumParticles) else { return areasPx.map { _ in true } }
        // the typical particle among those the network is sure of, where there are enough of
        // them: where flecks outnumber the particles (a few large particles on a dirty film),
        // the median of all would be a fleck's
        let sure = zip(areasPx, confidences).filter { $0.1 >= relativeSpeckConfidence }.map(\.0)
        let basis = sure.count >= relativeSpeckMinimumParticles ? sure : areasPx
        let median = Summary.percentile(sorted: basis.map(Double.init).sorted(), 0.5)!
        return zip(areasPx, confidences).map { area, confidence in
            Double(area) >= relativeSpeckArea * median || confidence >= relativeSpeckConfidence
        }
    }

    /// Pixels of an object whose equivalent diameter is `minimumDiameterNm`:
    /// `ceil(pi/4 * (d / pixelSize)^2)` (48 px at 0.06398699 nm/px); without a pixel size,
    /// of one whose diameter is `minimumDiameterPx` (4 px for 2 px).
    public func minimumPixels(pixelSizeNm: Double?) -> Int {
        let d = pixelSizeNm.map { minimumDiameterNm / $0 } ?? minimumDiameterPx
        return Int((Double.pi / 4 * d * d).rounded(.up))
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
    /// Particles of a network dropped for their confidence (below the minimum, or small against
    /// the frame's particles and unsure: `AnalysisParameters.relativeSpeckArea`), for the
    /// pictures: a reader sees what was left out and why.
    public var droppedRegions: [Region] = []
}

public enum ParticleAnalysis {
    /// Clean-up, overlap handling and measurement of a binary segmentation, in the reference's
    /// order: despeckle; split (or flag) non-convex objects; clear the border; despeckle again;
    /// fill holes; measure. Output order: unseparated particles in column-major label order,
    /// then separated particles in the order of their markers.
    ///
    /// `distance`: an instance-aware network's distance map (row-major, the mask's size), used
    /// by the `network` overlap mode. In the `watershed` and `network` modes holes are filled
    /// before separation, so that a particle with a hole (porous, core-shell, a bright centre)
    /// is not cut around it; UECS keeps the reference's order.
    /// `pixelSize` nil: the frame has no calibration; particles are measured in pixels only.
    /// `frame`: the part of the image that holds the micrograph (nil: all of it); where a data
    /// bar or an excluded band across the image ends it, an object touching that edge is cut by
    /// it and cleared with the border's.
    public static func analyze(_ mask: BinaryImage, pixelSize: PixelSizeNm?, parameters p: AnalysisParameters = AnalysisParameters(),
                               distance: [Float]? = nil, frame: BoundingBox? = nil) -> ParticleAnalysisResult {
        let frame = frame ?? BoundingBox(minRow: 0, minCol: 0, maxRow: mask.height - 1, maxCol: mask.width - 1)
        func touchesBorder(_ r: Region) -> Bool { r.box.reachesEdge(of: frame) }
        let minPixels = p.minimumPixels(pixelSizeNm: pixelSize?.geometricMeanNm)
        let mode: OverlapMode = p.overlap == .network && distance?.count != mask.width * mask.height ? .separate : p.overlap
        // Despeckle: the objects of the mask, without those below the minimum size.
        var objects = mask.regions(.eight).filter { $0.area >= minPixels }
        if mode == .watershed || mode == .network { objects = Region.holesFilled(objects, width: mask.width, height: mask.height) }
        var unseparated: [Region] = []
        var flagged = BinaryImage(width: mask.width, height: mask.height)
        // a split counts when it leaves two particles of at least the minimum size; otherwise the
        // object stays whole (a speck cut off is not a second particle)
        @Sendable func splits(_ pieces: [Region]) -> Bool { pieces.filter { $0.area >= minPixels }.count >= 2 }
        var separated: [Region] = []
        switch mode {
        case .watershed:
            // as ImageJ does: every object is offered to the watershed
            for (region, pieces) in zip(objects, objects.parallelMap { Watershed.separate($0, minimumPixels: minPixels) }) {
                if splits(pieces) { separated += pieces } else { unseparated.append(region) }
            }
        case .network:
            let distance = distance!
            // an object the map leaves whole that is non-convex (as `separate` tests it) goes
            // through UECS, the reference's separation: the map shows one core where two
            // particles overlap heavily or are small (training/README.md, "UECS where the
            // network sees one core"). Only a split into two particles or more is taken: what
            // UECS cannot make convex stays whole (in `separate` it is dropped, as ANTEMA does).
            // What is still whole, convex or not, is cut where its outline has a waist between
            // two concavities (`NeckCut`; training/README.md, "Cut at the neck")
            let markerMin = max(minPixels, p.markerMinimumPixels)
            let pieceLists = objects.parallelMap { object -> [Region]? in
                let pieces = MarkerSeparation.separate(object, distance: distance, imageWidth: mask.width, imageHeight: mask.height,
                                                       sigmaPx: p.markerSmoothingPx,
                                                       markers: .peaks(height: Float(p.markerPeakHeight), floor: MarkerSeparation.peakFloor))
                if splits(pieces) { return pieces }
                if Shape(object).convexity <= p.convexityThreshold {
                    let uecs = UECS.separate(object, markerMinimumPixels: markerMin, parameters: p)
                    if splits(uecs) { return uecs }
                }
                if p.neckCut {
                    let neck = NeckCut.separate(object, minimumPixels: minPixels)
                    if splits(neck) { return neck }
                }
                return nil
            }
            for (region, pieces) in zip(objects, pieceLists) {
                if let pieces { separated += pieces } else { unseparated.append(region) }
            }
        case .flag, .separate:
            var nonConvex: [Region] = []
            let convex = objects.parallelMap { Shape($0).convexity > p.convexityThreshold }
            for (region, isConvex) in zip(objects, convex) {
                if isConvex {
                    unseparated.append(region)
                } else if p.overlap == .flag {
                    unseparated.append(region)
                    for px in region.pixels { flagged[px.row, px.col] = true }
                } else {
                    nonConvex.append(region)
                }
            }
            let markerMin = max(minPixels, p.markerMinimumPixels)
            separated = nonConvex.parallelMap { UECS.separate($0, markerMinimumPixels: markerMin, parameters: p) }.flatMap { $0 }
        }
        var particles: [ParticleMeasurement] = []
        var regions: [Region] = []
        var border: [Region] = []
        // The unseparated layer: clear the border, despeckle, fill holes (whole-image semantics:
        // an object lying in another's hole merges with it).
        var kept: [Region] = []
        for r in unseparated {
            if p.clearBorder && touchesBorder(r) {
                border.append(r)
            } else {
                kept.append(r)
            }
        }
        if p.fillHoles { kept = Region.holesFilled(kept, width: mask.width, height: mask.height) }
        for (r, measured) in zip(kept, kept.parallelMap { $0.measure(pixelSize: pixelSize) }) {
            var m = measured
            m.overlapFlag = flagged[r.pixels[0].row, r.pixels[0].col]
            particles.append(m)
            regions.append(r)
        }
        for r in separated {
            // Each separated particle is its own layer (so shared pixels stay with both); the
            // layer's clean-up is local to the particle, so it runs on the particle's crop.
            if p.clearBorder && touchesBorder(r) {
                border.append(r)
                continue
            }
            let crop = r.mask(pad: 1)
            var image = crop.smallObjectsRemoved(minimumPixels: minPixels)
            if p.fillHoles { image = image.holesFilled() }
            for piece in image.regions(.eight) {
                let part = Region(pixels: piece.pixels.map { Pixel($0.row + r.box.minRow - 1, $0.col + r.box.minCol - 1) })
                var m = part.measure(pixelSize: pixelSize)
                m.separated = true
                particles.append(m)
                regions.append(part)
            }
        }
        return ParticleAnalysisResult(particles: particles, regions: regions, borderRegions: border, parameters: p)
    }
}

extension Region {
    /// Fills the holes of every region, as filling the holes of the image holding them all
    /// would: when a filled hole holds another region, the two merge, and the image is
    /// relabelled. Regions keep their order otherwise.
    static func holesFilled(_ regions: [Region], width: Int, height: Int) -> [Region] {
        let filled = regions.map { $0.holesFilled() }
        var painted = BinaryImage(width: width, height: height)
        for r in filled {
            for p in r.pixels {
                if painted[p.row, p.col] {
                    // a region lies in another's hole: fall back to the whole image
                    return BinaryImage(width: width, height: height, regions: regions).holesFilled().regions(.eight)
                }
                painted[p.row, p.col] = true
            }
        }
        return filled
    }

    /// The region with its holes filled.
    func holesFilled() -> Region {
        let filled = mask(pad: 1).holesFilled()
        var pixels: [Pixel] = []
        pixels.reserveCapacity(area)
        for r in 0..<filled.height { for c in 0..<filled.width where filled[r, c] { pixels.append(Pixel(r + box.minRow - 1, c + box.minCol - 1)) } }
        return Region(pixels: pixels)
    }
}
