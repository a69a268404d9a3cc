import CConv
import COpenBLAS
import Dispatch
import Foundation
#if canImport(Glibc)
import CMalloc
#endif

/// Convolution geometry for 2-D NCHW tensors.
struct ConvGeometry {
    var kh: Int, kw: Int, strideH: Int, strideW: Int, dilH: Int, dilW: Int
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    var groups: Int

    func outputSize(h: Int, w: Int) -> (Int, Int) {
        let oh = (h + padTop + padBottom - dilH * (kh - 1) - 1) / strideH + 1
        let ow = (w + padLeft + padRight - dilW * (kw - 1) - 1) / strideW + 1
        return (oh, ow)
    }
}

extension Array where Element == Float {
    /// An array whose every element the caller writes before any is read: a layer's output that
    /// its kernel fills whole. Filling it with zeros first was one more pass over memory for every
    /// layer, about 250 MB per 1024 x 1024 run of the instance U-Net.
    static func unfilled(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}

/// The C kernels of `CConv` (AVX2 and FMA) can run on this CPU.
let cpuHasAVX2FMA = antema_conv3x3_available() == 1

/// A table of plane addresses as the C kernels take it (`const float *const *`; an optional
/// pointer has a plain pointer's layout).
func cPlaneTable(_ planes: UnsafePointer<UnsafePointer<Float>>) -> UnsafePointer<UnsafePointer<Float>?> {
    UnsafeRawPointer(planes).assumingMemoryBound(to: UnsafePointer<Float>?.self)
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with the array's storage, or with nil for no array (an optional bias for C).
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// Hands a pointer to the threads of `concurrentPerform`; each thread writes its own part.
struct Shared<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The kernel for a 3 x 3 convolution whose input channel planes need not be adjacent (a
/// tensor's own planes, or a concatenation's parts where they lie): the direct kernel where it
/// applies, else Winograd.
enum PlanarKernel {
    case direct, winograd

    /// nil where neither applies (the caller goes on with im2col or makes the concatenation).
    static func choose(_ g: ConvGeometry, cin: Int, cout: Int, allowWinograd: Bool = Winograd.enabled, allowDirect: Bool = true) -> PlanarKernel? {
        if allowDirect && Direct3x3.applies(g, cin: cin, cout: cout) { return .direct }
        if allowWinograd && Winograd.applies(g, cinG: cin) { return .winograd }
        return nil
    }

    /// `winogradWeights`: the weights as `Winograd.transformWeights` makes them, where the engine
    /// made them when the model loaded (transformed here otherwise).
    func run(planes: [UnsafePointer<Float>], weights: UnsafePointer<Float>, bias: [Float]?, out: UnsafeMutablePointer<Float>,
             cout: Int, h: Int, w: Int, oh: Int, ow: Int, g: ConvGeometry, relu: Bool, winogradWeights: [Float]? = nil) {
        switch self {
        case .direct: Direct3x3.forward(planes: planes, weights: weights, bias: bias, out: out, cout: cout, h: h, w: w, relu: relu)
        case .winograd:
            Winograd.forward(planes: planes, weights, out, bias: bias, h: h, wd: w, cout: cout, oh: oh, ow: ow, g: g, relu: relu,
                             transformed: winogradWeights)
        }
    }
}

enum Convolution {
    /// Bytes of im2col buffer per strip: the columns are built a few MB at a time.
    static let stripBytes = 1 << 19
    /// Worker threads for convolutions (OpenBLAS itself is kept single-threaded).
    static let threads: Int = {
        openblas_set_num_threads(1)
        #if canImport(Glibc)
        // Tensors are large and short-lived. glibc would hand each one above 32 MB fresh pages
        // from mmap, and every first touch of a page is a fault the kernel must zero (a fifth
        // of the run time here). Keeping them on the heap and never trimming below 512 MB lets
        // every layer reuse the memory the previous one freed; the cost is that the process
        // keeps its peak (about 400 MB for a 1024 px tile) after a run. ANTEMA_MALLOC=mmap
        // restores glibc's behaviour.
        if ProcessInfo.processInfo.environment["ANTEMA_MALLOC"] == "mmap" {
            mallopt(M_MMAP_THRESHOLD, 1 << 20)
        } else {
            mallopt(M_MMAP_MAX, 0)
            mallopt(M_TRIM_THRESHOLD, 512 << 20)
            // (that holds for the main arena; a program that runs networks on other threads
            // needs MALLOC_ARENA_MAX=1 from its start, as antemad sets it: docs/inference.md)
        }
        #endif
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// y = conv(x, w) + b, NCHW. `weights` is [Cout, Cin/groups, kh, kw]; `relu` fuses a ReLU.
    static func forward(_ x: [Float], n: Int, c: Int, h: Int, w: Int, weights: [Float], bias: [Float]?, cout: Int,
                        g: ConvGeometry, relu: Bool, allowWinograd: Bool = Winograd.enabled, allowDirect: Bool = true,
                        winogradWeights: [Float]? = nil) -> (out: [Float], oh: Int, ow: Int) {
        let (oh, ow) = g.outputSize(h: h, w: w)
        guard oh > 0, ow > 0 else { return ([], max(0, oh), max(0, ow)) }
        let cinG = c / g.groups, coutG = cout / g.groups
        let k = cinG * g.kh * g.kw
        let spatial = oh * ow
        var out = [Float].unfilled(n * cout * spatial)  // every path below writes every output
        let pointwise = g.kh == 1 && g.kw == 1 && g.strideH == 1 && g.strideW == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0
        let depthwise = cinG == 1 && coutG == 1
        x.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    for b in 0..<n {
                        if depthwise {
                            depthwiseConv(xp.baseAddress! + b * c * h * w, wp.baseAddress!, op.baseAddress! + b * cout * spatial, c: c, h: h, w: w, oh: oh, ow: ow, g: g)
                            for co in 0..<cout {
                                let bv = bias?[co] ?? 0
                                let line = op.baseAddress! + (b * cout + co) * spatial
                                for i in 0..<spatial { let v = line[i] + bv; line[i] = relu && v < 0 ? 0 : v }
                            }
                            continue
                        }
                        if let kernel = PlanarKernel.choose(g, cin: c, cout: cout, allowWinograd: allowWinograd, allowDirect: allowDirect) {
                            kernel.run(planes: (0..<c).map { UnsafePointer(xp.baseAddress! + (b * c + $0) * h * w) }, weights: wp.baseAddress!, bias: bias,
                                       out: op.baseAddress! + b * cout * spatial, cout: cout, h: h, w: w, oh: oh, ow: ow, g: g, relu: relu,
                                       winogradWeights: winogradWeights)
                            continue
                        }
                        if c == 1 && g.groups == 1 && g.strideH == 1 && g.strideW == 1 {
                            singleChannel(xp.baseAddress! + b * h * w, wp.baseAddress!, op.baseAddress! + b * cout * spatial, bias: bias,
                                          h: h, w: w, cout: cout, oh: oh, ow: ow, g: g, relu: relu)
                            continue
                        }
                        for grp in 0..<g.groups {
                            let xg = Shared(xp.baseAddress! + (b * c + grp * cinG) * h * w)
                            let wg = Shared(wp.baseAddress! + grp * coutG * k)
                            let og = Shared(op.baseAddress! + (b * cout + grp * coutG) * spatial)
                            // The output columns are split into strips; each worker builds the
                            // im2col columns of its strip (a few MB, still in cache) and multiplies
                            // them at once with single-threaded sgemm: both cores busy, no
                            // oversubscription between OpenBLAS's threads and ours.
                            let rowsPerStrip = pointwise ? max(1, min(oh, (stripBytes / 4) / max(1, ow)))
                                                         : max(1, min(oh, stripBytes / max(1, k * ow * 4)))
                            let strips = (oh + rowsPerStrip - 1) / rowsPerStrip
                            let workers = min(strips, Convolution.threads)
                            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                                var cols = pointwise ? [] : [Float](repeating: 0, count: k * rowsPerStrip * ow)
                                var strip = worker
                                while strip < strips {
                                    let r0 = strip * rowsPerStrip
                                    let rows = min(rowsPerStrip, oh - r0)
                                    let ncols = rows * ow
                                    if pointwise {
                                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(coutG), Int32(ncols), Int32(k), 1,
                                                    wg.value, Int32(k), xg.value + r0 * ow, Int32(spatial), 0, og.value + r0 * ow, Int32(spatial))
                                    } else {
                                        cols.withUnsafeMutableBufferPointer { cp in
                                            im2col(xg.value, cp.baseAddress!, c: cinG, h: h, w: w, ow: ow, r0: r0, rows: rows, g: g)
                                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(coutG), Int32(ncols), Int32(k), 1,
                                                        wg.value, Int32(k), cp.baseAddress!, Int32(ncols), 0, og.value + r0 * ow, Int32(spatial))
                                        }
                                    }
                                    // bias and ReLU while the strip is still in cache
                                    for co in 0..<coutG {
                                        let bv = bias?[grp * coutG + co] ?? 0
                                        let line = og.value + co * spatial + r0 * ow
                                        if relu {
                                            for i in 0..<ncols { let v = line[i] + bv; line[i] = v > 0 ? v : 0 }
                                        } else if bv != 0 {
                                            for i in 0..<ncols { line[i] += bv }
                                        }
                                    }
                                    strip += workers
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, oh, ow)
    }

    /// Transposed convolution whose windows do not overlap (kernel = stride, no padding: the
    /// U-Net's 2 x 2 upsampling): each strip of input rows is one sgemm, Wᵀ [Cout·kh·kw x Cin] x
    /// X [Cin x rows·w], whose columns are written straight to their output pixels with the bias.
    static func nonOverlappingTransposed(_ x: [Float], n: Int, c: Int, h: Int, w: Int, weights: [Float], bias: [Float]?, cout: Int, kh: Int, kw: Int) -> [Float] {
        let oh = h * kh, ow = w * kw, kk = cout * kh * kw
        var out = [Float].unfilled(n * cout * oh * ow)  // each input pixel writes its kh x kw outputs
        let rowsPerStrip = max(1, min(h, stripBytes / max(1, kk * w * 4)))
        let strips = (h + rowsPerStrip - 1) / rowsPerStrip
        x.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    let xs = Shared(xp.baseAddress!), ws = Shared(wp.baseAddress!), os = Shared(op.baseAddress!)
                    for b in 0..<n {
                        let workers = min(strips, Convolution.threads)
                        DispatchQueue.concurrentPerform(iterations: workers) { worker in
                            let cols = UnsafeMutablePointer<Float>.allocate(capacity: kk * rowsPerStrip * w)
                            defer { cols.deallocate() }
                            var strip = worker
                            while strip < strips {
                                let r0 = strip * rowsPerStrip, rows = min(rowsPerStrip, h - r0), ncols = rows * w
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kk), Int32(ncols), Int32(c), 1,
                                            ws.value, Int32(kk), xs.value + b * c * h * w + r0 * w, Int32(h * w), 0, cols, Int32(ncols))
                                for co in 0..<cout {
                                    let bv = bias?[co] ?? 0
                                    let plane = os.value + (b * cout + co) * oh * ow
                                    for ki in 0..<kh {
                                        if kw == 2 && cpuHasAVX2FMA {  // antema_interleave2
                                            // the two columns of each window side by side, with vector shuffles
                                            let src = cols + (co * kh + ki) * kw * ncols
                                            for iy in 0..<rows {
                                                antema_interleave2(src + iy * w, src + ncols + iy * w, bv, plane + ((r0 + iy) * kh + ki) * ow, Int32(w))
                                            }
                                            continue
                                        }
                                        for kj in 0..<kw {
                                            let src = cols + ((co * kh + ki) * kw + kj) * ncols
                                            for iy in 0..<rows {
                                                let line = plane + ((r0 + iy) * kh + ki) * ow + kj
                                                let s = src + iy * w
                                                for ix in 0..<w { line[ix * kw] = s[ix] + bv }
                                            }
                                        }
                                    }
                                }
                                strip += workers
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// A convolution of a single-channel image (a network's first layer) where the direct kernel
    /// does not apply (other kernel sizes or padding, no AVX2): for each output row and channel,
    /// kh x kw shifted input rows scaled and added (vectorised loops), rows split over the cores.
    /// im2col would multiply a 9-deep matrix here, which sgemm does poorly.
    static func singleChannel(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, bias: [Float]?,
                              h: Int, w: Int, cout: Int, oh: Int, ow: Int, g: ConvGeometry, relu: Bool) {
        let xs = Shared(x), ws = Shared(wt), os = Shared(out)
        let workers = min(oh, Convolution.threads)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let r0 = oh * worker / workers, r1 = oh * (worker + 1) / workers
            for co in 0..<cout {
                let bv = bias?[co] ?? 0
                let k = ws.value + co * g.kh * g.kw
                for oy in r0..<r1 {
                    let line = os.value + (co * oh + oy) * ow
                    for ox in 0..<ow { line[ox] = bv }
                    for ki in 0..<g.kh {
                        let iy = oy - g.padTop + ki * g.dilH
                        guard iy >= 0 && iy < h else { continue }
                        let src = xs.value + iy * w
                        for kj in 0..<g.kw {
                            let wv = k[ki * g.kw + kj]
                            let x0 = -g.padLeft + kj * g.dilW   // input column of output column 0
                            let lo = min(ow, max(0, -x0)), hi = max(lo, min(ow, w - x0))
                            let s = src + x0
                            for ox in lo..<hi { line[ox] += wv * s[ox] }
                        }
                    }
                    if relu { for ox in 0..<ow { line[ox] = max(line[ox], 0) } }
                }
            }
        }
    }

    /// Columns for output rows r0..<r0+rows: row index (ci, ki, kj), column (oy, ox).
    static func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int, ow: Int, r0: Int, rows: Int, g: ConvGeometry) {
        let ncols = rows * ow
        let krows = c * g.kh * g.kw
        do {
            for row in 0..<krows {
                let ci = row / (g.kh * g.kw), ki = (row / g.kw) % g.kh, kj = row % g.kw
                let dst = cols + row * ncols
                let src = x + ci * h * w
                for oy in 0..<rows {
                    let iy = (r0 + oy) * g.strideH - g.padTop + ki * g.dilH
                    let d = dst + oy * ow
                    if iy < 0 || iy >= h {
                        for ox in 0..<ow { d[ox] = 0 }
                        continue
                    }
                    let line = src + iy * w
                    let x0 = -g.padLeft + kj * g.dilW
                    if g.strideW == 1 {
                        // zeros left of the image, a straight copy, zeros right of it
                        let lo = min(ow, max(0, -x0)), hi = max(lo, min(ow, w - x0))
                        for ox in 0..<lo { d[ox] = 0 }
                        if hi > lo { (d + lo).update(from: line + x0 + lo, count: hi - lo) }
                        for ox in hi..<ow { d[ox] = 0 }
                    } else {
                        for ox in 0..<ow {
                            let ix = x0 + ox * g.strideW
                            d[ox] = ix >= 0 && ix < w ? line[ix] : 0
                        }
                    }
                }
            }
        }
    }

    static func depthwiseConv(_ x: UnsafePointer<Float>, _ wt: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int, oh: Int, ow: Int, g: ConvGeometry) {
        let xs = Shared(x), ws = Shared(wt), os = Shared(out)
        DispatchQueue.concurrentPerform(iterations: c) { ch in
            let src = xs.value + ch * h * w, dst = os.value + ch * oh * ow, kern = ws.value + ch * g.kh * g.kw
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s: Float = 0
                    for ki in 0..<g.kh {
                        let iy = oy * g.strideH - g.padTop + ki * g.dilH
                        guard iy >= 0 && iy < h else { continue }
                        for kj in 0..<g.kw {
                            let ix = ox * g.strideW - g.padLeft + kj * g.dilW
                            if ix >= 0 && ix < w { s += src[iy * w + ix] * kern[ki * g.kw + kj] }
                        }
                    }
                    dst[oy * ow + ox] = s
                }
            }
        }
    }

    /// Transposed convolution: weights [Cin, Cout/groups, kh, kw]; output size from the geometry
    /// and `outputPadding`.
    static func transposed(_ x: [Float], n: Int, c: Int, h: Int, w: Int, weights: [Float], bias: [Float]?, cout: Int,
                           g: ConvGeometry, outputPadding: (Int, Int)) -> (out: [Float], oh: Int, ow: Int) {
        let oh = (h - 1) * g.strideH - g.padTop - g.padBottom + g.dilH * (g.kh - 1) + outputPadding.0 + 1
        let ow = (w - 1) * g.strideW - g.padLeft - g.padRight + g.dilW * (g.kw - 1) + outputPadding.1 + 1
        guard oh > 0, ow > 0 else { return ([], max(0, oh), max(0, ow)) }
        let cinG = c / g.groups, coutG = cout / g.groups
        let kk = coutG * g.kh * g.kw
        if g.strideH == g.kh && g.strideW == g.kw && g.dilH == 1 && g.dilW == 1 && g.padTop == 0 && g.padLeft == 0
            && g.padBottom == 0 && g.padRight == 0 && g.groups == 1 && outputPadding == (0, 0) {
            return (nonOverlappingTransposed(x, n: n, c: c, h: h, w: w, weights: weights, bias: bias, cout: cout, kh: g.kh, kw: g.kw), oh, ow)
        }
        var out = [Float](repeating: 0, count: n * cout * oh * ow)
        var cols = [Float](repeating: 0, count: kk * h * w)
        for b in 0..<n {
            for grp in 0..<g.groups {
                x.withUnsafeBufferPointer { xp in
                    weights.withUnsafeBufferPointer { wp in
                        cols.withUnsafeMutableBufferPointer { cp in
                            // cols[kk, h*w] = W_g^T [kk, cinG] x X_g [cinG, h*w], columns split over the workers
                            let ws = Shared(wp.baseAddress! + grp * cinG * kk), xs = Shared(xp.baseAddress! + (b * c + grp * cinG) * h * w)
                            let cs = Shared(cp.baseAddress!)
                            let n = h * w, workers = min(Convolution.threads, max(1, n / 4096))
                            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                                let c0 = n * worker / workers, c1 = n * (worker + 1) / workers
                                guard c1 > c0 else { return }
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(kk), Int32(c1 - c0), Int32(cinG), 1,
                                            ws.value, Int32(kk), xs.value + c0, Int32(n), 0, cs.value + c0, Int32(n))
                            }
                        }
                    }
                }
                // col2im: scatter-add (non-overlapping windows when stride == kernel: plain writes)
                if g.strideH == g.kh && g.strideW == g.kw && g.dilH == 1 && g.dilW == 1 && g.padTop == 0 && g.padLeft == 0 && g.padBottom == 0 && g.padRight == 0 {
                    out.withUnsafeMutableBufferPointer { op in
                        cols.withUnsafeBufferPointer { cp in
                            let obase = Shared(op.baseAddress! + (b * cout + grp * coutG) * oh * ow), cbase = Shared(cp.baseAddress!)
                            DispatchQueue.concurrentPerform(iterations: coutG) { co in
                                let dst = obase.value + co * oh * ow
                                for ki in 0..<g.kh {
                                    for kj in 0..<g.kw {
                                        let src = cbase.value + ((co * g.kh + ki) * g.kw + kj) * h * w
                                        for iy in 0..<h {
                                            let line = dst + (iy * g.kh + ki) * ow + kj
                                            let s = src + iy * w
                                            for ix in 0..<w { line[ix * g.kw] = s[ix] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    continue
                }
                out.withUnsafeMutableBufferPointer { op in
                    cols.withUnsafeBufferPointer { cp in
                        let obase = Shared(op.baseAddress! + (b * cout + grp * coutG) * oh * ow)
                        let cbase = Shared(cp.baseAddress!)
                        DispatchQueue.concurrentPerform(iterations: coutG) { co in
                            let dst = obase.value + co * oh * ow
                            for ki in 0..<g.kh {
                                for kj in 0..<g.kw {
                                    let src = cbase.value + ((co * g.kh + ki) * g.kw + kj) * h * w
                                    for iy in 0..<h {
                                        let oy = iy * g.strideH - g.padTop + ki * g.dilH
                                        guard oy >= 0 && oy < oh else { continue }
                                        for ix in 0..<w {
                                            let ox = ix * g.strideW - g.padLeft + kj * g.dilW
                                            if ox >= 0 && ox < ow { dst[oy * ow + ox] += src[iy * w + ix] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let bias {
            let spatial = oh * ow
            for b in 0..<n { for co in 0..<cout { let base = (b * cout + co) * spatial; for i in 0..<spatial { out[base + i] += bias[co] } } }
        }
        return (out, oh, ow)
    }
}
