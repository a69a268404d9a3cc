import CConv
import Testing
@testable import Inference

@Suite("Winograd F(4x4, 3x3) convolution")
struct WinogradTests {
    /// Deterministic pseudo-random values in -1...1.
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2_000_001) / 1_000_000 - 1
        }
    }

    /// F(4x4, 3x3) in float32 rounds a little more than the direct sum (its transforms have
    /// entries up to 8 and 1/24): about 1e-5 of the outputs' magnitude.
    /// Eight-channel multiples take the AVX2 transforms where the CPU has them, others the Swift ones.
    @Test("equals the im2col convolution to 3e-5 of the output's magnitude for odd and even sizes, paddings 0/1/2/asymmetric, channel counts that are and are not multiples of 8, with bias and ReLU",
          arguments: [(8, 16, 17, 23, 1, 1, 1, 1), (4, 4, 5, 4, 0, 0, 0, 0), (16, 8, 32, 32, 1, 1, 1, 1), (6, 5, 9, 12, 0, 1, 2, 1), (32, 32, 64, 40, 1, 1, 1, 1),
                      (8, 8, 11, 13, 0, 1, 2, 1), (16, 24, 6, 9, 2, 0, 0, 2)])
    func matchesIm2col(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) {
        let (cin, cout, h, w, pt, pl, pb, pr) = c
        let g = ConvGeometry(kh: 3, kw: 3, strideH: 1, strideW: 1, dilH: 1, dilW: 1, padTop: pt, padLeft: pl, padBottom: pb, padRight: pr, groups: 1)
        #expect(Winograd.applies(g, cinG: cin))
        let x = Self.values(2 * cin * h * w, seed: 1), wt = Self.values(cout * cin * 9, seed: 2), b = Self.values(cout, seed: 3)
        for relu in [false, true] {
            let a = Convolution.forward(x, n: 2, c: cin, h: h, w: w, weights: wt, bias: b, cout: cout, g: g, relu: relu, allowWinograd: true, allowDirect: false)
            let r = Convolution.forward(x, n: 2, c: cin, h: h, w: w, weights: wt, bias: b, cout: cout, g: g, relu: relu, allowWinograd: false, allowDirect: false)
            #expect(a.oh == r.oh && a.ow == r.ow && a.out.count == r.out.count)
            let worst = zip(a.out, r.out).map { abs($0 - $1) }.max() ?? 0
            let scale = r.out.map { abs($0) }.max() ?? 1
            #expect(worst / scale < 3e-5, "largest difference \(worst) for outputs up to \(scale)")
        }
    }

    @Test("its small products (antema_sgemm_n16) equal the sum of products for row counts that are not multiples of 6, strided rows and 16 to 48 columns",
          arguments: [(13, 32, 24), (6, 16, 8), (1, 48, 5), (20, 16, 64)])
    func smallProducts(_ s: (Int, Int, Int)) throws {
        let (m, n, k) = s
        try #require(Direct3x3.available, "this CPU has no AVX2 and FMA: OpenBLAS computes these products here")
        let lda = k + 3, ldb = n + 5, ldc = n + 7
        let a = Self.values(m * lda, seed: 41), b = Self.values(k * ldb, seed: 42)
        var c = [Float](repeating: .nan, count: m * ldc)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
            antema_sgemm_n16(Int32(m), Int32(n), Int32(k), ap.baseAddress!, lda, bp.baseAddress!, ldb, cp.baseAddress!, ldc)
        } } }
        for i in 0..<m {
            for j in 0..<n {
                var want: Float = 0
                for q in 0..<k { want += a[i * lda + q] * b[q * ldb + j] }
                let got = c[i * ldc + j]
                #expect(abs(got - want) <= 1e-5 * Float(k), "C[\(i)][\(j)] = \(got), want \(want)")
            }
            let past = c[(i * ldc + n)..<(i * ldc + ldc)].filter { !$0.isNaN }.count
            #expect(past == 0, "nothing written past the row's \(n) columns")
        }
    }

    @Test("is not used for strides, dilations, groups or single-channel inputs")
    func scope() {
        func g(stride: Int = 1, dil: Int = 1, groups: Int = 1) -> ConvGeometry {
            ConvGeometry(kh: 3, kw: 3, strideH: stride, strideW: stride, dilH: dil, dilW: dil, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: groups)
        }
        #expect(!Winograd.applies(g(stride: 2), cinG: 16))
        #expect(!Winograd.applies(g(dil: 2), cinG: 16))
        #expect(!Winograd.applies(g(groups: 2), cinG: 16))
        #expect(!Winograd.applies(g(), cinG: 1))
    }
}

@Suite("Single-channel convolution (first layers)")
struct SingleChannelConvolutionTests {
    /// The definition, summed directly.
    static func naive(_ x: [Float], h: Int, w: Int, weights: [Float], bias: [Float], cout: Int, g: ConvGeometry) -> [Float] {
        let (oh, ow) = g.outputSize(h: h, w: w)
        var out = [Float](repeating: 0, count: cout * oh * ow)
        for co in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
            var s = bias[co]
            for ki in 0..<g.kh { for kj in 0..<g.kw {
                let iy = oy * g.strideH - g.padTop + ki * g.dilH, ix = ox * g.strideW - g.padLeft + kj * g.dilW
                if iy >= 0 && iy < h && ix >= 0 && ix < w { s += weights[(co * g.kh + ki) * g.kw + kj] * x[iy * w + ix] }
            } }
            out[(co * oh + oy) * ow + ox] = s
        } } }
        return out
    }

    @Test("equals the direct sum for 3x3, 5x5, 1x1, dilated and asymmetrically padded kernels",
          arguments: [(3, 3, 1, 1, 1, 1, 1), (5, 5, 2, 2, 2, 2, 1), (1, 1, 0, 0, 0, 0, 1), (3, 3, 2, 2, 2, 2, 2), (3, 2, 0, 1, 2, 0, 1)])
    func matchesDefinition(_ c: (Int, Int, Int, Int, Int, Int, Int)) {
        let (kh, kw, pt, pl, pb, pr, dil) = c
        let g = ConvGeometry(kh: kh, kw: kw, strideH: 1, strideW: 1, dilH: dil, dilW: dil, padTop: pt, padLeft: pl, padBottom: pb, padRight: pr, groups: 1)
        let h = 13, w = 17, cout = 5
        let x = WinogradTests.values(h * w, seed: 4), wt = WinogradTests.values(cout * kh * kw, seed: 5), b = WinogradTests.values(cout, seed: 6)
        let ours = Convolution.forward(x, n: 1, c: 1, h: h, w: w, weights: wt, bias: b, cout: cout, g: g, relu: false)
        let reference = Self.naive(x, h: h, w: w, weights: wt, bias: b, cout: cout, g: g)
        #expect(ours.out.count == reference.count)
        #expect((zip(ours.out, reference).map { abs($0 - $1) }.max() ?? 0) < 1e-5)
        let relu = Convolution.forward(x, n: 1, c: 1, h: h, w: w, weights: wt, bias: b, cout: cout, g: g, relu: true)
        #expect(relu.out == ours.out.map { max($0, 0) })
    }
}

@Suite("a Concat feeding one Conv is fused into it")
struct ConcatIntoConv {
    /// Concat(a, b) on the channel axis, then a 3 x 3 convolution with padding 1 and a bias.
    /// `dynamicB`: b's height and width are left open (so a part of another size reaches the Conv).
    static func model(n: Int, ca: Int, cb: Int, cout: Int, h: Int, w: Int, weights: [Float], bias: [Float], dynamicB: Bool = false) -> [UInt8] {
        func floats(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }
        return Bad.model { g in
            g.message(1) { node in
                node.string(1, "a"); node.string(1, "b"); node.string(2, "cat"); node.string(4, "Concat")
                node.message(5) { at in at.string(1, "axis"); at.int(3, 1); at.int(20, 2) }
            }
            g.message(1) { node in
                node.string(1, "cat"); node.string(1, "w"); node.string(1, "bias"); node.string(2, "y"); node.string(4, "Conv")
                node.message(5) { at in at.string(1, "pads"); for p: Int64 in [1, 1, 1, 1] { at.int(8, p) }; at.int(20, 7) }
            }
            g.message(5) { t in for d in [cout, ca + cb, 3, 3] { t.int(1, Int64(d)) }; t.int(2, 1); t.string(8, "w"); t.bytes(9, floats(weights)) }
            g.message(5) { t in t.int(1, Int64(cout)); t.int(2, 1); t.string(8, "bias"); t.bytes(9, floats(bias)) }
            Bad.valueInfo(&g, field: 11, name: "a", dims: [n, ca, h, w].map(Int64.init))
            if dynamicB {
                g.message(11) { v in
                    v.string(1, "b")
                    v.message(2) { t in t.message(1) { tt in
                        tt.int(1, 1)
                        tt.message(2) { s in
                            s.message(1) { $0.int(1, Int64(n)) }; s.message(1) { $0.int(1, Int64(cb)) }
                            s.message(1) { $0.string(2, "height") }; s.message(1) { $0.string(2, "width") }
                        }
                    } }
                }
            } else {
                Bad.valueInfo(&g, field: 11, name: "b", dims: [n, cb, h, w].map(Int64.init))
            }
            Bad.valueInfo(&g, field: 12, name: "y", dims: [n, cout, h, w].map(Int64.init))
        }
    }

    @Test("the parts are read where they lie and give the convolution of their concatenation (im2col on the copied input) to 3e-5, for 8-channel groups, other channel counts and two images (which concatenate first)",
          arguments: [(1, 16, 16, 16, 21, 30), (1, 5, 2, 7, 9, 12), (2, 8, 8, 8, 10, 10)])
    func sameAsConcatenated(_ s: (Int, Int, Int, Int, Int, Int)) throws {
        let (n, ca, cb, cout, h, w) = s
        let weights = WinogradTests.values(cout * (ca + cb) * 9, seed: 7), bias = WinogradTests.values(cout, seed: 8)
        let engine = try Engine(model: ONNXModel.parse(Self.model(n: n, ca: ca, cb: cb, cout: cout, h: h, w: w, weights: weights, bias: bias)))
        #expect(!engine.order.contains { $0.opType == "Concat" }, "the Concat node is gone")
        let a = WinogradTests.values(n * ca * h * w, seed: 9), b = WinogradTests.values(n * cb * h * w, seed: 10)
        let y = try #require(try engine.run(["a": Tensor(shape: [n, ca, h, w], floats: a), "b": Tensor(shape: [n, cb, h, w], floats: b)])["y"])
        var cat: [Float] = []
        for i in 0..<n { cat += a[(i * ca * h * w)..<((i + 1) * ca * h * w)]; cat += b[(i * cb * h * w)..<((i + 1) * cb * h * w)] }
        let g = ConvGeometry(kh: 3, kw: 3, strideH: 1, strideW: 1, dilH: 1, dilW: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 1)
        let r = Convolution.forward(cat, n: n, c: ca + cb, h: h, w: w, weights: weights, bias: bias, cout: cout, g: g, relu: false, allowWinograd: false, allowDirect: false)
        #expect(y.shape == [n, cout, h, w])
        let worst = zip(y.floats, r.out).map { abs($0 - $1) }.max() ?? 0
        let scale = r.out.map { abs($0) }.max() ?? 1
        #expect(worst / scale < 3e-5, "largest difference \(worst) for outputs up to \(scale)")
    }

    @Test("parts of different heights are refused with the Concat's error, not read out of bounds")
    func mismatchedParts() throws {
        let engine = try Engine(model: ONNXModel.parse(Self.model(n: 1, ca: 8, cb: 8, cout: 8, h: 10, w: 10,
                                                                  weights: WinogradTests.values(8 * 16 * 9, seed: 1), bias: [Float](repeating: 0, count: 8),
                                                                  dynamicB: true)))
        let e = #expect(throws: ModelError.self) {
            _ = try engine.run(["a": Tensor(shape: [1, 8, 10, 10], floats: [Float](repeating: 1, count: 800)),
                            "b": Tensor(shape: [1, 8, 9, 10], floats: [Float](repeating: 1, count: 720))])
        }
        #expect(e?.description.contains("concatenate") == true, "\(String(describing: e))")
    }
}

@Suite("direct 3 x 3 convolution for few channels (AVX2 and FMA)")
struct DirectConvolutionTests {
    @Test("equals the im2col convolution to 1e-5 of the output's magnitude: widths that are and are not multiples of 16, 1 to 32 input channels, 4 to 16 output channels, with bias and ReLU",
          arguments: [(16, 16, 20, 32), (1, 4, 7, 5), (3, 8, 33, 17), (32, 16, 9, 50), (8, 12, 16, 16)])
    func matchesIm2col(_ s: (Int, Int, Int, Int)) throws {
        let (cin, cout, h, w) = s
        try #require(Direct3x3.available, "this CPU has no AVX2 and FMA: the direct kernel is not used here")
        let g = ConvGeometry(kh: 3, kw: 3, strideH: 1, strideW: 1, dilH: 1, dilW: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 1)
        let x = WinogradTests.values(cin * h * w, seed: 11), wt = WinogradTests.values(cout * cin * 9, seed: 12), b = WinogradTests.values(cout, seed: 13)
        for relu in [false, true] {
            for bias in [b, nil] {
                var d = [Float](repeating: .nan, count: cout * h * w)
                x.withUnsafeBufferPointer { xp in
                    wt.withUnsafeBufferPointer { wp in
                        d.withUnsafeMutableBufferPointer { dp in
                            Direct3x3.forward(planes: (0..<cin).map { xp.baseAddress! + $0 * h * w }, weights: wp.baseAddress!, bias: bias,
                                              out: dp.baseAddress!, cout: cout, h: h, w: w, relu: relu)
                        }
                    }
                }
                let r = Convolution.forward(x, n: 1, c: cin, h: h, w: w, weights: wt, bias: bias, cout: cout, g: g, relu: relu, allowWinograd: false, allowDirect: false)
                #expect(!d.contains { $0.isNaN }, "every output written")
                let worst = zip(d, r.out).map { abs($0 - $1) }.max() ?? 0
                let scale = r.out.map { abs($0) }.max() ?? 1
                #expect(worst / scale < 1e-5, "largest difference \(worst) for outputs up to \(scale)")
            }
        }
    }

    @Test("the convolution takes it for two images of 16 channels and gives im2col's result")
    func usedByTheConvolution() throws {
        try #require(Direct3x3.available, "this CPU has no AVX2 and FMA: the direct kernel is not used here")
        let g = ConvGeometry(kh: 3, kw: 3, strideH: 1, strideW: 1, dilH: 1, dilW: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 1)
        #expect(Direct3x3.applies(g, cin: 16, cout: 16))
        let x = WinogradTests.values(2 * 16 * 24 * 40, seed: 14), wt = WinogradTests.values(16 * 16 * 9, seed: 15), b = WinogradTests.values(16, seed: 16)
        let d = Convolution.forward(x, n: 2, c: 16, h: 24, w: 40, weights: wt, bias: b, cout: 16, g: g, relu: true)
        let r = Convolution.forward(x, n: 2, c: 16, h: 24, w: 40, weights: wt, bias: b, cout: 16, g: g, relu: true, allowWinograd: false, allowDirect: false)
        let worst = zip(d.out, r.out).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / (r.out.map { abs($0) }.max() ?? 1) < 1e-5)
    }

    @Test("is used only where it applies: 3 x 3, stride 1, padding 1, no groups, output channels a multiple of 4, at most 16 input channels")
    func scope() {
        func g(pad: Int = 1, stride: Int = 1, groups: Int = 1) -> ConvGeometry {
            ConvGeometry(kh: 3, kw: 3, strideH: stride, strideW: stride, dilH: 1, dilW: 1, padTop: pad, padLeft: pad, padBottom: pad, padRight: pad, groups: groups)
        }
        #expect(Direct3x3.applies(g(), cin: 16, cout: 16) == Direct3x3.available)
        #expect(!Direct3x3.applies(g(pad: 0), cin: 16, cout: 16))
        #expect(!Direct3x3.applies(g(stride: 2), cin: 16, cout: 16))
        #expect(!Direct3x3.applies(g(groups: 2), cin: 16, cout: 16))
        #expect(!Direct3x3.applies(g(), cin: 16, cout: 6))
        #expect(!Direct3x3.applies(g(), cin: 17, cout: 16))
    }
}

@Suite("Winograd's weights are transformed once, when the model loads")
struct PreparedWinogradWeights {
    /// One 3 x 3 convolution with padding 1 and a bias, `extra` attributes on its node.
    static func model(cin: Int, cout: Int, h: Int, w: Int, weights: [Float], bias: [Float],
                      extra: (inout ProtoWriter) -> Void = { _ in }) -> [UInt8] {
        Bad.model { g in
            g.message(1) { node in
                node.string(1, "x"); node.string(1, "w"); node.string(1, "bias"); node.string(2, "y"); node.string(4, "Conv")
                node.message(5) { at in at.string(1, "pads"); for p: Int64 in [1, 1, 1, 1] { at.int(8, p) }; at.int(20, 7) }
                extra(&node)
            }
            g.message(5) { t in for d in [cout, cin, 3, 3] { t.int(1, Int64(d)) }; t.int(2, 1); t.string(8, "w"); t.bytes(9, floatBytes(weights)) }
            g.message(5) { t in t.int(1, Int64(cout)); t.int(2, 1); t.string(8, "bias"); t.bytes(9, floatBytes(bias)) }
            Bad.valueInfo(&g, field: 11, name: "x", dims: [1, cin, h, w].map(Int64.init))
            Bad.valueInfo(&g, field: 12, name: "y", dims: [1, cout, h, w].map(Int64.init))
        }
    }

    static func floatBytes(_ v: [Float]) -> [UInt8] { v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }

    static let pad1 = ConvGeometry(kh: 3, kw: 3, strideH: 1, strideW: 1, dilH: 1, dilW: 1, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1, groups: 1)

    @Test("a 32-channel convolution carries its transformed weights from the load on and gives im2col's result; a 16-channel one, which the direct kernel computes, carries none")
    func preparedAtLoad() throws {
        let weights = WinogradTests.values(24 * 32 * 9, seed: 21), bias = WinogradTests.values(24, seed: 22)
        let engine = try Engine(model: ONNXModel.parse(Self.model(cin: 32, cout: 24, h: 13, w: 18, weights: weights, bias: bias)))
        let conv = try #require(engine.order.first { $0.opType == "Conv" })
        let u = try #require(conv.floats(Engine.winogradWeightsAttribute), "transformed weights on the node")
        #expect(u == weights.withUnsafeBufferPointer { Winograd.transformWeights($0.baseAddress!, cout: 24, cin: 32) })
        let x = WinogradTests.values(32 * 13 * 18, seed: 23)
        let y = try #require(try engine.run(["x": Tensor(shape: [1, 32, 13, 18], floats: x)])["y"])
        let r = Convolution.forward(x, n: 1, c: 32, h: 13, w: 18, weights: weights, bias: bias, cout: 24, g: Self.pad1, relu: false, allowWinograd: false, allowDirect: false)
        let worst = zip(y.floats, r.out).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / (r.out.map { abs($0) }.max() ?? 1) < 3e-5, "largest difference \(worst)")

        let small = try Engine(model: ONNXModel.parse(Self.model(cin: 16, cout: 16, h: 8, w: 8, weights: WinogradTests.values(16 * 16 * 9, seed: 24),
                                                                 bias: WinogradTests.values(16, seed: 25))))
        let smallConv = try #require(small.order.first { $0.opType == "Conv" })
        #expect((smallConv.floats(Engine.winogradWeightsAttribute) != nil) == !Direct3x3.available)
    }

    @Test("a model file cannot bring in the engine's own annotations: forged transformed weights and a forged fused ReLU on its Conv are dropped, and the result is the plain convolution")
    func forgedAnnotationsDropped() throws {
        let weights = WinogradTests.values(8 * 32 * 9, seed: 26), bias = WinogradTests.values(8, seed: 27)
        let forged = Self.model(cin: 32, cout: 8, h: 9, w: 11, weights: weights, bias: bias) { node in
            node.message(5) { at in at.string(1, Engine.winogradWeightsAttribute); at.bytes(7, Self.floatBytes([Float](repeating: 0, count: 36 * 8 * 32))); at.int(20, 6) }
            node.message(5) { at in at.string(1, "antema_fused_relu"); at.int(3, 1); at.int(20, 2) }
        }
        let engine = try Engine(model: ONNXModel.parse(forged))
        let conv = try #require(engine.order.first { $0.opType == "Conv" })
        #expect(conv.int("antema_fused_relu", 0) == 0)
        let x = WinogradTests.values(32 * 9 * 11, seed: 28)
        let y = try #require(try engine.run(["x": Tensor(shape: [1, 32, 9, 11], floats: x)])["y"])
        let r = Convolution.forward(x, n: 1, c: 32, h: 9, w: 11, weights: weights, bias: bias, cout: 8, g: Self.pad1, relu: false, allowWinograd: false, allowDirect: false)
        #expect(r.out.contains { $0 < 0 }, "the plain convolution has negative outputs")
        let worst = zip(y.floats, r.out).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / (r.out.map { abs($0) }.max() ?? 1) < 3e-5, "largest difference \(worst)")
    }
}

@Suite("every convolution path writes every output (its array is not zeroed first)")
struct ConvolutionWritesEveryOutput {
    /// Frees an array of NaNs of `count` floats just before `body`, so that the allocator is
    /// likely to hand the same memory to the output array `body` makes.
    static func afterNaNs<R>(_ count: Int, _ body: () -> R) -> R {
        do { let poison = [Float](repeating: .nan, count: count); withExtendedLifetime(poison) {} }
        return body()
    }

    @Test("direct, Winograd, im2col, pointwise, grouped, depthwise, strided, single-channel and transposed convolutions leave no output unwritten",
          arguments: [(1, 16, 3, 1, 1, 1), (16, 16, 3, 1, 1, 1), (32, 24, 3, 1, 1, 1), (8, 8, 3, 2, 1, 1), (8, 16, 1, 1, 0, 1),
                      (8, 8, 3, 1, 1, 2), (8, 8, 3, 1, 1, 8), (1, 5, 5, 1, 2, 1), (6, 10, 3, 1, 0, 1)])
    func noOutputLeftUnwritten(_ s: (Int, Int, Int, Int, Int, Int)) {
        let (cin, cout, k, stride, pad, groups) = s
        let h = 19, w = 23
        let g = ConvGeometry(kh: k, kw: k, strideH: stride, strideW: stride, dilH: 1, dilW: 1, padTop: pad, padLeft: pad, padBottom: pad, padRight: pad, groups: groups)
        let x = WinogradTests.values(2 * cin * h * w, seed: 31), wt = WinogradTests.values(cout * (cin / groups) * k * k, seed: 32)
        let (oh, ow) = g.outputSize(h: h, w: w)
        let r = Self.afterNaNs(2 * cout * oh * ow) {
            Convolution.forward(x, n: 2, c: cin, h: h, w: w, weights: wt, bias: nil, cout: cout, g: g, relu: false)
        }
        #expect(r.out.count == 2 * cout * oh * ow)
        #expect(!r.out.contains { $0.isNaN }, "an output was left as the memory held it")
    }

    @Test("the 2 x 2 transposed convolution of the U-Net's upsampling writes every output")
    func transposedWritesEveryOutput() {
        let x = WinogradTests.values(16 * 7 * 9, seed: 33), wt = WinogradTests.values(16 * 8 * 4, seed: 34)
        let out = Self.afterNaNs(8 * 14 * 18) {
            Convolution.nonOverlappingTransposed(x, n: 1, c: 16, h: 7, w: 9, weights: wt, bias: nil, cout: 8, kh: 2, kw: 2)
        }
        #expect(out.count == 8 * 14 * 18)
        #expect(!out.contains { $0.isNaN })
    }
}
