/// Ultimate erosion of convex shapes (UECS), the reference program's separation of
/// overlapping particles.
///
/// A non-convex object is eroded pass by pass, alternating the 2 x 2 square (even passes) and
/// the 3 x 3 cross (odd passes), each erosion followed by an opening with the cross. After each
/// pass every connected piece is tested: it keeps eroding while it is non-convex (convexity at or
/// below the threshold, or solidity below its threshold), larger than the marker minimum, and
/// thicker (minor axis) than `floor(markerMinimum / 10)`; otherwise it freezes and, if larger than
/// the marker minimum, becomes a marker that remembers how many passes it took. Each marker is
/// then regrown for at most that many steps (dilation with the same alternation, a closing with
/// the cross, restriction to the original object), stopping early on an even step when the new
/// pixels are less than `regrowthStopFraction` of the dilation ring. A regrown particle that is
/// still non-convex is discarded. Particles may share pixels with their neighbours.
enum UECS {
    static func separate(_ object: Region, markerMinimumPixels markerMin: Int, parameters p: AnalysisParameters) -> [Region] {
        let pad = 2
        let original = object.mask(pad: pad)
        let offsetRow = object.box.minRow - pad, offsetCol = object.box.minCol - pad
        var active = original
        var markers: [(BinaryImage, Int)] = []
        var pass = 0
        let minorLimit = Double(markerMin / 10)
        while true {
            let se: StructuringElement = pass % 2 == 0 ? .square2 : .cross3
            let eroded = active.eroded(by: se).opened(by: .cross3)
            if eroded == active { break }
            pass += 1
            var next = BinaryImage(width: active.width, height: active.height)
            for piece in eroded.regions(.eight) {
                let shape = Shape(piece)
                let nonConvex = shape.convexity <= p.convexityThreshold || shape.solidity(area: piece.area) < p.solidityThreshold
                if nonConvex && piece.area > markerMin && minorAxisLength(piece) > minorLimit {
                    for px in piece.pixels { next[px.row, px.col] = true }
                } else if piece.area > markerMin {
                    markers.append((BinaryImage(width: active.width, height: active.height, regions: [piece]), pass))
                }
            }
            active = next
            if active.count == 0 { break }
        }
        var out: [Region] = []
        for (marker, passes) in markers {
            var current = marker
            for step in 0..<passes {
                let se: StructuringElement = step % 2 == 0 ? .square2 : .cross3
                let dilated = current.dilated(by: se)
                let ring = dilated.count - current.count
                var grown = dilated.closedZeroPadded(by: .cross3)
                for i in grown.pixels.indices where grown.pixels[i] && !original.pixels[i] { grown.pixels[i] = false }
                let added = grown.count - current.count
                if step % 2 == 0 && Double(added) < p.regrowthStopFraction * Double(ring) { break }
                current = grown
            }
            guard let regrown = current.regions(.eight).max(by: { $0.area < $1.area }) else { continue }
            let shape = Shape(regrown)
            if shape.convexity <= p.convexityThreshold { continue }
            out.append(Region(pixels: regrown.pixels.map { Pixel($0.row + offsetRow, $0.col + offsetCol) }))
        }
        return out
    }
}

/// Distance-transform watershed (as ImageJ's "Watershed"): markers are the maxima of the
/// Euclidean distance map that stand out by at least half a pixel, and the object is flooded
/// from them in order of decreasing distance; pixels reached by two basins form the cut line.
enum Watershed {
    static func separate(_ object: Region, minimumPixels: Int) -> [Region] {
        let mask = object.mask(pad: 1)
        let w = mask.width, h = mask.height
        let dist = EuclideanDistance.transform(mask)
        // markers: connected plateaus of local maxima, merged when a lower saddle is within 0.5 px
        var label = [Int32](repeating: 0, count: w * h)
        let order = (0..<(w * h)).filter { mask.pixels[$0] }.sorted { dist[$0] > dist[$1] }
        var basins: Int32 = 0
        var peak: [Double] = [0]
        let tolerance = 0.5
        for i in order {
            let r = i / w, c = i % w
            var neighbours = Set<Int32>()
            for dr in -1...1 { for dc in -1...1 where dr != 0 || dc != 0 {
                let nr = r + dr, nc = c + dc
                guard nr >= 0, nc >= 0, nr < h, nc < w else { continue }
                let l = label[nr * w + nc]
                if l > 0 { neighbours.insert(l) }
            } }
            if neighbours.isEmpty {
                basins += 1
                peak.append(dist[i])
                label[i] = basins
            } else if neighbours.count == 1 {
                label[i] = neighbours.first!
            } else {
                // two basins meet: keep both only if each peak stands out by the tolerance
                let sorted = neighbours.sorted { peak[Int($0)] > peak[Int($1)] }
                let significant = sorted.filter { peak[Int($0)] - dist[i] >= tolerance }
                if significant.count >= 2 {
                    label[i] = -1  // cut line
                } else {
                    // merge the insignificant basins into the highest one
                    let keep = sorted[0]
                    for other in sorted.dropFirst() where !significant.contains(other) || other == keep {
                        for j in label.indices where label[j] == other { label[j] = keep }
                    }
                    label[i] = keep
                }
            }
        }
        var pieces: [Int32: [Pixel]] = [:]
        for i in label.indices where label[i] > 0 {
            pieces[label[i], default: []].append(Pixel(i / w + object.box.minRow - 1, i % w + object.box.minCol - 1))
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
