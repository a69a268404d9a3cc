/// Ultimate erosion of convex shapes (UECS), the reference program's separation of
/// overlapping particles (after Park & Ding, *Data Science for Nano Image Analysis*, 2021).
///
/// Works on the object's bounding-box crop. Erosion treats pixels outside the crop as set,
/// dilation as unset (MATLAB's padding for binary morphology).
///
/// 1. Sweeps `s = 0, 1, ...`: every connected piece of the working image is tested. A piece that
///    is non-convex (convexity at or below the threshold, or `1 - area / convexArea >= 1 -
///    solidityThreshold`), larger than the marker minimum and thicker (minor axis) than
///    `floor(markerMinimum / 10)` is eroded on its own, by the 2 x 2 square on even sweeps and
///    the 3 x 3 cross on odd sweeps, then opened with the cross. Any other piece freezes: it
///    leaves the working image, becomes a marker if larger than the marker minimum, and records
///    `s + 1`, the number of steps it may regrow. Sweeps end when no piece was eroded.
/// 2. The markers are labelled (8-connected, column-major order) and each is regrown for at
///    most its recorded count of steps: dilation by the same alternation, closing with the cross
///    (zero-padded), keeping only new pixels inside the original object. After an even step the
///    growth stops unless it added pixels amounting to at least `regrowthStopFraction` of the
///    dilation ring (the new pixels of the closed dilation, inside the object or not).
/// 3. A regrown particle that is still non-convex (same test) is discarded.
///
/// Separated particles may share pixels with their neighbours; each is measured on its own.
enum UECS {
    static func isNonConvex(_ piece: Region, _ shape: Shape, _ p: AnalysisParameters) -> Bool {
        shape.convexity <= p.convexityThreshold
            || 1 - Double(piece.area) / Double(max(shape.convexAreaPx, 1)) >= 1 - p.solidityThreshold - 1e-12
    }

    /// Safety bound on erosion sweeps (the reference loops until nothing changes).
    static func maximumSweeps(_ crop: BinaryImage) -> Int { 2 * (crop.width + crop.height) + 8 }

    static func separate(_ object: Region, markerMinimumPixels markerMin: Int, parameters p: AnalysisParameters) -> [Region] {
        let crop = object.mask(pad: 0)
        let w = crop.width
        var work = crop
        var markers = BinaryImage(width: w, height: crop.height)
        var regrowSteps = [Int](repeating: 0, count: crop.pixels.count)
        let minorLimit = Double(markerMin / 10)
        var sweep = 0
        var changed = true
        while changed {
            changed = false
            let se: StructuringElement = sweep % 2 == 0 ? .square2 : .cross3
            var next = work
            let force = sweep >= maximumSweeps(crop)
            for piece in work.regions(.eight) {
                let shape = Shape(piece)
                if !force && isNonConvex(piece, shape, p) && piece.area > markerMin && minorAxisLength(piece) > minorLimit {
                    let eroded = BinaryImage(width: w, height: crop.height, regions: [piece]).eroded(by: se).opened(by: .cross3)
                    for px in piece.pixels { next[px.row, px.col] = eroded[px.row, px.col] }
                    changed = true
                } else {
                    for px in piece.pixels {
                        if piece.area > markerMin { markers[px.row, px.col] = true }
                        next[px.row, px.col] = false
                        regrowSteps[px.row * w + px.col] = sweep + 1
                    }
                }
            }
            work = next
            sweep += 1
        }
        var out: [Region] = []
        for marker in markers.regions(.eight) {
            let steps = marker.pixels.map { regrowSteps[$0.row * w + $0.col] }.max() ?? 0
            var current = BinaryImage(width: w, height: crop.height, regions: [marker])
            for step in 0..<steps {
                let se: StructuringElement = step % 2 == 0 ? .square2 : .cross3
                let grown = current.dilated(by: se).closedZeroPadded(by: .cross3)
                var added = 0, ring = 0
                var next = current
                for i in grown.pixels.indices where grown.pixels[i] && !current.pixels[i] {
                    ring += 1
                    if crop.pixels[i] { next.pixels[i] = true; added += 1 }
                }
                current = next
                if step % 2 == 0 && !(added > 0 && Double(added) >= p.regrowthStopFraction * Double(ring)) { break }
            }
            let parts = current.regions(.eight)
            guard let first = parts.first, !isNonConvex(first, Shape(first), p) else { continue }
            for part in parts {
                out.append(Region(pixels: part.pixels.map { Pixel($0.row + object.box.minRow, $0.col + object.box.minCol) }))
            }
        }
        return out
    }
}

/// Distance-transform watershed, as ImageJ's "Watershed" does it: the markers are the maxima of
/// the Euclidean distance map that stand out from their surroundings by more than
/// `prominencePx` (0.5 px, ImageJ's tolerance), and the object is flooded from them in order of
/// decreasing distance; a pixel reached by two basins stays unset, forming a one-pixel cut.
enum Watershed {
    static let prominencePx = 0.5

    static func separate(_ object: Region, minimumPixels: Int) -> [Region] {
        let mask = object.mask(pad: 1)
        let w = mask.width, h = mask.height, n = w * h
        let dist = EuclideanDistance.transform(mask)
        let order = (0..<n).filter { mask.pixels[$0] }.sorted { dist[$0] > dist[$1] }
        func neighbours(_ i: Int) -> [Int] {
            let r = i / w, c = i % w
            var out: [Int] = []
            for dr in -1...1 { for dc in -1...1 where dr != 0 || dc != 0 {
                let nr = r + dr, nc = c + dc
                if nr >= 0, nc >= 0, nr < h, nc < w, mask.pixels[nr * w + nc] { out.append(nr * w + nc) }
            } }
            return out
        }
        // 1. Markers: from each unclaimed pixel, highest first, flood the pixels within the
        //    prominence below it; if the flood meets a higher pixel or another marker's territory,
        //    it is not a maximum of its own.
        var label = [Int32](repeating: 0, count: n)
        var markers: Int32 = 0
        var visited = [Int](repeating: -1, count: n)
        // pixels a failed flood reached are no maxima either (ImageJ's Find Maxima does the
        // same): without this every pixel floods its own ring, O(pixels x radius)
        var settled = [Bool](repeating: false, count: n)
        for seed in order where label[seed] == 0 && !settled[seed] {
            let top = dist[seed]
            var stack = [seed], plateau: [Int] = []
            visited[seed] = seed
            var isMaximum = true
            while let i = stack.popLast() {
                plateau.append(i)
                for j in neighbours(i) {
                    if dist[j] > top || label[j] != 0 { isMaximum = false; continue }
                    if visited[j] != seed && dist[j] > top - prominencePx { visited[j] = seed; stack.append(j) }
                }
            }
            guard isMaximum else {
                for i in plateau { settled[i] = true }
                continue
            }
            markers += 1
            // the marker itself: the plateau's pixels at the top value
            for i in plateau where dist[i] >= top - 1e-9 { label[i] = markers }
        }
        guard markers >= 2 else { return [object] }
        // 2. Flood from the markers in order of decreasing distance: a priority queue of levels
        //    a quarter pixel apart (O(pixels)). A pixel reached from two markers is a dividing
        //    pixel and belongs to neither.
        var assigned = label
        let dividing: Int32 = -1
        let top = order.first.map { dist[$0] } ?? 0
        let levels = Int(top * 4) + 2
        func level(_ i: Int) -> Int { min(levels - 1, max(0, Int((top - dist[i]) * 4))) }
        var buckets = [[Int]](repeating: [], count: levels)
        var queued = [Bool](repeating: false, count: n)
        for i in 0..<n where assigned[i] > 0 {
            queued[i] = true
            for j in neighbours(i) where assigned[j] == 0 && !queued[j] { queued[j] = true; buckets[level(j)].append(j) }
        }
        var current = 0
        while current < levels {
            guard let i = buckets[current].popLast() else { current += 1; continue }
            var found: Int32 = 0
            var conflict = false
            for j in neighbours(i) where assigned[j] > 0 {
                if found == 0 { found = assigned[j] } else if found != assigned[j] { conflict = true }
            }
            if conflict { assigned[i] = dividing; continue }
            assigned[i] = found
            for j in neighbours(i) where assigned[j] == 0 && !queued[j] {
                queued[j] = true
                buckets[max(level(j), current)].append(j)
            }
        }
        var pieces: [Int32: [Pixel]] = [:]
        for i in 0..<n where assigned[i] > 0 {
            pieces[assigned[i], default: []].append(Pixel(i / w + object.box.minRow - 1, i % w + object.box.minCol - 1))
        }
        let regions = pieces.keys.sorted().compactMap { k -> Region? in
            let px = pieces[k]!
            return px.count >= minimumPixels ? Region(pixels: px) : nil
        }
        return regions.count >= 2 ? regions : [object]
    }
}

/// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher): distance in pixels from each
/// foreground pixel to the nearest background pixel; pixels outside the image count as background.
enum EuclideanDistance {
    static func transform(_ mask: BinaryImage) -> [Double] {
        let w = mask.width, h = mask.height
        let inf = 1e20
        var f = [Double](repeating: 0, count: w * h)
        for i in f.indices { f[i] = mask.pixels[i] ? inf : 0 }
        func dt1(_ g: [Double]) -> [Double] {
            let n = g.count
            // pad with background on both ends
            let padded = [0.0] + g + [0.0]
            let m = n + 2
            var d = [Double](repeating: 0, count: m)
            var v = [Int](repeating: 0, count: m)
            var z = [Double](repeating: 0, count: m + 1)
            var k = 0
            z[0] = -inf; z[1] = inf
            for q in 1..<m {
                var s: Double
                repeat {
                    let vk = v[k]
                    s = ((padded[q] + Double(q * q)) - (padded[vk] + Double(vk * vk))) / Double(2 * q - 2 * vk)
                    if s <= z[k] { k -= 1 } else { break }
                } while k >= 0
                k += 1
                v[k] = q; z[k] = s; z[k + 1] = inf
            }
            k = 0
            for q in 0..<m {
                while z[k + 1] < Double(q) { k += 1 }
                let dq = Double(q - v[k])
                d[q] = dq * dq + padded[v[k]]
            }
            return Array(d[1...n])
        }
        for c in 0..<w {
            let col = (0..<h).map { f[$0 * w + c] }
            let out = dt1(col)
            for r in 0..<h { f[r * w + c] = out[r] }
        }
        for r in 0..<h {
            let out = dt1(Array(f[(r * w)..<((r + 1) * w)]))
            for c in 0..<w { f[r * w + c] = out[c].squareRoot() }
        }
        return f
    }
}
