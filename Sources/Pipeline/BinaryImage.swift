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
    public var width: Int { maxCol - minCol + 1 }
    public var height: Int { maxRow - minRow + 1 }
}

/// One connected set of foreground pixels.
public struct Region: Sendable {
    /// Pixels in column-major order (by column, then row), as MATLAB lists them.
    public var pixels: [Pixel]
    public var box: BoundingBox

    public init(pixels: [Pixel]) {
        precondition(!pixels.isEmpty)
        self.pixels = pixels.sorted { ($0.col, $0.row) < ($1.col, $1.row) }
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
    /// order: sorted by the column, then the row, of each component's first pixel).
    public func regions(_ connectivity: Connectivity = .eight) -> [Region] {
        var label = [Int32](repeating: 0, count: width * height)
        var regions: [Region] = []
        var stack: [Int] = []
        for c in 0..<width {
            for r in 0..<height {
                let start = r * width + c
                guard pixels[start], label[start] == 0 else { continue }
                let id = Int32(regions.count + 1)
                label[start] = id
                stack.append(start)
                var members: [Pixel] = []
                while let i = stack.popLast() {
                    let pr = i / width, pc = i % width
                    members.append(Pixel(pr, pc))
                    for dr in -1...1 {
                        for dc in -1...1 where dr != 0 || dc != 0 {
                            if connectivity == .four && dr != 0 && dc != 0 { continue }
                            let nr = pr + dr, nc = pc + dc
                            guard nr >= 0, nc >= 0, nr < height, nc < width else { continue }
                            let j = nr * width + nc
                            if pixels[j] && label[j] == 0 { label[j] = id; stack.append(j) }
                        }
                    }
                }
                regions.append(Region(pixels: members))
            }
        }
        return regions
    }

    /// An image holding exactly the given regions.
    public init(width: Int, height: Int, regions: [Region]) {
        self.init(width: width, height: height)
        for region in regions { for p in region.pixels { self[p.row, p.col] = true } }
    }
}
