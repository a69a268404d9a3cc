/// A greyscale working image: row-major `Float`, indexed (row, col), origin top-left.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    @inline(__always) public subscript(row: Int, col: Int) -> Float {
        get { pixels[row * width + col] }
        set { pixels[row * width + col] = newValue }
    }

    public var minMax: (min: Float, max: Float) {
        var lo = Float.infinity, hi = -Float.infinity
        for v in pixels where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        return lo <= hi ? (lo, hi) : (0, 0)
    }

    /// True when the image holds at most `limit` distinct grey levels (non-finite values count as
    /// one more level each kind). An 8-bit export holds at most 256; a detector's data (the float
    /// or 16-bit counts of a DM file) thousands. Stops at the first level past the limit.
    public func hasAtMostGreyLevels(_ limit: Int) -> Bool {
        // whole numbers 0-65535 (8- and 16-bit data) in a table, anything else in a set
        var table = [Bool](repeating: false, count: 65536)
        var others = Set<UInt32>()
        var count = 0
        for v in pixels {
            if v >= 0 && v < 65536 && v == v.rounded(.down) {
                let i = Int(v)
                if table[i] { continue }
                table[i] = true
            } else if !others.insert(v.bitPattern).inserted {
                continue
            }
            count += 1
            if count > limit { return false }
        }
        return true
    }

    /// Gaussian blur with standard deviation `sigma` px (separable kernel truncated at 3 sigma,
    /// edges replicated). `sigma <= 0` returns the image unchanged.
    public func gaussianBlurred(sigma: Double) -> GrayImage {
        guard sigma > 0 else { return self }
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        return convolvedSeparable(kernel)
    }

    /// Box-filter approximation of a Gaussian (three passes of running means), O(N) whatever
    /// `sigma`: for the large-scale background.
    public func boxBlurred(sigma: Double) -> GrayImage {
        // three boxes of width w approximate a Gaussian of variance 3 (w² - 1) / 12
        let half = max(1, Int(((4 * sigma * sigma + 1).squareRoot() - 1) / 2))
        var out = self
        for _ in 0..<3 { out = out.runningMean(half: half) }
        return out
    }

    func runningMean(half: Int) -> GrayImage {
        var tmp = [Float](repeating: 0, count: pixels.count)
        var out = [Float](repeating: 0, count: pixels.count)
        let w = width, h = height
        // rows
        for r in 0..<h {
            var sum: Double = 0
            let base = r * w
            func at(_ c: Int) -> Double { Double(pixels[base + min(max(c, 0), w - 1)]) }
            for c in -half...half { sum += at(c) }
            for c in 0..<w {
                tmp[base + c] = Float(sum / Double(2 * half + 1))
                sum += at(c + half + 1) - at(c - half)
            }
        }
        // columns
        for c in 0..<w {
            var sum: Double = 0
            func at(_ r: Int) -> Double { Double(tmp[min(max(r, 0), h - 1) * w + c]) }
            for r in -half...half { sum += at(r) }
            for r in 0..<h {
                out[r * w + c] = Float(sum / Double(2 * half + 1))
                sum += at(r + half + 1) - at(r - half)
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    func convolvedSeparable(_ kernel: [Float]) -> GrayImage {
        let radius = kernel.count / 2
        let w = width, h = height
        var tmp = [Float](repeating: 0, count: pixels.count)
        var out = [Float](repeating: 0, count: pixels.count)
        for r in 0..<h {
            let base = r * w
            for c in 0..<w {
                var s: Float = 0
                for k in 0..<kernel.count {
                    let cc = min(max(c + k - radius, 0), w - 1)
                    s += kernel[k] * pixels[base + cc]
                }
                tmp[base + c] = s
            }
        }
        for r in 0..<h {
            for c in 0..<w {
                var s: Float = 0
                for k in 0..<kernel.count {
                    let rr = min(max(r + k - radius, 0), h - 1)
                    s += kernel[k] * tmp[rr * w + c]
                }
                out[r * w + c] = s
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
