import ImageFiles

/// An RGB picture to draw on: row-major, origin top-left.
public struct RGB: Sendable, Equatable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0)
    /// Colours that stay apart for colour-blind readers (Okabe-Ito).
    public static let particle = RGB(86, 180, 233)      // sky blue
    public static let separated = RGB(204, 121, 167)    // reddish purple
    public static let flagged = RGB(230, 159, 0)        // orange
    public static let border = RGB(150, 150, 150)       // grey
    public static let segmentation = RGB(240, 228, 66)  // yellow
    public static let bar = RGB(0, 114, 178)            // blue
}

public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [RGB]

    public init(width: Int, height: Int, fill: RGB = .white) {
        self.width = width
        self.height = height
        pixels = [RGB](repeating: fill, count: width * height)
    }

    /// A contrast-stretched greyscale rendering (0.5th to 99.5th percentile to 0...255).
    public init(gray values: [Float], width: Int, height: Int) {
        self.init(width: width, height: height)
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return }
        let step = max(1, finite.count / 20_000)
        let sample = stride(from: 0, to: finite.count, by: step).map { finite[$0] }.sorted()
        let lo = sample[Int(Double(sample.count - 1) * 0.005)], hi = sample[Int(Double(sample.count - 1) * 0.995)]
        let scale = hi > lo ? 255 / (hi - lo) : 0
        for i in 0..<(width * height) {
            let v = values[i].isFinite ? UInt8(max(0, min(255, (values[i] - lo) * scale))) : 0
            pixels[i] = RGB(v, v, v)
        }
    }

    @inline(__always) public mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        if x >= 0 && y >= 0 && x < width && y < height { pixels[y * width + x] = c }
    }

    /// Blends `c` over the pixel with opacity `alpha` (0...1).
    public mutating func blend(_ x: Int, _ y: Int, _ c: RGB, _ alpha: Double) {
        guard x >= 0 && y >= 0 && x < width && y < height else { return }
        let p = pixels[y * width + x]
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8(Double(a) * (1 - alpha) + Double(b) * alpha) }
        pixels[y * width + x] = RGB(mix(p.r, c.r), mix(p.g, c.g), mix(p.b, c.b))
    }

    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        let x0 = max(0, x), x1 = min(width, x + w), y0 = max(0, y), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 { for xx in x0..<x1 { pixels[yy * width + xx] = c } }
    }

    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        while true {
            set(x, y, c)
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Text in a 5 x 7 pixel font, `scale` times enlarged, top-left at (x, y), with an optional
    /// one-pixel halo so that it reads on any background.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int = 2, _ c: RGB, halo: RGB? = nil) {
        if let halo {
            for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)] {
                draw(s, x: x + dx, y: y + dy, scale: scale, halo)
            }
        }
        draw(s, x: x, y: y, scale: scale, c)
    }

    mutating func draw(_ s: String, x: Int, y: Int, scale: Int, _ c: RGB) {
        var cx = x
        let chars = Array(s)
        // short all-lower-case words are units (nm, um, px, s): keep them lower case
        var unit = [Bool](repeating: false, count: chars.count)
        var i = 0
        while i < chars.count {
            guard chars[i].isLetter else { i += 1; continue }
            var j = i
            while j < chars.count && chars[j].isLetter { j += 1 }
            if j - i <= 2 && chars[i..<j].allSatisfy(\.isLowercase) { for k in i..<j { unit[k] = true } }
            i = j
        }
        for (index, ch) in chars.enumerated() {
            let glyph = unit[index] ? Font.glyph(ch) : Font.glyph(Character(ch.uppercased()))
            for (row, bits) in glyph.enumerated() {
                for col in 0..<5 where bits & (1 << (4 - col)) != 0 {
                    fillRect(x: cx + col * scale, y: y + row * scale, width: scale, height: scale, c)
                }
            }
            cx += 6 * scale
        }
    }

    public static func textWidth(_ s: String, scale: Int = 2) -> Int { s.count * 6 * scale - scale }

    /// Writes the picture as PNG, fast (see `PNGFile.Compression`): greyscale when every pixel is
    /// grey (the micrograph with its scale bar: a third of the data to compress), RGB otherwise.
    public func png(to path: String) throws {
        if let gray = grayBytes() {
            try PNGFile.write(gray8: gray, width: width, height: height, to: path, compression: .fast)
        } else {
            try PNGFile.write(rgb8: rgbBytes(), width: width, height: height, to: path, compression: .fast)
        }
    }

    /// The picture encoded as PNG in memory (for workbooks), as `png(to:)` writes it.
    public func pngData() throws -> [UInt8] {
        if let gray = grayBytes() { return try PNGFile.encode(gray8: gray, width: width, height: height, compression: .fast) }
        return try PNGFile.encode(rgb8: rgbBytes(), width: width, height: height, compression: .fast)
    }

    func rgbBytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: width * height * 3)
        for (i, p) in pixels.enumerated() { bytes[3 * i] = p.r; bytes[3 * i + 1] = p.g; bytes[3 * i + 2] = p.b }
        return bytes
    }

    /// The grey levels if every pixel is grey, else nil.
    func grayBytes() -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: width * height)
        for (i, p) in pixels.enumerated() {
            guard p.r == p.g, p.g == p.b else { return nil }
            bytes[i] = p.r
        }
        return bytes
    }
}

/// A 5 x 7 bitmap font: digits, letters (lower case drawn as upper case), common punctuation.
enum Font {
    static func glyph(_ ch: Character) -> [UInt8] {
        if let g = lower[ch] { return g }
        let up = Character(ch.uppercased())
        return table[up] ?? table["?"]!
    }

    /// Lower-case letters that units need (nm, µm, s, px); other lower-case letters are drawn
    /// as capitals.
    static let lower: [Character: [UInt8]] = {
        let rows: [(Character, [String])] = [
            ("n", ["00000", "00000", "10110", "11001", "10001", "10001", "10001"]),
            ("m", ["00000", "00000", "11010", "10101", "10101", "10101", "10101"]),
            ("u", ["00000", "00000", "10001", "10001", "10001", "10011", "01101"]),
            ("s", ["00000", "00000", "01111", "10000", "01110", "00001", "11110"]),
            ("p", ["00000", "00000", "11110", "10001", "11110", "10000", "10000"]),
            ("x", ["00000", "00000", "10001", "01010", "00100", "01010", "10001"]),
        ]
        var t: [Character: [UInt8]] = [:]
        for (c, r) in rows { t[c] = r.map { UInt8($0, radix: 2)! } }
        return t
    }()

    static let table: [Character: [UInt8]] = {
        let rows: [(Character, [String])] = [
            ("0", ["01110", "10001", "10011", "10101", "11001", "10001", "01110"]),
            ("1", ["00100", "01100", "00100", "00100", "00100", "00100", "01110"]),
            ("2", ["01110", "10001", "00001", "00010", "00100", "01000", "11111"]),
            ("3", ["11110", "00001", "00001", "01110", "00001", "00001", "11110"]),
            ("4", ["00010", "00110", "01010", "10010", "11111", "00010", "00010"]),
            ("5", ["11111", "10000", "11110", "00001", "00001", "10001", "01110"]),
            ("6", ["00110", "01000", "10000", "11110", "10001", "10001", "01110"]),
            ("7", ["11111", "00001", "00010", "00100", "01000", "01000", "01000"]),
            ("8", ["01110", "10001", "10001", "01110", "10001", "10001", "01110"]),
            ("9", ["01110", "10001", "10001", "01111", "00001", "00010", "01100"]),
            ("A", ["01110", "10001", "10001", "11111", "10001", "10001", "10001"]),
            ("B", ["11110", "10001", "10001", "11110", "10001", "10001", "11110"]),
            ("C", ["01110", "10001", "10000", "10000", "10000", "10001", "01110"]),
            ("D", ["11100", "10010", "10001", "10001", "10001", "10010", "11100"]),
            ("E", ["11111", "10000", "10000", "11110", "10000", "10000", "11111"]),
            ("F", ["11111", "10000", "10000", "11110", "10000", "10000", "10000"]),
            ("G", ["01110", "10001", "10000", "10111", "10001", "10001", "01111"]),
            ("H", ["10001", "10001", "10001", "11111", "10001", "10001", "10001"]),
            ("I", ["01110", "00100", "00100", "00100", "00100", "00100", "01110"]),
            ("J", ["00111", "00010", "00010", "00010", "00010", "10010", "01100"]),
            ("K", ["10001", "10010", "10100", "11000", "10100", "10010", "10001"]),
            ("L", ["10000", "10000", "10000", "10000", "10000", "10000", "11111"]),
            ("M", ["10001", "11011", "10101", "10101", "10001", "10001", "10001"]),
            ("N", ["10001", "10001", "11001", "10101", "10011", "10001", "10001"]),
            ("O", ["01110", "10001", "10001", "10001", "10001", "10001", "01110"]),
            ("P", ["11110", "10001", "10001", "11110", "10000", "10000", "10000"]),
            ("Q", ["01110", "10001", "10001", "10001", "10101", "10010", "01101"]),
            ("R", ["11110", "10001", "10001", "11110", "10100", "10010", "10001"]),
            ("S", ["01111", "10000", "10000", "01110", "00001", "00001", "11110"]),
            ("T", ["11111", "00100", "00100", "00100", "00100", "00100", "00100"]),
            ("U", ["10001", "10001", "10001", "10001", "10001", "10001", "01110"]),
            ("V", ["10001", "10001", "10001", "10001", "10001", "01010", "00100"]),
            ("W", ["10001", "10001", "10001", "10101", "10101", "10101", "01010"]),
            ("X", ["10001", "10001", "01010", "00100", "01010", "10001", "10001"]),
            ("Y", ["10001", "10001", "01010", "00100", "00100", "00100", "00100"]),
            ("Z", ["11111", "00001", "00010", "00100", "01000", "10000", "11111"]),
            (" ", ["00000", "00000", "00000", "00000", "00000", "00000", "00000"]),
            (".", ["00000", "00000", "00000", "00000", "00000", "01100", "01100"]),
            (",", ["00000", "00000", "00000", "00000", "01100", "00100", "01000"]),
            ("-", ["00000", "00000", "00000", "11111", "00000", "00000", "00000"]),
            ("+", ["00000", "00100", "00100", "11111", "00100", "00100", "00000"]),
            ("±", ["00100", "00100", "11111", "00100", "00100", "00000", "11111"]),
            ("=", ["00000", "00000", "11111", "00000", "11111", "00000", "00000"]),
            (":", ["00000", "01100", "01100", "00000", "01100", "01100", "00000"]),
            ("/", ["00001", "00010", "00010", "00100", "01000", "01000", "10000"]),
            ("(", ["00010", "00100", "01000", "01000", "01000", "00100", "00010"]),
            (")", ["01000", "00100", "00010", "00010", "00010", "00100", "01000"]),
            ("[", ["01110", "01000", "01000", "01000", "01000", "01000", "01110"]),
            ("]", ["01110", "00010", "00010", "00010", "00010", "00010", "01110"]),
            ("%", ["11001", "11010", "00010", "00100", "01000", "01011", "10011"]),
            ("_", ["00000", "00000", "00000", "00000", "00000", "00000", "11111"]),
            ("#", ["01010", "01010", "11111", "01010", "11111", "01010", "01010"]),
            ("µ", ["00000", "10001", "10001", "10001", "10011", "11101", "10000"]),
            ("Μ", ["00000", "10001", "10001", "10001", "10011", "11101", "10000"]),
            ("'", ["00100", "00100", "01000", "00000", "00000", "00000", "00000"]),
            ("?", ["01110", "10001", "00001", "00010", "00100", "00000", "00100"]),
        ]
        var t: [Character: [UInt8]] = [:]
        for (c, r) in rows { t[c] = r.map { UInt8($0, radix: 2)! } }
        return t
    }()
}
