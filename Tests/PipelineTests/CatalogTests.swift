import Testing
@testable import Pipeline

@Suite struct MeasurementCatalogTests {
    static let sample = ParticleMeasurement(
        areaPx: 37, areaNm2: 1.25, equivalentDiameterNm: 1.2616, perimeterNm: 4.1, circularity: 0.93, feretMinNm: 1.1, feretMaxNm: 1.4,
        aspectRatio: 1.2727, convexity: 0.97, solidity: 0.95, centroidXPx: 12.5, centroidYPx: 40.25,
        box: BoundingBox(minRow: 37, minCol: 9, maxRow: 43, maxCol: 16), separated: true, overlapFlag: false, confidence: 0.81)

    @Test("every stored property of ParticleMeasurement has a catalog entry, and every entry names one")
    func everyPropertyHasADescriptor() {
        let properties = Set(Mirror(reflecting: Self.sample).children.compactMap(\.label))
        let described = Set(MeasurementCatalog.particleColumns.map(\.property))
        #expect(properties == described, "without a column: \(properties.subtracting(described)); unknown: \(described.subtracting(properties))")
    }

    @Test("column names are unique snake_case with the unit in the name, headers unique")
    func columnNames() {
        let columns = MeasurementCatalog.particleColumns.map(\.column)
        #expect(Set(columns).count == columns.count)
        #expect(Set(MeasurementCatalog.particleColumns.map(\.header)).count == columns.count)
        for c in columns { #expect(c.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(c)") }
        for c in MeasurementCatalog.particleColumns where c.header.contains("[nm") { #expect(c.column.hasSuffix("_nm") || c.column.hasSuffix("_nm2"), "\(c.column)") }
        for c in MeasurementCatalog.particleColumns where c.header.contains("[px]") { #expect(c.column.hasSuffix("_px"), "\(c.column)") }
    }

    @Test("a particle's values read back give the same particle, with and without confidence")
    func roundTrip() throws {
        for m in [Self.sample, { var m = Self.sample; m.confidence = nil; m.separated = false; m.overlapFlag = true; return m }()] {
            let values = Dictionary(uniqueKeysWithValues: zip(MeasurementCatalog.particleColumns.map(\.column), MeasurementCatalog.values(m)))
            #expect(try MeasurementCatalog.measurement { values[$0] } == m)
        }
    }

    @Test("a row without a column is refused, naming the column")
    func missingColumn() {
        let values = Dictionary(uniqueKeysWithValues: zip(MeasurementCatalog.particleColumns.map(\.column), MeasurementCatalog.values(Self.sample)))
        #expect(throws: MeasurementCatalog.RowError.self) { try MeasurementCatalog.measurement { $0 == "solidity" ? nil : values[$0] } }
    }

    @Test("the per-sample statistics are the nine size and shape measurements of ANTEMA, then the four lengths in pixels")
    func summarised() {
        #expect(MeasurementCatalog.summarised.map(\.column) == ["area_nm2", "equivalent_diameter_nm", "perimeter_nm", "circularity", "feret_min_nm",
                                                                "feret_max_nm", "aspect_ratio", "convexity", "solidity", "equivalent_diameter_px",
                                                                "perimeter_px", "feret_min_px", "feret_max_px"])
    }
}
