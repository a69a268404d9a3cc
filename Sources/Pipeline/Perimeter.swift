/// Outer boundary tracing and the perimeter estimator of MATLAB's `regionprops`.
enum Boundary {
    /// Clockwise (on screen, rows downward) neighbour directions: E, SE, S, SW, W, NW, N, NE.
    static let directions: [(Int, Int)] = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]

    /// Traces the outer 8-connected boundary of the object containing the first foreground pixel
    /// in column-major order (Moore-neighbour tracing, stopping when the trace is about to repeat
    /// its first step). Returns the boundary pixels with the start repeated at the end; a lone
    /// pixel gives `[p, p]`.
    static func trace(_ image: BinaryImage) -> [Pixel] {
        var start: Pixel? = nil
        outer: for c in 0..<image.width {
            for r in 0..<image.height where image[r, c] { start = Pixel(r, c); break outer }
        }
        guard let s = start else { return [] }
        // Backtrack: the west neighbour (background: s is the first pixel of the leftmost column).
        var current = s
        var backDir = 4  // direction from current to its backtrack pixel
        var path: [Pixel] = [s]
        var secondStep: Pixel? = nil
        let limit = 4 * image.width * image.height + 8
        for _ in 0..<limit {
            var found: Pixel? = nil
            var foundDir = 0
            for i in 1...8 {
                let d = (backDir + i) % 8
                let (dr, dc) = directions[d]
                if image.value(current.row + dr, current.col + dc) {
                    found = Pixel(current.row + dr, current.col + dc)
                    foundDir = d
                    // the previously examined neighbour becomes the backtrack pixel
                    let prev = (backDir + i - 1) % 8
                    let (pr, pc) = directions[prev]
                    let back = Pixel(current.row + pr, current.col + pc)
                    backDir = direction(from: found!, to: back)
                    break
                }
            }
            guard let next = found else { return [s, s] }  // isolated pixel
            _ = foundDir
            if current == s {
                if let second = secondStep {
                    if next == second { break }
                } else {
                    secondStep = next
                }
            }
            path.append(next)
            current = next
        }
        // path ends with the start pixel (we broke when at s about to repeat the second step)
        return path
    }

    static func direction(from a: Pixel, to b: Pixel) -> Int {
        let dr = b.row - a.row, dc = b.col - a.col
        for (i, d) in directions.enumerated() where d.0 == dr && d.1 == dc { return i }
        preconditionFailure("pixels are not neighbours")
    }

    /// MATLAB's perimeter of a closed boundary: 0.980 per horizontal or vertical step, 1.406 per
    /// diagonal step, minus 0.091 per change of step type, counted cyclically. Fewer than two
    /// steps give 0.
    static func perimeter(of boundary: [Pixel]) -> Double {
        let steps = boundary.count - 1
        guard steps > 1 else { return 0 }
        var deltas: [(Int, Int)] = []
        deltas.reserveCapacity(steps)
        for i in 0..<steps {
            let dr = boundary[i + 1].row - boundary[i].row, dc = boundary[i + 1].col - boundary[i].col
            deltas.append((dr * dr, dc * dc))
        }
        var even = 0, corners = 0
        for i in 0..<steps {
            if deltas[i].0 == 0 || deltas[i].1 == 0 { even += 1 }
            let n = deltas[(i + 1) % steps]
            if n.0 != deltas[i].0 || n.1 != deltas[i].1 { corners += 1 }
        }
        return Double(even) * 0.980 + Double(steps - even) * 1.406 - Double(corners) * 0.091
    }

    /// Perimeter in pixels of the (single) object in `image`.
    static func perimeter(_ image: BinaryImage) -> Double { perimeter(of: trace(image)) }
}
