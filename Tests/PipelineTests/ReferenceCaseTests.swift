import Foundation
import ImageFiles
import Testing
@testable import Pipeline

enum ReferenceCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/data/antema-reference")
    static var available: Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent("antema-v1.0-Sheet1.csv").path) }
    static let skip: Comment = "../shared/data/antema-reference is absent: skipping the reference case"
    /// The reference program's pixel size (README of the reference folder).
    static let pixelSizeNm = 0.06398699

    struct Row {
        var area, eqd, feretMin, feretMax, circularity, perimeter: Double
        var xmin, ymin, xwidth, ywidth: Double
        var separationFlag: Int
    }

    static func rows() throws -> [Row] {
        let text = try String(contentsOf: folder.appendingPathComponent("antema-v1.0-Sheet1.csv"), encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).dropFirst().map { line in
            let v = line.split(separator: ",").map { Double($0)! }
            return Row(area: v[0], eqd: v[1], feretMin: v[2], feretMax: v[3], circularity: v[4], perimeter: v[5],
                       xmin: v[6], ymin: v[7], xwidth: v[8], ywidth: v[9], separationFlag: Int(v[10]))
        }
    }

    static func mask() throws -> BinaryImage {
        let raster = try PNGFile.read(path: folder.appendingPathComponent("network-mask.png").path)
        return BinaryImage(width: raster.width, height: raster.height, pixels: raster.pixels.map { $0 > 0 })
    }
}

@Suite(.enabled(if: ReferenceCase.available, ReferenceCase.skip))
struct ReferenceProgramIsReproduced {
    @Test("the reference mask gives the reference's 263 particles, each measured within 1e-4")
    func reproducesSheet1() throws {
        let refs = try ReferenceCase.rows()
        let result = ParticleAnalysis.analyze(try ReferenceCase.mask(), pixelSize: PixelSizeNm(y: ReferenceCase.pixelSizeNm, x: ReferenceCase.pixelSizeNm))
        var unmatched: [Int] = []
        var worst: [String: Double] = [:]
        var used = Set<Int>()
        for (i, ref) in refs.enumerated() {
            let match = result.particles.indices.first { j in
                let m = result.particles[j]
                return !used.contains(j) && Double(m.box.minCol) + 0.5 == ref.xmin && Double(m.box.minRow) + 0.5 == ref.ymin
                    && Double(m.box.width) == ref.xwidth && Double(m.box.height) == ref.ywidth
            }
            guard let j = match else { unmatched.append(i); continue }
            used.insert(j)
            let m = result.particles[j]
            func rel(_ a: Double?, _ b: Double) -> Double { a.map { abs($0 - b) / max(abs(b), 1e-12) } ?? .infinity }
            let errs: [(String, Double)] = [("area", rel(m.areaNm2, ref.area)), ("eqd", rel(m.equivalentDiameterNm, ref.eqd)),
                                            ("feretMin", rel(m.feretMinNm, ref.feretMin)), ("feretMax", rel(m.feretMaxNm, ref.feretMax)),
                                            ("perimeter", rel(m.perimeterNm, ref.perimeter)), ("circularity", rel(m.circularity, ref.circularity))]
            for (k, e) in errs { worst[k] = max(worst[k] ?? 0, e) }
        }
        #expect(unmatched.isEmpty, "reference rows without a particle of the same bounding box: \(unmatched.map { $0 + 2 })")
        #expect(result.particles.count == refs.count)
        // Same order: unseparated particles in column-major label order, then separated ones in
        // marker order.
        for (i, (m, ref)) in zip(result.particles, refs).enumerated() {
            #expect(Double(m.box.minCol) + 0.5 == ref.xmin && Double(m.box.minRow) + 0.5 == ref.ymin, "row \(i + 2) out of order")
        }
        // The same 21 particles come out of separation. ANTEMA v1.0 flags one row too many (its
        // off-by-one marks the last unseparated row as well); antema flags exactly the separated.
        let refFlagged = refs.indices.filter { refs[$0].separationFlag == 1 }
        #expect(refFlagged.count == 22)
        let ours = result.particles.indices.filter { result.particles[$0].separated }
        #expect(ours.count == 21)
        #expect(Array(refFlagged.dropFirst()) == ours)
        // float32 precision of the reference's columns: all within 1e-6 here; the issue asks 1e-4
        for (k, e) in worst { #expect(e <= 1e-4, "\(k) worst relative error \(e)") }

        // The summary sheet: mean and sample standard deviation over all rows.
        let d = result.particles.compactMap(\.equivalentDiameterNm)
        let mean = d.reduce(0, +) / Double(d.count)
        let sd = (d.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d.count - 1)).squareRoot()
        #expect(abs(mean - 1.751395344734192) / 1.751395344734192 < 1e-5)
        #expect(abs(sd - 0.6109755635261536) / 0.6109755635261536 < 1e-5)
    }
}
