/// Finds burned-in annotations (scale bars, their labels, boxes behind them, panel letters) in an
/// exported micrograph, so that they are neither counted as particles nor part of the
/// network's normalisation.
///
/// Exports draw annotations in the image's extreme values (pure white and pure black), which a
/// micrograph's own pixels reach only in small numbers. Candidates are the 8-connected
/// components of the pixels equal to the image's minimum or to its maximum; a component is an
/// annotation when it is
/// - a **bar**: a filled rectangle (at least 85 % of its bounding box), at least 4 times longer
///   than thick, at most 5 % of the image's smaller side thick; or
/// - a **box**: a filled rectangle (at least 60 % of its bounding box) at least 8 px a side that
///   holds components of the other extreme (the label written into it);
/// and what lies near one of those (labels above or beside a bar, letters in a box: components
/// of either extreme whose bounding box is within three bar thicknesses, or inside the box) is
/// an annotation too. Each annotation's bounding box, grown by 3 px, is excluded. Particles
/// saturated in the image (bright SEM particles at 255) are round blobs: not rectangles, so not
/// taken, unless they touch a bar or lie in a box.
///
/// Images whose extremes are held by few pixels (the floating-point data of DM files) give
/// nothing.
public enum AnnotationDetector {
    public static func detect(_ image: GrayImage) -> BinaryImage {
        let w = image.width, h = image.height
        var out = BinaryImage(width: w, height: h)
        guard w >= 16, h >= 16, let lo = image.pixels.min(), let hi = image.pixels.max(), hi > lo else { return out }
        let low = BinaryImage(width: w, height: h, pixels: image.pixels.map { $0 == lo })
        let high = BinaryImage(width: w, height: h, pixels: image.pixels.map { $0 == hi })
        let minimumArea = 12
        let lows = low.regions(.eight).filter { $0.area >= 4 }
        let highs = high.regions(.eight).filter { $0.area >= 4 }
        let thickLimit = Double(min(w, h)) * 0.05
        var annotations: [BoundingBox] = []
        var nearBars: [BoundingBox] = []
        for (set, other) in [(lows, highs), (highs, lows)] {
            for r in set where r.area >= minimumArea {
                let b = r.box
                let fill = Double(r.area) / Double(b.width * b.height)
                let long = Double(max(b.width, b.height)), thick = Double(min(b.width, b.height))
                if fill >= 0.85 && long >= 4 * thick && thick <= thickLimit && long >= 12 {
                    annotations.append(b)
                    let m = Int(3 * thick) + 2
                    nearBars.append(BoundingBox(minRow: b.minRow - m, minCol: b.minCol - m, maxRow: b.maxRow + m, maxCol: b.maxCol + m))
                } else if fill >= 0.6 && thick >= 8 && other.contains(where: { inside($0.box, b) }) {
                    annotations.append(b)
                    nearBars.append(b)
                }
            }
        }
        guard !annotations.isEmpty else { return out }
        // labels and letters near a bar or inside a box
        for r in lows + highs where nearBars.contains(where: { inside(r.box, $0) }) {
            // a large blob near a bar is not a label (a saturated particle touching the bar's zone)
            if r.area <= annotations.map({ $0.width * $0.height }).max()! { annotations.append(r.box) }
        }
        for b in annotations {
            for row in max(0, b.minRow - 3)...min(h - 1, b.maxRow + 3) {
                for col in max(0, b.minCol - 3)...min(w - 1, b.maxCol + 3) { out[row, col] = true }
            }
        }
        return out
    }

    static func inside(_ a: BoundingBox, _ b: BoundingBox) -> Bool {
        a.minRow >= b.minRow && a.maxRow <= b.maxRow && a.minCol >= b.minCol && a.maxCol <= b.maxCol
    }

    /// The union of rectangles `(x, y, width, height)` in pixels (x = column, y = row, 0-based),
    /// clipped to the image.
    public static func rectangles(_ rects: [(x: Int, y: Int, width: Int, height: Int)], width: Int, height: Int) -> BinaryImage {
        var out = BinaryImage(width: width, height: height)
        for r in rects {
            let r0 = max(0, r.y), r1 = min(height, r.y + r.height), c0 = max(0, r.x), c1 = min(width, r.x + r.width)
            guard r0 < r1, c0 < c1 else { continue }
            for row in r0..<r1 { for col in c0..<c1 { out[row, col] = true } }
        }
        return out
    }
}
