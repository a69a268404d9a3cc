import CConv
import COpenBLAS
import Dispatch
import Foundation

/// 3 x 3 stride-1 convolutions by Winograd's minimal filtering F(4 x 4, 3 x 3) (Lavin & Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 4 x 4 block of outputs comes
/// from a 6 x 6 block of inputs with 36 multiplications per input/output channel pair instead of
/// 144. Weights are transformed once per call (U = G g G^T, 36 matrices Cout x Cin), inputs per
/// 6 x 6 tile (V = B^T d B), the 36 products M = U V are 36 sgemm calls, the outputs
/// Y = A^T M A. Tiles are processed in bands of tile rows, a few hundred KB each, split over the
/// cores like the im2col strips.
enum Winograd {
    /// Tiles per band: V and M of a band stay within a few MB.
    static let bandBytes = Int(ProcessInfo.processInfo.environment["ANTEMA_WINOGRAD_BAND"] ?? "") ?? (1 << 20)

    /// The eight-channel transforms in C with AVX2 and FMA (`CConv/winograd.c`) where the CPU has
    /// them; `ANTEMA_WINOGRAD_TRANSFORMS=swift` keeps the Swift ones (SSE2), for comparisons.
    static let vectorTransforms = cpuHasAVX2FMA && ProcessInfo.processInfo.environment["ANTEMA_WINOGRAD_TRANSFORMS"] != "swift"

    /// The 36 products of a band by `antema_sgemm_n16` (AVX2 + FMA) where the output channels are
    /// a multiple of 16 and the input channels at most 64: there OpenBLAS's packing of both
    /// matrices and clearing of the result for each of the 36 cost more than the products; with
    /// more input channels its blocking wins (128 -> 128 at 128 x 128: 25 against 31 ms).
    /// `ANTEMA_WINOGRAD_GEMM=openblas` keeps OpenBLAS's sgemm for every layer, for comparisons.
    static let ownProducts = cpuHasAVX2FMA && ProcessInfo.processInfo.environment["ANTEMA_WINOGRAD_GEMM"] != "openblas"
    static let ownProductsMaximumInputChannels = Int(ProcessInfo.processInfo.environment["ANTEMA_WINOGRAD_GEMM_MAX_CIN"] ?? "") ?? 64

    /// `ANTEMA_CONV=im2col` turns it off (for comparisons).
    static let enabled = ProcessInfo.processInfo.environment["ANTEMA_CONV"] != "im2col"

    static func applies(_ g: ConvGeometry, cinG: Int) -> Bool {
        g.kh == 3 && g.kw == 3 && g.strideH == 1 && g.strideW == 1 && g.dilH == 1 && g.dilW == 1 && g.groups == 1 && cinG >= 4
    }

    /// U[ξ][ci][co] = (G g G^T)[ξ] for weights [Cout, Cin, 3, 3]. `Engine` does this once per
    /// convolution when a model loads (`Engine.prepareWinogradWeights`).
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 36 * cout * cin)
        let G: [Float] = [1.0 / 4, 0, 0, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
                          1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0, 0, 1]  // 6 x 3
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 18) { t in  // G g: 6 x 3
            G.withUnsafeBufferPointer { G in
                u.withUnsafeMutableBufferPointer { u in
                    for co in 0..<cout {
                        for ci in 0..<cin {
                            let g = w + (co * cin + ci) * 9
                            for i in 0..<6 { for j in 0..<3 { t[i * 3 + j] = G[i * 3] * g[j] + G[i * 3 + 1] * g[3 + j] + G[i * 3 + 2] * g[6 + j] } }
                            for i in 0..<6 {
                                for j in 0..<6 {
                                    u[(i * 6 + j) * cout * cin + ci * cout + co] = t[i * 3] * G[j * 3] + t[i * 3 + 1] * G[j * 3 + 1] + t[i * 3 + 2] * G[j * 3 + 2]
                                }
                            }
                        }
                    }
                }
            }
        }
        return u
    }

    /// `planes`: where each input channel's `h` x `wd` plane starts; they need not be adjacent
    /// (a concatenation's parts are read where they lie).
    static func forward(planes: [UnsafePointer<Float>], _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, bias: [Float]?,
                        h: Int, wd: Int, cout: Int, oh: Int, ow: Int, g: ConvGeometry, relu: Bool, transformed: [Float]? = nil) {
        let c = planes.count
        let u = transformed.flatMap { $0.count == 36 * cout * c ? $0 : nil } ?? transformWeights(w, cout: cout, cin: c)
        let tilesX = (ow + 3) / 4, tilesY = (oh + 3) / 4
        let perTileBytes = 36 * (c + cout) * 4
        let rowsPerBand = max(1, min(tilesY, bandBytes / max(1, perTileBytes * tilesX)))
        let bands = (tilesY + rowsPerBand - 1) / rowsPerBand
        let workers = min(bands, Convolution.threads)
        // which kernels this layer takes: the same for every band
        let cInput = c % 8 == 0 && vectorTransforms, cOutput = cout % 8 == 0 && vectorTransforms
        let cProducts = ownProducts && cout % 16 == 0 && c <= ownProductsMaximumInputChannels
        let os = Shared(out)
        planes.withUnsafeBufferPointer { pp in
            u.withUnsafeBufferPointer { up in
              bias.withOptionalPointer { bp in
                let xs = Shared(pp.baseAddress!), us = Shared(up.baseAddress!), bs = Shared(bp)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let maxT = rowsPerBand * tilesX
                    let v = UnsafeMutablePointer<Float>.allocate(capacity: 36 * c * maxT)
                    let m = UnsafeMutablePointer<Float>.allocate(capacity: 36 * cout * maxT)
                    // 6 input rows, channels innermost, with the padding columns
                    let stage = UnsafeMutablePointer<Float>.allocate(capacity: 6 * (tilesX * 4 + 2) * c)
                    defer { v.deallocate(); m.deallocate(); stage.deallocate() }
                    var band = worker
                    while band < bands {
                        let ty0 = band * rowsPerBand, rows = min(rowsPerBand, tilesY - ty0), T = rows * tilesX
                        if cInput {
                            antema_winograd_input8(cPlaneTable(xs.value), v, stage, Int32(c), Int32(h), Int32(wd), Int32(ty0), Int32(rows), Int32(tilesX),
                                                   Int32(g.padTop), Int32(g.padLeft))
                        } else if c % 8 == 0 {
                            inputTransform8(xs.value, v, stage: stage, c: c, h: h, w: wd, ty0: ty0, rows: rows, tilesX: tilesX, padTop: g.padTop, padLeft: g.padLeft)
                        } else {
                            inputTransform(xs.value, v, c: c, h: h, w: wd, ty0: ty0, rows: rows, tilesX: tilesX, T: T, padTop: g.padTop, padLeft: g.padLeft)
                        }
                        // M[t][ξ][co] = V[t][ξ][ci] U[ξ][ci][co]: each tile's 36 x C values lie together
                        for xi in 0..<36 {
                            if cProducts {
                                antema_sgemm_n16(Int32(T), Int32(cout), Int32(c), v + xi * c, 36 * c, us.value + xi * c * cout, cout, m + xi * cout, 36 * cout)
                            } else {
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(cout), Int32(c), 1,
                                            v + xi * c, Int32(36 * c), us.value + xi * c * cout, Int32(cout), 0, m + xi * cout, Int32(36 * cout))
                            }
                        }
                        if cOutput {
                            antema_winograd_output8(m, os.value, bs.value, Int32(cout), Int32(oh), Int32(ow), Int32(ty0), Int32(rows), Int32(tilesX), relu ? 1 : 0)
                        } else if cout % 8 == 0 {
                            outputTransform8(m, os.value, bias: bias, cout: cout, oh: oh, ow: ow, ty0: ty0, rows: rows, tilesX: tilesX, relu: relu)
                        } else {
                            outputTransform(m, os.value, bias: bias, cout: cout, oh: oh, ow: ow, ty0: ty0, rows: rows, tilesX: tilesX, T: T, relu: relu)
                        }
                        band += workers
                    }
                }
              }
            }
        }
    }

    /// V[t][ξ][ci] = (B^T d B)[ξ] for every 6 x 6 input tile d of the band (zeros outside the image).
    @inline(never) static func inputTransform(_ x: UnsafePointer<UnsafePointer<Float>>, _ v: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
                               ty0: Int, rows: Int, tilesX: Int, T: Int, padTop: Int, padLeft: Int) {
        var d = [Float](repeating: 0, count: 36), t = [Float](repeating: 0, count: 36)
        d.withUnsafeMutableBufferPointer { dp in
            t.withUnsafeMutableBufferPointer { tp in
                let d = dp.baseAddress!, t = tp.baseAddress!
                let stride = c
                for r in 0..<rows {
                    let iy0 = (ty0 + r) * 4 - padTop
                    for tx in 0..<tilesX {
                        let ix0 = tx * 4 - padLeft
                        for ci in 0..<c {
                            let plane = x[ci]
                            if iy0 >= 0 && iy0 + 6 <= h && ix0 >= 0 && ix0 + 6 <= w {
                                for i in 0..<6 {
                                    let src = plane + (iy0 + i) * w + ix0
                                    for j in 0..<6 { d[i * 6 + j] = src[j] }
                                }
                            } else {
                                for i in 0..<6 {
                                    let iy = iy0 + i
                                    for j in 0..<6 {
                                        let ix = ix0 + j
                                        d[i * 6 + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? plane[iy * w + ix] : 0
                                    }
                                }
                            }
                            // t = B^T d (columns), then V = t B (rows)
                            for j in 0..<6 {
                                let d0 = d[j], d1 = d[6 + j], d2 = d[12 + j], d3 = d[18 + j], d4 = d[24 + j], d5 = d[30 + j]
                                t[j] = 4 * d0 - 5 * d2 + d4
                                t[6 + j] = -4 * (d1 + d2) + d3 + d4
                                t[12 + j] = 4 * (d1 - d2) - d3 + d4
                                t[18 + j] = 2 * (d3 - d1) - d2 + d4
                                t[24 + j] = 2 * (d1 - d3) - d2 + d4
                                t[30 + j] = 4 * d1 - 5 * d3 + d5
                            }
                            let base = v + (r * tilesX + tx) * 36 * c + ci
                            for i in 0..<6 {
                                let t0 = t[i * 6], t1 = t[i * 6 + 1], t2 = t[i * 6 + 2], t3 = t[i * 6 + 3], t4 = t[i * 6 + 4], t5 = t[i * 6 + 5]
                                let o = base + i * 6 * stride
                                o[0] = 4 * t0 - 5 * t2 + t4
                                o[stride] = -4 * (t1 + t2) + t3 + t4
                                o[2 * stride] = 4 * (t1 - t2) - t3 + t4
                                o[3 * stride] = 2 * (t3 - t1) - t2 + t4
                                o[4 * stride] = 2 * (t1 - t3) - t2 + t4
                                o[5 * stride] = 4 * t1 - 5 * t3 + t5
                            }
                        }
                    }
                }
            }
        }
    }

    /// Y = A^T M A per tile, plus bias and ReLU, written where it falls inside the output.
    @inline(never) static func outputTransform(_ m: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, bias: [Float]?, cout: Int, oh: Int, ow: Int,
                                ty0: Int, rows: Int, tilesX: Int, T: Int, relu: Bool) {
        let stride = cout
        var t = [Float](repeating: 0, count: 24)
        t.withUnsafeMutableBufferPointer { tp in
            let t = tp.baseAddress!
            for r in 0..<rows {
                for tx in 0..<tilesX {
                    for co in 0..<cout {
                        let bv = bias?[co] ?? 0
                        let plane = out + co * oh * ow
                        let base = m + (r * tilesX + tx) * 36 * cout + co
                        // t = A^T M: 4 x 6
                        for j in 0..<6 {
                            let m0 = base[j * stride], m1 = base[(6 + j) * stride], m2 = base[(12 + j) * stride]
                            let m3 = base[(18 + j) * stride], m4 = base[(24 + j) * stride], m5 = base[(30 + j) * stride]
                            t[j] = m0 + m1 + m2 + m3 + m4
                            t[6 + j] = m1 - m2 + 2 * (m3 - m4)
                            t[12 + j] = m1 + m2 + 4 * (m3 + m4)
                            t[18 + j] = m1 - m2 + 8 * (m3 - m4) + m5
                        }
                        let oy0 = (ty0 + r) * 4, ox0 = tx * 4
                        for i in 0..<min(4, oh - oy0) {
                            let a0 = t[i * 6], a1 = t[i * 6 + 1], a2 = t[i * 6 + 2], a3 = t[i * 6 + 3], a4 = t[i * 6 + 4], a5 = t[i * 6 + 5]
                            var y = (a0 + a1 + a2 + a3 + a4, a1 - a2 + 2 * (a3 - a4), a1 + a2 + 4 * (a3 + a4), a1 - a2 + 8 * (a3 - a4) + a5)
                            y.0 += bv; y.1 += bv; y.2 += bv; y.3 += bv
                            if relu { y.0 = max(y.0, 0); y.1 = max(y.1, 0); y.2 = max(y.2, 0); y.3 = max(y.3, 0) }
                            let dst = plane + (oy0 + i) * ow + ox0
                            let n = min(4, ow - ox0)
                            dst[0] = y.0
                            if n > 1 { dst[1] = y.1 }
                            if n > 2 { dst[2] = y.2 }
                            if n > 3 { dst[3] = y.3 }
                        }
                    }
                }
            }
        }
    }

    typealias V8 = SIMD8<Float>

    /// The input transform eight channels at a time (c a multiple of 8): the tile row's 6 input
    /// rows are first laid out channels-innermost, so each 6 x 6 tile is 36 vector loads.
    @inline(never) static func inputTransform8(_ x: UnsafePointer<UnsafePointer<Float>>, _ v: UnsafeMutablePointer<Float>, stage: UnsafeMutablePointer<Float>, c: Int, h: Int, w: Int,
                                ty0: Int, rows: Int, tilesX: Int, padTop: Int, padLeft: Int) {
        let sw = tilesX * 4 + 2
        // the 6 x 6 intermediate of one tile, reused for every tile and channel group
        let t = UnsafeMutablePointer<V8>.allocate(capacity: 36)
        defer { t.deallocate() }
        for r in 0..<rows {
            let iy0 = (ty0 + r) * 4 - padTop
            // stage[i][sx][ci] = x[ci][iy0 + i][sx - padLeft] (0 outside)
            for i in 0..<6 {
                let iy = iy0 + i
                let row = stage + i * sw * c
                if iy < 0 || iy >= h { row.update(repeating: 0, count: sw * c); continue }
                let lo = min(sw, max(0, padLeft)), hi = max(lo, min(sw, w + padLeft))
                if lo > 0 { row.update(repeating: 0, count: lo * c) }
                if hi < sw { (row + hi * c).update(repeating: 0, count: (sw - hi) * c) }
                for ci in 0..<c {
                    let src = x[ci] + iy * w - padLeft
                    var dst = row + lo * c + ci
                    for sx in lo..<hi { dst.pointee = src[sx]; dst += c }
                }
            }
            for tx in 0..<tilesX {
                let out = v + (r * tilesX + tx) * 36 * c
                var ci = 0
                while ci < c {
                    @inline(__always) func d(_ i: Int, _ j: Int) -> V8 {
                        UnsafeRawPointer(stage + (i * sw + tx * 4 + j) * c + ci).loadUnaligned(as: V8.self)
                    }
                    do {
                        for j in 0..<6 {
                            let d0 = d(0, j), d1 = d(1, j), d2 = d(2, j), d3 = d(3, j), d4 = d(4, j), d5 = d(5, j)
                            t[j] = 4 * d0 - 5 * d2 + d4
                            t[6 + j] = -4 * (d1 + d2) + d3 + d4
                            t[12 + j] = 4 * (d1 - d2) - d3 + d4
                            t[18 + j] = 2 * (d3 - d1) - d2 + d4
                            t[24 + j] = 2 * (d1 - d3) - d2 + d4
                            t[30 + j] = 4 * d1 - 5 * d3 + d5
                        }
                        for i in 0..<6 {
                            let t0 = t[i * 6], t1 = t[i * 6 + 1], t2 = t[i * 6 + 2], t3 = t[i * 6 + 3], t4 = t[i * 6 + 4], t5 = t[i * 6 + 5]
                            let o = UnsafeMutableRawPointer(out + i * 6 * c + ci)
                            o.storeBytes(of: 4 * t0 - 5 * t2 + t4, as: V8.self)
                            (o + c * 4).storeBytes(of: -4 * (t1 + t2) + t3 + t4, as: V8.self)
                            (o + 2 * c * 4).storeBytes(of: 4 * (t1 - t2) - t3 + t4, as: V8.self)
                            (o + 3 * c * 4).storeBytes(of: 2 * (t3 - t1) - t2 + t4, as: V8.self)
                            (o + 4 * c * 4).storeBytes(of: 2 * (t1 - t3) - t2 + t4, as: V8.self)
                            (o + 5 * c * 4).storeBytes(of: 4 * t1 - 5 * t3 + t5, as: V8.self)
                        }
                    }
                    ci += 8
                }
            }
        }
    }

    /// The output transform eight output channels at a time (cout a multiple of 8).
    @inline(never) static func outputTransform8(_ m: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, bias: [Float]?, cout: Int, oh: Int, ow: Int,
                                 ty0: Int, rows: Int, tilesX: Int, relu: Bool) {
        let planeSize = oh * ow
        var t = [V8](repeating: V8(), count: 24)
        t.withUnsafeMutableBufferPointer { tb in
            let t = tb.baseAddress!
            for r in 0..<rows {
                let oy0 = (ty0 + r) * 4
                let ni = min(4, oh - oy0)
                for tx in 0..<tilesX {
                    let ox0 = tx * 4, nj = min(4, ow - ox0)
                    let base = m + (r * tilesX + tx) * 36 * cout
                    var co = 0
                    while co < cout {
                        @inline(__always) func mv(_ k: Int) -> V8 { UnsafeRawPointer(base + k * cout + co).loadUnaligned(as: V8.self) }
                        for j in 0..<6 {
                            let m0 = mv(j), m1 = mv(6 + j), m2 = mv(12 + j), m3 = mv(18 + j), m4 = mv(24 + j), m5 = mv(30 + j)
                            t[j] = m0 + m1 + m2 + m3 + m4
                            t[6 + j] = m1 - m2 + 2 * (m3 - m4)
                            t[12 + j] = m1 + m2 + 4 * (m3 + m4)
                            t[18 + j] = m1 - m2 + 8 * (m3 - m4) + m5
                        }
                        var b = V8()
                        if let bias { for k in 0..<8 { b[k] = bias[co + k] } }
                        for i in 0..<ni {
                            let a0 = t[i * 6], a1 = t[i * 6 + 1], a2 = t[i * 6 + 2], a3 = t[i * 6 + 3], a4 = t[i * 6 + 4], a5 = t[i * 6 + 5]
                            var y0 = a0 + a1 + a2 + a3 + a4 + b, y1 = a1 - a2 + 2 * (a3 - a4) + b
                            var y2 = a1 + a2 + 4 * (a3 + a4) + b, y3 = a1 - a2 + 8 * (a3 - a4) + a5 + b
                            if relu {
                                let z = V8()
                                y0.replace(with: z, where: y0 .< z); y1.replace(with: z, where: y1 .< z); y2.replace(with: z, where: y2 .< z); y3.replace(with: z, where: y3 .< z)
                            }
                            let dst = out + co * planeSize + (oy0 + i) * ow + ox0
                            for k in 0..<8 {
                                let p = dst + k * planeSize
                                p[0] = y0[k]
                                if nj > 1 { p[1] = y1[k] }
                                if nj > 2 { p[2] = y2[k] }
                                if nj > 3 { p[3] = y3[k] }
                            }
                        }
                        co += 8
                    }
                }
            }
        }
    }
}
