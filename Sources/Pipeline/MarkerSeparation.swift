/// Separation of touching particles seeded from an instance-aware network's distance map.
///
/// The network predicts, for every pixel, its distance to the edge of its particle divided by
/// that particle's largest such distance (1 at each particle's centre, 0 at its edge and where
/// two particles touch; `training/emps.py`, `normalized_distance`). Within one object of the
/// mask:
/// 0. the distance map is smoothed by a Gaussian of `smoothingSigmaPx` (1.5 px; the network's
///    map is noisy inside large particles). Only the object's box widened by the kernel's
///    radius is blurred, which inside the object equals a blur of the whole map;
/// 1. markers (`Markers.peaks`, the default): the summits of the smoothed map that stand at
///    least `peakHeight` (0.2) above the pass to a higher summit, and above `peakFloor` (0.3).
///    Where two particles overlap heavily the map dips between them without reaching any
///    fixed level, so a summit's height above its pass, not its level, says whether it is a
///    particle. Until this, the markers were the components above 0.4 of the map smoothed by
///    4 px (`Markers.level`); on every third EMPS validation image (the tuning third,
///    `training/tune_markers.py`) with instance model 3.5, instance F1 went from 0.765 to
///    0.800, and the simulated overlapping pairs split from 0.273 to 0.353
///    (training/README.md, "Markers from the summits");
/// 2. with two markers or more, every pixel of the object joins the marker whose flood reaches it
///    first when the object is flooded from the markers in order of decreasing distance (a
///    seeded watershed with a priority queue of 256 levels, O(pixels));
/// 3. pieces are returned in the order of their markers (column-major order of their first
///    pixel). With fewer than two markers the object is returned whole.
///
/// `instances.separate` in `training/instances.py` is the procedure with the level markers, which
/// chose the checkpoints of the models up to 3.6 and is what training validates with.
public enum MarkerSeparation {
    /// The Gaussian's sigma in pixels (see 0. above).
    public static let smoothingSigmaPx: Double = 1.5
    /// A summit's least height above its pass (see 1. above).
    public static let peakHeight: Double = 0.2
    /// A summit's least level (see 1. above).
    public static let peakFloor: Float = 0.3

    /// How the markers are found in the smoothed map.
    public enum Markers: Sendable, Equatable {
        /// Cores: the 8-connected components of the pixels above this level (of at least
        /// `minimumMarkerPixels`).
        case level(Float)
        /// Peaks: the summits (regional maxima, 8-connected) that stand at least `height` above
        /// the highest pass leading to a higher summit (their dynamic; the highest summit of
        /// the object always counts) and above `floor`, on the map in 1/255 steps. Of two
        /// equal summits joined by a pass less than `height` below them, one counts (skimage's
        /// `h_maxima` keeps both: a flat top broken by one step of 1/255 is then two
        /// particles). A dip between two particles need not reach any fixed level.
        case peaks(height: Float, floor: Float)
    }

    /// `distance`: the network's distance map as it comes (row-major, `imageWidth` x
    /// `imageHeight`); `sigmaPx`: the smoothing (0: none).
    public static func separate(_ object: Region, distance: [Float], imageWidth: Int, imageHeight: Int, sigmaPx: Double = smoothingSigmaPx,
                                markers rule: Markers = .peaks(height: Float(peakHeight), floor: peakFloor),
                                minimumMarkerPixels: Int = 2) -> [Region] {
        let mask = object.mask(pad: 1)
        let w = mask.width, h = mask.height, n = w * h
        let r0 = object.box.minRow - 1, c0 = object.box.minCol - 1
        // 0. the map around the object, smoothed
        let radius = sigmaPx > 0 ? max(1, Int((3 * sigmaPx).rounded(.up))) : 0
        let top = max(0, object.box.minRow - radius), bottom = min(imageHeight - 1, object.box.maxRow + radius)
        let left = max(0, object.box.minCol - radius), right = min(imageWidth - 1, object.box.maxCol + radius)
        let cw = right - left + 1, ch = bottom - top + 1
        var crop = [Float](repeating: 0, count: cw * ch)
        for r in 0..<ch { for c in 0..<cw { crop[r * cw + c] = distance[(r + top) * imageWidth + c + left] } }
        let smoothed = GrayImage(width: cw, height: ch, pixels: crop).gaussianBlurred(sigma: sigmaPx).pixels
        var d = [Float](repeating: 0, count: n)
        for p in object.pixels {
            // a model's NaN or infinity (a user's own model) counts as 0: never a summit, never a trap
            let v = smoothed[(p.row - top) * cw + (p.col - left)]
            d[(p.row - r0) * w + (p.col - c0)] = v.isFinite ? v : 0
        }
        // 1. markers
        let markers: [Region]
        switch rule {
        case .level(let markerLevel):
            var core = BinaryImage(width: w, height: h)
            for i in 0..<n where mask.pixels[i] && d[i] > markerLevel { core.pixels[i] = true }
            markers = core.regions(.eight).filter { $0.area >= minimumMarkerPixels }
        case .peaks(let height, let floor):
            markers = peaks(d, mask: mask, height: height, floor: floor)
        }
        guard markers.count >= 2 else { return [object] }
        var label = [Int32](repeating: 0, count: n)
        for (k, m) in markers.enumerated() { for p in m.pixels { label[p.row * w + p.col] = Int32(k + 1) } }
        // 2. priority flood: level 0 = highest distance
        func level(_ i: Int) -> Int { Int((1 - min(max(d[i], 0), 1)) * 255) }
        var buckets = [[Int]](repeating: [], count: 256)
        var queued = [Bool](repeating: false, count: n)
        let offsets = [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1]
        for i in 0..<n where label[i] > 0 {
            queued[i] = true
            for o in offsets {
                let j = i + o
                if mask.pixels[j] && label[j] == 0 && !queued[j] { queued[j] = true; buckets[level(j)].append(j) }
            }
        }
        var current = 0
        while current < 256 {
            guard let i = buckets[current].popLast() else { current += 1; continue }
            // the label of the neighbour with the highest distance
            var best: Int32 = 0, bestD: Float = -1
            for o in offsets {
                let j = i + o
                if label[j] > 0 && d[j] > bestD { best = label[j]; bestD = d[j] }
            }
            label[i] = best
            for o in offsets {
                let j = i + o
                if mask.pixels[j] && label[j] == 0 && !queued[j] {
                    queued[j] = true
                    buckets[max(level(j), current)].append(j)
                }
            }
        }
        var pieces = [[Pixel]](repeating: [], count: markers.count)
        for i in 0..<n where label[i] > 0 {
            pieces[Int(label[i]) - 1].append(Pixel(i / w + r0, i % w + c0))
        }
        return pieces.filter { !$0.isEmpty }.map { Region(pixels: $0) }
    }

    /// The summits of `d` inside `mask` (padded by one pixel: no pixel of the mask on its edge)
    /// whose dynamic is at least `height` and whose level exceeds `floor`, each as the plateau
    /// of its highest pixels (`Markers.peaks`). The map is taken in 1/255 steps,
    /// `round(d * 255)`. Pixels are flooded from the highest down with a union-find: where two
    /// basins meet at level L, the one with the lower summit (of equal ones, either) ends
    /// there, its dynamic its summit minus L. O(pixels).
    static func peaks(_ d: [Float], mask: BinaryImage, height: Float, floor: Float) -> [Region] {
        let w = mask.width, n = d.count
        let q = d.map { Int((min(max($0, 0), 1) * 255).rounded()) }
        let hq = max(1, Int(height * 255)), floorQ = Int((floor * 255).rounded())
        // pixels of the mask by decreasing level (counting sort)
        var counts = [Int](repeating: 0, count: 257)
        for i in 0..<n where mask.pixels[i] { counts[255 - q[i] + 1] += 1 }
        for k in 1...256 { counts[k] += counts[k - 1] }
        var order = [Int](repeating: 0, count: counts[256])
        for i in 0..<n where mask.pixels[i] { order[counts[255 - q[i]]] = i; counts[255 - q[i]] += 1 }
        var parent = [Int32](repeating: -1, count: n)
        var summit = [Int32](repeating: -1, count: n)  // per root: a pixel of its highest plateau
        var significant = [Bool](repeating: false, count: n)
        func find(_ i: Int) -> Int {
            var r = i
            while Int(parent[r]) != r { r = Int(parent[r]) }
            var j = i
            while Int(parent[j]) != r { let next = Int(parent[j]); parent[j] = Int32(r); j = next }
            return r
        }
        let offsets = [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1]
        for i in order {
            parent[i] = Int32(i); summit[i] = Int32(i)
            let level = q[i]
            for o in offsets {
                let j = i + o
                guard mask.pixels[j], parent[j] >= 0 else { continue }
                let a = find(i), b = find(j)
                if a == b { continue }
                let sa = Int(summit[a]), sb = Int(summit[b])
                // the lower summit ends here (ties: either; a plateau meeting itself has dynamic 0)
                let (loser, winner) = q[sa] < q[sb] ? (a, b) : (b, a)
                let sl = Int(summit[loser])
                if q[sl] - level >= hq { significant[sl] = true }
                parent[loser] = Int32(winner)
            }
        }
        for i in order where Int(parent[i]) == i { significant[Int(summit[i])] = true }
        // each significant summit's plateau: its 8-connected pixels at the summit's level (two
        // summits' plateaus never touch: a plateau beside a higher pixel is no summit)
        var plateaus = BinaryImage(width: w, height: mask.height)
        for s in order where significant[s] && !plateaus.pixels[s] && q[s] > floorQ {
            var stack = [s]
            plateaus.pixels[s] = true
            while let i = stack.popLast() {
                for o in offsets {
                    let j = i + o
                    if mask.pixels[j] && !plateaus.pixels[j] && q[j] == q[s] { plateaus.pixels[j] = true; stack.append(j) }
                }
            }
        }
        return plateaus.regions(.eight)
    }
}
