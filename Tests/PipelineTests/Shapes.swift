@testable import Pipeline

/// Test shapes drawn on a blank image: a pixel is set when its centre is inside the shape.
struct Canvas {
    var image: BinaryImage
    init(_ width: Int, _ height: Int) { image = BinaryImage(width: width, height: height) }

    mutating func disc(row: Double, col: Double, radius: Double) {
        ellipse(row: row, col: col, semiRows: radius, semiCols: radius)
    }

    /// An ellipse, optionally rotated by `angle` radians (counter-clockwise on screen).
    mutating func ellipse(row: Double, col: Double, semiRows: Double, semiCols: Double, angle: Double = 0) {
        let c = cos(angle), s = sin(angle)
        for r in 0..<image.height {
            for k in 0..<image.width {
                let dy = Double(r) - row, dx = Double(k) - col
                let u = dx * c - dy * s, v = dx * s + dy * c
                if (u * u) / (semiCols * semiCols) + (v * v) / (semiRows * semiRows) <= 1 { image[r, k] = true }
            }
        }
    }

    mutating func rect(row: Int, col: Int, height: Int, width: Int, value: Bool = true) {
        for r in row..<(row + height) { for k in col..<(col + width) { image[r, k] = value } }
    }
}

#if canImport(Glibc)
import Glibc
#endif
