/// One value of a particle's row.
public enum ParticleValue: Sendable, Equatable {
    case integer(Int)
    case real(Double)
    case flag(Bool)
    /// No value (a particle of a segmenter without confidence).
    case missing

    public var double: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .real(let v): v
        case .flag(let v): v ? 1 : 0
        case .missing: nil
        }
    }
}

/// One column of a particle's row, wherever particle rows go: the database's `particle` table,
/// the particle CSV (header = `column`), the workbook's Particles sheet (header = `header`).
public struct ParticleColumn: Sendable {
    /// Database column and CSV header: snake_case with the unit in the name.
    public let column: String
    /// Workbook header, with the unit in brackets.
    public let header: String
    /// Decimal places shown in the workbook (0 for counts, indices and flags).
    public let decimals: Int
    /// Summarised per sample (n, mean, sd, percentiles in `sample_aggregate`).
    public let summarised: Bool
    /// What it is, in one line (the docs' column table).
    public let doc: String
    /// The `ParticleMeasurement` property it comes from (the four box columns share `box`).
    public let property: String
    let get: @Sendable (ParticleMeasurement) -> ParticleValue

    public func value(_ m: ParticleMeasurement) -> ParticleValue { get(m) }
}

/// The measurements of a particle, written once: every consumer of particle rows (the store's
/// INSERT and SELECT, the CSV files, the workbook, the per-sample statistics) takes its columns
/// from `particleColumns`, and `measurement(from:)` reads a row back. A measurement added to
/// `ParticleMeasurement` gets a descriptor here and a database column through a new migration;
/// `CatalogTests` and the store's `catalogMatchesTheParticleTable` fail until both exist.
///
/// Coordinates: x = column, y = row, 0-based from the top-left pixel's centre; bounding boxes
/// start at their first pixel, width and height in pixels.
public enum MeasurementCatalog {
    public static let particleColumns: [ParticleColumn] = [
        ParticleColumn(column: "area_nm2", header: "Area [nm²]", decimals: 3, summarised: true,
                       doc: "pixel count x pixel area; empty without a calibration", property: "areaNm2", get: { real($0.areaNm2) }),
        ParticleColumn(column: "equivalent_diameter_nm", header: "Equivalent diameter [nm]", decimals: 3, summarised: true,
                       doc: "diameter of the disc of the same area, sqrt(4 area / pi); empty without a calibration",
                       property: "equivalentDiameterNm", get: { real($0.equivalentDiameterNm) }),
        ParticleColumn(column: "perimeter_nm", header: "Perimeter [nm]", decimals: 3, summarised: true,
                       doc: "outer 8-connected boundary, regionprops weights (0.980 straight, 1.406 diagonal, -0.091 per corner); empty without a calibration",
                       property: "perimeterNm", get: { real($0.perimeterNm) }),
        ParticleColumn(column: "circularity", header: "Circularity [-]", decimals: 4, summarised: true,
                       doc: "4 pi area / perimeter², uncorrected", property: "circularity", get: { .real($0.circularity) }),
        ParticleColumn(column: "feret_min_nm", header: "Min. Feret diameter [nm]", decimals: 3, summarised: true,
                       doc: "smallest caliper width of the convex hull of the pixel corners; empty without a calibration",
                       property: "feretMinNm", get: { real($0.feretMinNm) }),
        ParticleColumn(column: "feret_max_nm", header: "Max. Feret diameter [nm]", decimals: 3, summarised: true,
                       doc: "largest distance between pixel corners; empty without a calibration", property: "feretMaxNm", get: { real($0.feretMaxNm) }),
        ParticleColumn(column: "aspect_ratio", header: "Aspect ratio [-]", decimals: 4, summarised: true,
                       doc: "max. Feret / min. Feret", property: "aspectRatio", get: { .real($0.aspectRatio) }),
        ParticleColumn(column: "convexity", header: "Convexity [-]", decimals: 4, summarised: true,
                       doc: "perimeter of the convex image / perimeter", property: "convexity", get: { .real($0.convexity) }),
        ParticleColumn(column: "solidity", header: "Solidity [-]", decimals: 4, summarised: true,
                       doc: "area / convex area", property: "solidity", get: { .real($0.solidity) }),
        ParticleColumn(column: "area_px", header: "Area [px]", decimals: 0, summarised: false,
                       doc: "pixel count", property: "areaPx", get: { .integer($0.areaPx) }),
        ParticleColumn(column: "equivalent_diameter_px", header: "Equivalent diameter [px]", decimals: 3, summarised: true,
                       doc: "the equivalent diameter in pixels (the size of a particle of an image without a calibration)",
                       property: "equivalentDiameterPx", get: { .real($0.equivalentDiameterPx) }),
        ParticleColumn(column: "perimeter_px", header: "Perimeter [px]", decimals: 3, summarised: true,
                       doc: "the perimeter in pixels", property: "perimeterPx", get: { .real($0.perimeterPx) }),
        ParticleColumn(column: "feret_min_px", header: "Min. Feret diameter [px]", decimals: 3, summarised: true,
                       doc: "the min. Feret diameter in pixels", property: "feretMinPx", get: { .real($0.feretMinPx) }),
        ParticleColumn(column: "feret_max_px", header: "Max. Feret diameter [px]", decimals: 3, summarised: true,
                       doc: "the max. Feret diameter in pixels", property: "feretMaxPx", get: { .real($0.feretMaxPx) }),
        ParticleColumn(column: "centroid_x_px", header: "Centroid x [px]", decimals: 2, summarised: false,
                       doc: "mean column, 0-based", property: "centroidXPx", get: { .real($0.centroidXPx) }),
        ParticleColumn(column: "centroid_y_px", header: "Centroid y [px]", decimals: 2, summarised: false,
                       doc: "mean row, 0-based", property: "centroidYPx", get: { .real($0.centroidYPx) }),
        ParticleColumn(column: "bbox_x_px", header: "Bounding box x [px]", decimals: 0, summarised: false,
                       doc: "first column", property: "box", get: { .integer($0.box.minCol) }),
        ParticleColumn(column: "bbox_y_px", header: "Bounding box y [px]", decimals: 0, summarised: false,
                       doc: "first row", property: "box", get: { .integer($0.box.minRow) }),
        ParticleColumn(column: "bbox_width_px", header: "Bounding box width [px]", decimals: 0, summarised: false,
                       doc: "columns", property: "box", get: { .integer($0.box.width) }),
        ParticleColumn(column: "bbox_height_px", header: "Bounding box height [px]", decimals: 0, summarised: false,
                       doc: "rows", property: "box", get: { .integer($0.box.height) }),
        ParticleColumn(column: "separated", header: "Separated (1 = yes)", decimals: 0, summarised: false,
                       doc: "came out of overlap separation", property: "separated", get: { .flag($0.separated) }),
        ParticleColumn(column: "overlap_flag", header: "Overlap kept whole (1 = yes)", decimals: 0, summarised: false,
                       doc: "non-convex, kept whole (overlap mode flag)", property: "overlapFlag", get: { .flag($0.overlapFlag) }),
        ParticleColumn(column: "confidence", header: "Confidence (mean network probability)", decimals: 3, summarised: false,
                       doc: "the network's mean particle probability over the particle; empty for the classical segmenter and masks",
                       property: "confidence", get: { $0.confidence.map { .real($0) } ?? .missing }),
    ]

    /// A length or area that is nil without a calibration: `.missing` then.
    static func real(_ v: Double?) -> ParticleValue { v.map { .real($0) } ?? .missing }

    /// The measurements summarised per sample, in catalog order.
    public static let summarised: [ParticleColumn] = particleColumns.filter(\.summarised)

    /// The column called `name`.
    public static func column(_ name: String) -> ParticleColumn? { particleColumns.first { $0.column == name } }

    /// A particle's values, in catalog order.
    public static func values(_ m: ParticleMeasurement) -> [ParticleValue] { particleColumns.map { $0.get(m) } }

    /// A row that lacks a column or holds a value of the wrong kind.
    public struct RowError: Error, CustomStringConvertible, Sendable {
        public let column: String
        public let found: ParticleValue?
        public var description: String { "particle row: column \(column) " + (found.map { "holds \($0)" } ?? "is missing") }
    }

    /// The measurement of a row given by `value(column)` (the store's SELECT, a CSV read back).
    public static func measurement(from value: (String) -> ParticleValue?) throws -> ParticleMeasurement {
        func real(_ c: String) throws -> Double {
            switch value(c) {
            case .real(let v): return v
            case .integer(let v): return Double(v)
            case let other: throw RowError(column: c, found: other)
            }
        }
        func integer(_ c: String) throws -> Int {
            guard case .integer(let v) = value(c) else { throw RowError(column: c, found: value(c)) }
            return v
        }
        func flag(_ c: String) throws -> Bool {
            switch value(c) {
            case .flag(let v): return v
            case .integer(let v) where v == 0 || v == 1: return v == 1
            case let other: throw RowError(column: c, found: other)
            }
        }
        func optionalReal(_ c: String) throws -> Double? {
            if case .missing = value(c) { return nil }
            return try real(c)
        }
        let x = try integer("bbox_x_px"), y = try integer("bbox_y_px"), w = try integer("bbox_width_px"), h = try integer("bbox_height_px")
        let confidence: Double?
        switch value("confidence") {
        case .missing: confidence = nil
        case nil: throw RowError(column: "confidence", found: nil)
        default: confidence = try real("confidence")
        }
        return ParticleMeasurement(
            areaPx: try integer("area_px"), equivalentDiameterPx: try real("equivalent_diameter_px"), perimeterPx: try real("perimeter_px"),
            feretMinPx: try real("feret_min_px"), feretMaxPx: try real("feret_max_px"),
            areaNm2: try optionalReal("area_nm2"), equivalentDiameterNm: try optionalReal("equivalent_diameter_nm"),
            perimeterNm: try optionalReal("perimeter_nm"), feretMinNm: try optionalReal("feret_min_nm"), feretMaxNm: try optionalReal("feret_max_nm"),
            circularity: try real("circularity"), aspectRatio: try real("aspect_ratio"), convexity: try real("convexity"),
            solidity: try real("solidity"), centroidXPx: try real("centroid_x_px"), centroidYPx: try real("centroid_y_px"),
            box: BoundingBox(minRow: y, minCol: x, maxRow: y + h - 1, maxCol: x + w - 1),
            separated: try flag("separated"), overlapFlag: try flag("overlap_flag"), confidence: confidence)
    }
}
