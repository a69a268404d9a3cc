/// A binary image: row-major, indexed (row, col) with the origin at the top-left pixel,
/// `true` = particle (foreground). x = column, y = row.
public struct BinaryImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Bool]

    public init(width: Int, height: Int, pixels: [Bool]) {
        precondition(pixels.count == width * height, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [Bool](repeating: false, count: width * height))
    }

    @inline(__always) public subscript(row: Int, col: Int) -> Bool {
        get { pixels[row * width + col] }
        set { pixels[row * width + col] = newValue }
    }

    /// `false` outside the image.
    @inline(__always) public func value(_ row: Int, _ col: Int) -> Bool {
        row >= 0 && col >= 0 && row < height && col < width && pixels[row * width + col]
    }

    public var count: Int { pixels.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// The image transposed: (row, col) -> (col, row).
    public var transposed: BinaryImage {
        var out = BinaryImage(width: height, height: width)
        for r in 0..<height { for c in 0..<width where self[r, c] { out[c, r] = true } }
        return out
    }
}

/// Which neighbours are connected: edge-sharing (4) or also corner-sharing (8).
public enum Connectivity: Sendable {
    case four, eight
}

/// A pixel position, (row, col), 0-based.
public struct Pixel: Sendable, Hashable {
    public var row: Int
    public var col: Int
    public init(_ row: Int, _ col: Int) { self.row = row; self.col = col }
}

/// A half-open bounding box in pixels: rows `minRow..<maxRow + 1`, columns likewise.
public struct BoundingBox: Sendable, Equatable {
    public var minRow: Int, minCol: Int, maxRow: Int, maxCol: Int
    public init(minRow: Int, minCol: Int, maxRow: Int, maxCol: Int) {
        self.minRow = minRow; self.minCol = minCol; self.maxRow = maxRow; self.maxCol = maxCol
    }
    public var width: Int { maxCol - minCol + 1 }
    public var height: Int { maxRow - minRow + 1 }
    public func contains(_ p: Pixel) -> Bool { p.row >= minRow && p.row <= maxRow && p.col >= minCol && p.col <= maxCol }
    /// Whether this box reaches the edge of `frame` (lies on or beyond one of its sides).
    public func reachesEdge(of frame: BoundingBox) -> Bool {
        minRow <= frame.minRow || minCol <= frame.minCol || maxRow >= frame.maxRow || maxCol >= frame.maxCol
    }
}

/// One connected set of foreground pixels.
public struct Region: Sendable {
    /// The region's pixels, in no particular order; `pixels[0]` is its first pixel in
    /// column-major order when the region comes from ``BinaryImage/regions(_:)``.
    public var pixels: [Pixel]
    public var box: BoundingBox

    public init(pixels: [Pixel]) {
        precondition(!pixels.isEmpty)
        self.pixels = pixels
        var b = BoundingBox(minRow: .max, minCol: .max, maxRow: .min, maxCol: .min)
        for p in pixels {
            b.minRow = min(b.minRow, p.row); b.maxRow = max(b.maxRow, p.row)
            b.minCol = min(b.minCol, p.col); b.maxCol = max(b.maxCol, p.col)
        }
        box = b
    }

    public var area: Int { pixels.count }

    /// The region as a binary image of its bounding box grown by `pad` pixels on every side.
    /// Pixel (r, c) of the result is image pixel (r + box.minRow - pad, c + box.minCol - pad).
    public func mask(pad: Int = 1) -> BinaryImage {
        var m = BinaryImage(width: box.width + 2 * pad, height: box.height + 2 * pad)
        for p in pixels { m[p.row - box.minRow + pad, p.col - box.minCol + pad] = true }
        return m
    }
}

extension BinaryImage {
    /// Connected components, in column-major order of their first pixel (MATLAB's `bwlabel`
    /// order: sorted by the column, then the row, of each component's first pixel). `pixels[0]`
    /// of each region is that first pixel.
    public func regions(_ connectivity: Connectivity = .eight) -> [Region] {
        // Row-major scan (cache friendly), then sort by the column-major first pixel.
        var visited = [Bool](repeating: false, count: width * height)
        var found: [(key: Int, region: Region)] = []
        var stack: [Int32] = []
        let w = width, h = height
        pixels.withUnsafeBufferPointer { px in
            visited.withUnsafeMutableBufferPointer { seen in
                for start in 0..<(w * h) where px[start] && !seen[start] {
                    seen[start] = true
                    stack.append(Int32(start))
                    var members: [Pixel] = []
                    var first = start % w * h + start / w  // column-major index
                    var firstPixel = Pixel(start / w, start % w)
                    while let top = stack.popLast() {
                        let i = Int(top)
                        let r = i / w, c = i - r * w
                        members.append(Pixel(r, c))
                        let key = c * h + r
                        if key < first { first = key; firstPixel = Pixel(r, c) }
                        let r0 = r > 0 ? r - 1 : r, r1 = r < h - 1 ? r + 1 : r
                        let c0 = c > 0 ? c - 1 : c, c1 = c < w - 1 ? c + 1 : c
                        for nr in r0...r1 {
                            for nc in c0...c1 {
                                if connectivity == .four && nr != r && nc != c { continue }
                                let j = nr * w + nc
                                if px[j] && !seen[j] { seen[j] = true; stack.append(Int32(j)) }
                            }
                        }
                    }
                    if let k = members.firstIndex(of: firstPixel), k != 0 { members.swapAt(0, k) }
                    found.append((first, Region(pixels: members)))
                }
            }
        }
        found.sort { $0.key < $1.key }
        return found.map(\.region)
    }

    /// An image holding exactly the given regions.
    public init(width: Int, height: Int, regions: [Region]) {
        self.init(width: width, height: height)
        for region in regions { for p in region.pixels { self[p.row, p.col] = true } }
    }
}
