/// A point in pixel coordinates: `x` = column, `y` = row (same origin as the pixel grid).
public struct Point: Sendable, Equatable {
    public var x: Double
    public var y: Double
    public init(x: Double, y: Double) { self.x = x; self.y = y }
}

enum Geometry {
    /// Convex hull (Andrew's monotone chain), counter-clockwise in (x, y), collinear points
    /// dropped. Fewer than three distinct points come back as they are.
    static func convexHull(_ points: [Point]) -> [Point] {
        var unique: [Point] = []
        // Pixel-derived points lie on the half-pixel grid: sort them as integers (exact, fast).
        if points.allSatisfy({ ($0.x * 2).rounded() == $0.x * 2 && ($0.y * 2).rounded() == $0.y * 2 && abs($0.x) < 1e6 && abs($0.y) < 1e6 }) {
            let keys = points.map { (Int($0.x * 2) + 4_000_000) << 23 | (Int($0.y * 2) + 4_000_000) }.sorted()
            unique.reserveCapacity(keys.count)
            var last = -1
            for k in keys where k != last {
                last = k
                unique.append(Point(x: Double((k >> 23) - 4_000_000) / 2, y: Double((k & (1 << 23 - 1)) - 4_000_000) / 2))
            }
        } else {
            for p in points.sorted(by: { ($0.x, $0.y) < ($1.x, $1.y) }) where unique.last != p { unique.append(p) }
        }
        guard unique.count >= 3 else { return unique }
        func cross(_ o: Point, _ a: Point, _ b: Point) -> Double { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
        var lower: [Point] = [], upper: [Point] = []
        for p in unique {
            while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], p) <= 0 { lower.removeLast() }
            lower.append(p)
        }
        for p in unique.reversed() {
            while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], p) <= 0 { upper.removeLast() }
            upper.append(p)
        }
        return Array(lower.dropLast() + upper.dropLast())
    }

    /// Points on the hull boundary of a region's pixels: for `corners`, the four corners of every
    /// pixel square; otherwise the four edge midpoints `(r ± 1/2, c)`, `(r, c ± 1/2)`. Only pixels
    /// on the region's outline matter, so only the first and last pixel of each column and row
    /// are used.
    static func outlinePoints(_ region: Region, corners: Bool) -> [Point] {
        var extremes: [Pixel] = []
        let b = region.box
        // first and last pixel of each row of the region
        var first = [Int](repeating: .max, count: b.height), last = [Int](repeating: .min, count: b.height)
        for p in region.pixels {
            let i = p.row - b.minRow
            if p.col < first[i] { first[i] = p.col }
            if p.col > last[i] { last[i] = p.col }
        }
        for i in 0..<b.height where first[i] != .max {
            extremes.append(Pixel(b.minRow + i, first[i]))
            if last[i] != first[i] { extremes.append(Pixel(b.minRow + i, last[i])) }
        }
        var out: [Point] = []
        out.reserveCapacity(extremes.count * 4)
        for p in extremes {
            let x = Double(p.col), y = Double(p.row)
            if corners {
                out += [Point(x: x - 0.5, y: y - 0.5), Point(x: x + 0.5, y: y - 0.5), Point(x: x - 0.5, y: y + 0.5), Point(x: x + 0.5, y: y + 0.5)]
            } else {
                out += [Point(x: x, y: y - 0.5), Point(x: x + 0.5, y: y), Point(x: x, y: y + 0.5), Point(x: x - 0.5, y: y)]
            }
        }
        return out
    }

    /// Max Feret diameter (largest distance between hull vertices) and min Feret diameter
    /// (smallest width over calipers resting on a hull edge), in the hull's units.
    static func feret(_ hull: [Point]) -> (min: Double, max: Double) {
        guard hull.count >= 2 else { return (0, 0) }
        var maxD2 = 0.0
        for i in 0..<hull.count {
            for j in (i + 1)..<hull.count {
                let dx = hull[i].x - hull[j].x, dy = hull[i].y - hull[j].y
                maxD2 = max(maxD2, dx * dx + dy * dy)
            }
        }
        guard hull.count >= 3 else { return (0, maxD2.squareRoot()) }
        var minWidth = Double.infinity
        for i in 0..<hull.count {
            let a = hull[i], b = hull[(i + 1) % hull.count]
            let ex = b.x - a.x, ey = b.y - a.y
            let len = (ex * ex + ey * ey).squareRoot()
            guard len > 0 else { continue }
            var w = 0.0
            for p in hull { w = max(w, abs((p.x - a.x) * ey - (p.y - a.y) * ex) / len) }
            minWidth = min(minWidth, w)
        }
        return (minWidth, maxD2.squareRoot())
    }

    /// Rasterises a polygon the way MATLAB's `poly2mask` does: vertices snapped to a 5x finer
    /// grid, edges walked on that grid, and a pixel set when its centre column crosses the
    /// outline an odd number of times above its centre. `x`/`y` are 1-based MATLAB coordinates
    /// (x = column, y = row); the result is `rows x cols`.
    static func poly2mask(x xs: [Double], y ys: [Double], rows: Int, cols: Int) -> BinaryImage {
        let scale = 5
        var x = xs, y = ys
        if let fx = x.first, let fy = y.first, fx != x.last! || fy != y.last! { x.append(fx); y.append(fy) }
        func mround(_ v: Double) -> Int { Int((v < 0 ? -(-v).rounded(.toNearestOrAwayFromZero) : v.rounded(.toNearestOrAwayFromZero))) }
        let qx = x.map { mround(Double(scale) * ($0 - 0.5) + 1) }
        let qy = y.map { mround(Double(scale) * ($0 - 0.5) + 1) }
        var px: [Int] = [], py: [Int] = []
        for k in 0..<(qx.count - 1) {
            let (sx, sy) = intline(qx[k], qx[k + 1], qy[k], qy[k + 1])
            px += sx; py += sy
        }
        var S = [Int](repeating: 0, count: (rows + 1) * cols)
        let shift = (scale - 1) / 2
        if px.count >= 2 {
            for i in 0..<(px.count - 1) {
                let d = px[i + 1] - px[i]
                guard d != 0 else { continue }
                var xe = px[i]
                if d < 0 { xe -= 1 }
                let ye = min(py[i], py[i + 1])
                // keep only points on a pixel's centre column
                guard (xe + shift) % scale == 0 else { continue }
                let col = (xe + shift) / scale
                var row = Int((Double(ye + shift) / Double(scale)).rounded(.up))
                if col < 1 || col > cols || row > rows { continue }
                row = max(1, row)
                S[(row - 1) * cols + (col - 1)] += 1
            }
        }
        var mask = BinaryImage(width: cols, height: rows)
        for c in 0..<cols {
            var sum = 0
            for r in 0..<rows {
                sum += S[r * cols + c]
                if sum % 2 == 1 { mask[r, c] = true }
            }
        }
        return mask
    }

    /// Integer points of a line on the fine grid (MATLAB's `intline`): stepping along the longer
    /// axis, always from the smaller to the larger coordinate, then flipped back.
    static func intline(_ x1i: Int, _ x2i: Int, _ y1i: Int, _ y2i: Int) -> ([Int], [Int]) {
        var (x1, x2, y1, y2) = (x1i, x2i, y1i, y2i)
        let dx = abs(x2 - x1), dy = abs(y2 - y1)
        if dx == 0 && dy == 0 { return ([x1], [y1]) }
        func mround(_ v: Double) -> Int { Int(v.rounded(.toNearestOrAwayFromZero)) }
        var xs: [Int] = [], ys: [Int] = []
        var flip = false
        if dx >= dy {
            if x1 > x2 { swap(&x1, &x2); swap(&y1, &y2); flip = true }
            let m = Double(y2 - y1) / Double(x2 - x1)
            for x in x1...x2 { xs.append(x); ys.append(mround(Double(y1) + m * Double(x - x1))) }
        } else {
            if y1 > y2 { swap(&x1, &x2); swap(&y1, &y2); flip = true }
            let m = Double(x2 - x1) / Double(y2 - y1)
            for y in y1...y2 { ys.append(y); xs.append(mround(Double(x1) + m * Double(y - y1))) }
        }
        if flip { xs.reverse(); ys.reverse() }
        return (xs, ys)
    }
}
