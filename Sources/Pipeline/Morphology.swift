/// Structuring elements of the reference program, with MATLAB's origin convention
/// (origin at `floor((size + 1) / 2)`, 1-based).
public enum StructuringElement: Sendable {
    /// 2 x 2 square, origin top-left: covers (r, c), (r, c+1), (r+1, c), (r+1, c+1).
    case square2
    /// 3 x 3 cross (the 4-neighbourhood and the centre), origin at the centre.
    case cross3

    /// Offsets (drow, dcol) relative to the origin.
    var offsets: [(Int, Int)] {
        switch self {
        case .square2: [(0, 0), (0, 1), (1, 0), (1, 1)]
        case .cross3: [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]
        }
    }
}

extension BinaryImage {
    /// Erosion: a pixel stays set when every pixel under the element (placed at its origin) is
    /// set. Pixels outside the image count as set (MATLAB's `imerode` padding for binary images).
    public func eroded(by se: StructuringElement) -> BinaryImage {
        var out = BinaryImage(width: width, height: height)
        let offsets = se.offsets
        for r in 0..<height {
            for c in 0..<width where self[r, c] {
                var keep = true
                for (dr, dc) in offsets {
                    let nr = r + dr, nc = c + dc
                    if nr >= 0 && nc >= 0 && nr < height && nc < width && !self[nr, nc] { keep = false; break }
                }
                if keep { out[r, c] = true }
            }
        }
        return out
    }

    /// Dilation (MATLAB's `imdilate`, which uses the reflected element): pixel `z` is set when
    /// some offset `b` of the element has `z - b` set, so every set pixel spreads to itself plus
    /// each offset (the 2 x 2 square grows right and down). Pixels outside count as unset.
    public func dilated(by se: StructuringElement) -> BinaryImage {
        var out = BinaryImage(width: width, height: height)
        let offsets = se.offsets
        for r in 0..<height {
            for c in 0..<width where self[r, c] {
                for (dr, dc) in offsets {
                    let nr = r + dr, nc = c + dc
                    if nr >= 0 && nc >= 0 && nr < height && nc < width { out[nr, nc] = true }
                }
            }
        }
        return out
    }

    public func opened(by se: StructuringElement) -> BinaryImage { eroded(by: se).dilated(by: se) }

    /// Closing as if the image were surrounded by unset pixels: pad by the element's reach,
    /// dilate, erode, crop (so set pixels outside never leak in from the border).
    public func closedZeroPadded(by se: StructuringElement) -> BinaryImage {
        let pad = 2
        var big = BinaryImage(width: width + 2 * pad, height: height + 2 * pad)
        for r in 0..<height { for c in 0..<width where self[r, c] { big[r + pad, c + pad] = true } }
        let closed = big.dilated(by: se).eroded(by: se)
        var out = BinaryImage(width: width, height: height)
        for r in 0..<height { for c in 0..<width where closed[r + pad, c + pad] { out[r, c] = true } }
        return out
    }

    /// Fills every hole: background not reachable from the image border through 4-connected
    /// background (MATLAB `imfill(BW, 'holes')`), whatever its size.
    public func holesFilled() -> BinaryImage {
        var outside = [Bool](repeating: false, count: width * height)
        var stack: [Int] = []
        func seed(_ r: Int, _ c: Int) {
            let i = r * width + c
            if !pixels[i] && !outside[i] { outside[i] = true; stack.append(i) }
        }
        for c in 0..<width { seed(0, c); seed(height - 1, c) }
        for r in 0..<height { seed(r, 0); seed(r, width - 1) }
        while let i = stack.popLast() {
            let r = i / width, c = i % width
            if r > 0 { seed(r - 1, c) }
            if r < height - 1 { seed(r + 1, c) }
            if c > 0 { seed(r, c - 1) }
            if c < width - 1 { seed(r, c + 1) }
        }
        return BinaryImage(width: width, height: height, pixels: outside.map { !$0 })
    }

    /// Removes the objects (8-connected) that touch the image border (MATLAB `imclearborder`).
    public func borderCleared(_ connectivity: Connectivity = .eight) -> BinaryImage {
        let keep = regions(connectivity).filter { r in
            r.box.minRow > 0 && r.box.minCol > 0 && r.box.maxRow < height - 1 && r.box.maxCol < width - 1
        }
        return BinaryImage(width: width, height: height, regions: keep)
    }

    /// Removes objects with fewer than `minimumPixels` pixels (MATLAB `bwareaopen`).
    public func smallObjectsRemoved(minimumPixels: Int, _ connectivity: Connectivity = .eight) -> BinaryImage {
        BinaryImage(width: width, height: height, regions: regions(connectivity).filter { $0.area >= minimumPixels })
    }
}
