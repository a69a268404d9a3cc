/// Separation of touching particles seeded from an instance-aware network's distance map.
///
/// The network predicts, for every pixel, its distance to the edge of its particle divided by
/// that particle's largest such distance (1 at each particle's centre, 0 at its edge and where
/// two particles touch; `training/emps.py`, `normalized_distance`). Within one object of the
/// mask:
/// 0. the distance map is smoothed by a Gaussian of 4 px (`smoothingSigmaPx`): the network's
///    map is noisy inside large particles, and unsmoothed it gives a particle many cores.
///    Chosen on every third image of the EMPS validation part (training/README.md,
///    `tune_separation.py`): with instance model 3.1 and cores above 0.4, F1 0.439 at 2 px,
///    0.471 at 3 px, 0.485 at 4 px, 0.485 at 5 px; with 3.0 earlier 2 px (0.425) against raw
///    (0.147). A sigma following each object's size (0.15 of its largest inscribed radius,
///    2-4 px) split more overlapping pairs (0.320 against 0.267, `evaluate_pairs.py`) and
///    scored 0.659 against 0.645 on that third, but cut the reference micrograph's 2 nm
///    particles into pieces (instance F1 0.462 against 0.704) and lost on the other two
///    thirds (0.631 against 0.652): not kept. Only the object's box widened by the kernel's
///    radius is blurred, which inside the object equals a blur of the whole map;
/// 1. markers: the 8-connected components of the pixels whose distance exceeds
///    `markerLevel` (0.4): one core per particle, since the map dips to 0 between particles;
///    cores smaller than `minimumMarkerPixels` are ignored;
/// 2. with two markers or more, every pixel of the object joins the marker whose flood reaches it
///    first when the object is flooded from the markers in order of decreasing distance (a
///    seeded watershed with a priority queue of 256 levels, O(pixels));
/// 3. pieces are returned in the order of their markers (column-major order of their first
///    pixel). With fewer than two markers the object is returned whole.
///
/// The same procedure is `instances.separate` in `training/instances.py`, which chose the
/// checkpoint on the validation images.
public enum MarkerSeparation {
    /// The Gaussian's sigma in pixels (see 0. above).
    public static let smoothingSigmaPx: Double = 4

    /// `distance`: the network's distance map as it comes (row-major, `imageWidth` x
    /// `imageHeight`); `sigmaPx`: the smoothing (0: none).
    public static func separate(_ object: Region, distance: [Float], imageWidth: Int, imageHeight: Int, sigmaPx: Double = smoothingSigmaPx,
                                markerLevel: Float = 0.4, minimumMarkerPixels: Int = 2) -> [Region] {
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
            d[(p.row - r0) * w + (p.col - c0)] = smoothed[(p.row - top) * cw + (p.col - left)]
        }
        // 1. markers
        var core = BinaryImage(width: w, height: h)
        for i in 0..<n where mask.pixels[i] && d[i] > markerLevel { core.pixels[i] = true }
        let markers = core.regions(.eight).filter { $0.area >= minimumMarkerPixels }
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
}
