/// Splitting an object at a neck between two concavities, the way one cuts two overlapping
/// particles apart by eye: where the outline bends inwards on both sides of the object, a
/// straight cut joins the two bends.
///
/// 1. The concavities are the 8-connected parts of the object's convex image (regionprops
///    `ConvexImage`) that the object does not cover. A concavity's depth is the largest distance
///    from the hull's outside (Euclidean, in pixels) of an object pixel beside it; only
///    concavities at least `minimumDepthPx` deep count.
/// 2. For every two concavities, the cut joins the pair of their outline pixels (each at least
///    half as deep as its concavity's deepest) that lie closest together. Its salience is the
///    shallower concavity's depth over the cut's length; the most salient cut is tried first.
/// 3. Cuts whose line leaves less than a sixth of the object on one side (two bends on the
///    same side) are passed over without labelling; at most `maximumTries` are labelled.
///    A cut is taken when its salience is at least `minimumSalience`, it runs inside the object,
///    it leaves two pieces of at least `minimumPixels` each (pixels on the cut join the piece
///    beside them), and it is at most `maximumNeckRatio` times the smaller piece's equivalent
///    diameter (a waist, not a notch in a large particle), and both pieces have a solidity of
///    at least `minimumPieceSolidity`, the smaller at least `minimumAreaRatio` of the larger.
///    Each piece is then offered again, so that a chain of three comes apart in two cuts.
///    The thresholds were chosen on the EMPS tuning third with the pair test set beside it
///    (training/README.md, "Cut at the neck").
///
/// For two discs of radius r whose centres are k·2r apart, the neck is 2r·sqrt(1 - k²) long
/// and the concavities r·(1 - sqrt(1 - k²)) deep: at the pair test set's heaviest overlap
/// (k = 0.7) the salience is 0.20 and the neck 0.71 of a disc's diameter; touching discs
/// (k = 1) are cut at a point. The pipeline uses it in the `network` overlap mode for objects
/// the network's distance map and UECS both leave whole (`ParticleAnalysis.analyze`).
enum NeckCut {
    struct Parameters: Sendable, Equatable {
        var minimumDepthPx = 1.0
        var minimumSalience = 0.2
        var maximumNeckRatio = 0.9
        /// Each piece's solidity (area over its convex hull's) at least this: two particles, not
        /// a particle and a ragged shred.
        var minimumPieceSolidity = 0.85
        /// The smaller piece at least this fraction of the larger: a bump is not a particle.
        var minimumAreaRatio = 0.5
        /// Cuts per object at most (a chain of n particles needs n - 1).
        var maximumCuts = 8
        /// Cuts tried per step at most, the most salient first (each try labels the object once:
        /// a ragged object has thousands of pairs of bends).
        var maximumTries = 6
    }

    static func separate(_ object: Region, minimumPixels: Int, parameters p: Parameters = Parameters()) -> [Region] {
        var done: [Region] = []
        var queue = [object]
        var cuts = 0
        while let next = queue.popLast() {
            if cuts < p.maximumCuts, let pieces = cut(next, minimumPixels: minimumPixels, parameters: p) {
                cuts += 1
                queue += pieces
            } else {
                done.append(next)
            }
        }
        guard done.count >= 2 else { return [object] }
        // the pieces in column-major order of their first pixel, as labelling would give them
        return done.sorted { ($0.pixels[0].col, $0.pixels[0].row) < ($1.pixels[0].col, $1.pixels[0].row) }
    }

    /// The object cut once at its most salient neck, or nil.
    static func cut(_ object: Region, minimumPixels: Int, parameters p: Parameters) -> [Region]? {
        guard object.area >= 2 * minimumPixels, object.box.width >= 3, object.box.height >= 3 else { return nil }
        let mask = object.mask(pad: 1)
        let w = mask.width, h = mask.height
        let convex = Shape.convexImage(object)  // the box without padding
        var hull = BinaryImage(width: w, height: h)
        for r in 0..<convex.height { for c in 0..<convex.width where convex[r, c] { hull[r + 1, c + 1] = true } }
        for i in mask.pixels.indices where mask.pixels[i] { hull.pixels[i] = true }
        let depth = EuclideanDistance.transform(hull)
        var deficiency = BinaryImage(width: w, height: h)
        for i in hull.pixels.indices where hull.pixels[i] && !mask.pixels[i] { deficiency.pixels[i] = true }
        // each concavity: the object pixels beside it, with their depth
        struct Concavity { var outline: [(index: Int, depth: Double)]; var depth: Double }
        var concavities: [Concavity] = []
        var owner = [Int32](repeating: -1, count: w * h)
        for part in deficiency.regions(.eight) {
            var outline: [(index: Int, depth: Double)] = []
            let k = Int32(concavities.count)
            for px in part.pixels {
                for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let j = (px.row + dr) * w + px.col + dc
                    if mask.pixels[j] && owner[j] != k { owner[j] = k; outline.append((j, depth[j])) }
                }
            }
            let deepest = outline.map(\.depth).max() ?? 0
            if deepest >= p.minimumDepthPx {
                concavities.append(Concavity(outline: outline.filter { $0.depth >= 0.5 * deepest }, depth: deepest))
            }
        }
        guard concavities.count >= 2 else { return nil }
        struct Candidate { var a: Int; var b: Int; var length: Double; var salience: Double }
        let longestNeck = (2 * Double(object.area) / Double.pi).squareRoot()  // the diameter of half the object
        var candidates: [Candidate] = []
        for i in 0..<concavities.count {
            for j in (i + 1)..<concavities.count {
                var best = (a: 0, b: 0, d2: Int.max)
                for u in concavities[i].outline {
                    let ur = u.index / w, uc = u.index % w
                    for v in concavities[j].outline {
                        let dr = v.index / w - ur, dc = v.index % w - uc
                        let d2 = dr * dr + dc * dc
                        if d2 < best.d2 { best = (u.index, v.index, d2) }
                    }
                }
                let length = Double(best.d2).squareRoot() + 1  // pixel centres to outer edges
                let salience = min(concavities[i].depth, concavities[j].depth) / length
                // the smaller piece has at most half the object's area: a longer cut fails the ratio
                if salience >= p.minimumSalience && length <= p.maximumNeckRatio * longestNeck { candidates.append(Candidate(a: best.a, b: best.b, length: length, salience: salience)) }
            }
        }
        // two bends on the same side of the object make a short, salient chord that cuts off
        // nothing: a cut must leave a good share of the object on either side of its line
        // (every fourth pixel counted), before the object is labelled for it
        let sample = stride(from: 0, to: object.pixels.count, by: 4).map { object.pixels[$0] }
        let r0 = object.box.minRow - 1, c0 = object.box.minCol - 1
        func balanced(_ c: Candidate) -> Bool {
            let ar = Double(c.a / w + r0), ac = Double(c.a % w + c0), br = Double(c.b / w + r0), bc = Double(c.b % w + c0)
            var left = 0, right = 0
            for px in sample {
                let cross = (bc - ac) * (Double(px.row) - ar) - (br - ar) * (Double(px.col) - ac)
                if cross > 0 { left += 1 } else if cross < 0 { right += 1 }
            }
            let share = p.minimumAreaRatio / (1 + p.minimumAreaRatio) / 2
            return Double(min(left, right)) >= share * Double(sample.count)
        }
        var tries = 0, looked = 0
        for c in candidates.sorted(by: { $0.salience > $1.salience }) {
            looked += 1
            if tries >= p.maximumTries || looked > 16 * p.maximumTries { break }
            guard balanced(c) else { continue }
            tries += 1
            guard let pieces = split(mask, from: c.a, to: c.b, minimumPixels: minimumPixels) else { continue }
            let smaller = pieces.map(\.area).min()!
            guard Double(smaller) >= p.minimumAreaRatio * Double(pieces.map(\.area).max()!) else { continue }
            let diameter = (4 * Double(smaller) / Double.pi).squareRoot()
            guard c.length <= p.maximumNeckRatio * diameter else { continue }
            let out = pieces.map { Region(pixels: $0.pixels.map { Pixel($0.row + r0, $0.col + c0) }) }
            // solidity from the convex image alone (`Shape` would trace both perimeters too)
            if out.contains(where: { Double($0.area) < p.minimumPieceSolidity * Double(Shape.convexImage($0).count) }) { continue }
            return out
        }
        return nil
    }

    /// The mask cut by a 4-connected line between pixels `a` and `b`: nil unless the line runs
    /// inside the mask and leaves exactly two pieces of at least `minimumPixels`. The line's
    /// pixels (and any crumbs) are given to the piece they touch first, growing both at once.
    static func split(_ mask: BinaryImage, from a: Int, to b: Int, minimumPixels: Int) -> [Region]? {
        let w = mask.width
        var line: [Int] = []
        let r0 = a / w, c0 = a % w, r1 = b / w, c1 = b % w
        let steps = max(abs(r1 - r0), abs(c1 - c0), 1)
        var r = r0, c = c0
        line.append(a)
        for s in 1...steps {
            let t = Double(s) / Double(steps)
            let nr = Int((Double(r0) + t * Double(r1 - r0)).rounded()), nc = Int((Double(c0) + t * Double(c1 - c0)).rounded())
            if nr != r && nc != c { line.append(nr * w + c) }  // no diagonal step: the cut must part 8-connected pieces
            r = nr; c = nc
            line.append(r * w + c)
        }
        guard line.allSatisfy({ mask.pixels[$0] }) else { return nil }
        var rest = mask
        for i in line { rest.pixels[i] = false }
        let parts = rest.regions(.eight).sorted { $0.area > $1.area }
        guard parts.count >= 2, parts[1].area >= minimumPixels, parts.count == 2 || parts[2].area < minimumPixels else { return nil }
        // grow the two pieces over what the cut took
        var label = [Int8](repeating: 0, count: mask.pixels.count)
        var frontier: [Int] = []
        for (k, part) in parts.prefix(2).enumerated() {
            for px in part.pixels { let i = px.row * w + px.col; label[i] = Int8(k + 1); frontier.append(i) }
        }
        while !frontier.isEmpty {
            var next: [Int] = []
            for i in frontier {
                for o in [-w, w, -1, 1] {
                    let j = i + o
                    if mask.pixels[j] && label[j] == 0 { label[j] = label[i]; next.append(j) }
                }
            }
            frontier = next
        }
        var pieces: [[Pixel]] = [[], []]
        for i in label.indices where label[i] > 0 { pieces[Int(label[i]) - 1].append(Pixel(i / w, i % w)) }
        return pieces.map { Region(pixels: $0) }
    }
}
