import Foundation

/// The operators' semantics follow the ONNX operator specification (onnx.ai/onnx/operators).
enum Operators {
    /// Largest tensor an operator may produce (2^28 floats = 1 GiB): a model cannot ask for more.
    static let maximumOutputElements = 1 << 28

    /// The element count of `shape`, or an error when it overflows or exceeds the limit.
    static func checkedCount(_ shape: [Int], _ n: Node) throws -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw ModelError.invalid("\(n.label): negative dimension in \(shape)") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p <= maximumOutputElements else { throw ModelError.invalid("\(n.label): an output of shape \(shape) is too large") }
            count = p
        }
        return count
    }

    static func run(_ n: Node, _ a: [Tensor?], opset: Int) throws -> [Tensor] {
        func input(_ i: Int) throws -> Tensor {
            guard i < a.count, let t = a[i] else { throw ModelError.invalid("\(n.label): missing input \(i)") }
            return t
        }
        func optional(_ i: Int) -> Tensor? { i < a.count ? a[i] : nil }
        switch n.opType {
        case "Identity", "Dropout": return [try input(0)]
        case "Relu": return [map(try input(0)) { $0 > 0 ? $0 : 0 }]
        case "LeakyRelu":
            let alpha = n.float("alpha", 0.01)
            return [map(try input(0)) { $0 >= 0 ? $0 : alpha * $0 }]
        case "Sigmoid": return [map(try input(0)) { 1 / (1 + exp(-$0)) }]
        case "Clip":
            var lo = -Float.infinity, hi = Float.infinity
            if opset < 11 { lo = n.float("min", lo); hi = n.float("max", hi) } else {
                if let t = optional(1) { lo = t.floats.first ?? lo }
                if let t = optional(2) { hi = t.floats.first ?? hi }
            }
            return [map(try input(0)) { min(max($0, lo), hi) }]
        case "Add": return [try broadcast(try input(0), try input(1), n, +)]
        case "Sub": return [try broadcast(try input(0), try input(1), n, -)]
        case "Mul": return [try broadcast(try input(0), try input(1), n, *)]
        case "Div": return [try broadcast(try input(0), try input(1), n, /)]
        case "Softmax": return [try softmax(try input(0), n, opset: opset)]
        case "Conv":
            // `Engine` fuses Concat -> Conv: the concatenation's parts come first
            let parts = n.int(Engine.concatPartsAttribute, 1)
            if parts == 1 { return [try conv(n, try input(0), try input(1), optional(2))] }
            guard parts > 1, a.count >= parts + 1 else { throw ModelError.invalid("\(n.label): \(parts) concatenated inputs and \(a.count) inputs in all") }
            return [try convOfConcat(n, try (0..<parts).map(input), try input(parts), optional(parts + 1))]
        case "ConvTranspose": return [try convTranspose(n, try input(0), try input(1), optional(2))]
        case "BatchNormalization":
            let x = try input(0)
            let scale = try input(1).floats, shift = try input(2).floats, mean = try input(3).floats, variance = try input(4).floats
            let eps = n.float("epsilon", 1e-5)
            guard x.shape.count >= 2 else { throw ModelError.invalid("\(n.label): input of rank \(x.shape.count)") }
            let c = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            guard scale.count == c, shift.count == c, mean.count == c, variance.count == c else { throw ModelError.invalid("\(n.label): parameters do not match \(c) channels") }
            var v = x.floats
            for i in 0..<v.count {
                let ch = (i / inner) % c
                v[i] = scale[ch] * (v[i] - mean[ch]) / (variance[ch] + eps).squareRoot() + shift[ch]
            }
            return [Tensor(shape: x.shape, floats: v)]
        case "Concat": return [try concat(a.compactMap { $0 }, axis: n.int("axis", 1), n)]
        case "MaxPool", "AveragePool": return [try pool(n, try input(0))]
        case "GlobalAveragePool":
            let x = try input(0)
            guard x.shape.count >= 3 else { throw ModelError.invalid("\(n.label): input of rank \(x.shape.count)") }
            let outer = x.shape[0] * x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
            let v = x.floats
            var out = [Float](repeating: 0, count: outer)
            for o in 0..<outer { var s: Float = 0; for i in 0..<inner { s += v[o * inner + i] }; out[o] = s / Float(max(inner, 1)) }
            return [Tensor(shape: Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.shape.count - 2), floats: out)]
        case "Resize", "Upsample": return [try resize(n, a, opset: opset)]
        case "Pad": return [try pad(n, a, opset: opset)]
        case "Reshape":
            let x = try input(0)
            let spec = try input(1).ints.map { Int($0) }
            let allowZero = n.int("allowzero", 0) == 1
            var shape = spec.enumerated().map { i, d in d == 0 && !allowZero ? (i < x.shape.count ? x.shape[i] : 0) : d }
            if let k = shape.firstIndex(of: -1) {
                var rest = shape
                rest.remove(at: k)
                let known = try checkedCount(rest.map { max($0, 0) }, n)
                guard known > 0, x.count % known == 0 else { throw ModelError.invalid("\(n.label): cannot reshape \(x.shape) to \(spec)") }
                shape[k] = x.count / known
            }
            guard shape.allSatisfy({ $0 >= 0 }), try checkedCount(shape, n) == x.count else { throw ModelError.invalid("\(n.label): cannot reshape \(x.shape) to \(spec)") }
            return [reshaped(x, shape)]
        case "Flatten":
            let x = try input(0)
            var axis = n.int("axis", 1)
            if axis < 0 { axis += x.shape.count }
            guard axis >= 0 && axis <= x.shape.count else { throw ModelError.invalid("\(n.label): axis \(n.int("axis", 1)) for rank \(x.shape.count)") }
            let outer = x.shape.prefix(axis).reduce(1, *)
            return [reshaped(x, [outer, x.count / max(outer, 1)])]
        case "Transpose":
            let x = try input(0)
            let perm = n.ints("perm") ?? Array((0..<x.shape.count).reversed())
            return [try transpose(x, perm, n)]
        case "Slice": return [try slice(n, a, opset: opset)]
        case "Shape":
            let x = try input(0)
            var start = n.int("start", 0), end = n.int("end", x.shape.count)
            if start < 0 { start += x.shape.count }
            if end < 0 { end += x.shape.count }
            start = min(max(start, 0), x.shape.count); end = min(max(end, start), x.shape.count)
            let dims = x.shape[start..<end].map { Int64($0) }
            return [Tensor(shape: [dims.count], ints: dims)]
        case "Gather": return [try gather(try input(0), try input(1), axis: n.int("axis", 0), n)]
        case "Unsqueeze":
            let x = try input(0)
            let axes = opset >= 13 ? try input(1).ints.map { Int($0) } : (n.ints("axes") ?? [])
            let rank = x.shape.count + axes.count
            let norm = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            guard norm.count == axes.count, norm.allSatisfy({ $0 >= 0 && $0 < rank }) else { throw ModelError.invalid("\(n.label): axes \(axes) for rank \(rank)") }
            var shape: [Int] = [], k = 0
            for d in 0..<rank { if norm.contains(d) { shape.append(1) } else { shape.append(x.shape[k]); k += 1 } }
            return [reshaped(x, shape)]
        case "Squeeze":
            let x = try input(0)
            let axes = opset >= 13 ? (optional(1)?.ints.map { Int($0) }) : n.ints("axes")
            let norm = axes.map { Set($0.map { $0 < 0 ? $0 + x.shape.count : $0 }) }
            var shape: [Int] = []
            for (d, size) in x.shape.enumerated() {
                let drop = norm.map { $0.contains(d) } ?? (size == 1)
                if !drop { shape.append(size) }
            }
            return [reshaped(x, shape)]
        case "Cast":
            let x = try input(0)
            switch n.int("to", 1) {
            case 1, 10, 11: return [Tensor(shape: x.shape, floats: x.floats)]
            case 6, 7, 9, 2, 3, 4, 5, 12, 13: return [Tensor(shape: x.shape, ints: x.ints)]
            default: throw ModelError.unsupported("\(n.label): Cast to type \(n.int("to", 1))")
            }
        default:
            throw ModelError.unsupported("\(n.label): operator \(n.opType)")
        }
    }

    static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor { Tensor(shape: x.shape, floats: x.floats.map(f)) }

    static func reshaped(_ x: Tensor, _ shape: [Int]) -> Tensor {
        switch x.storage {
        case .float(let f): Tensor(shape: shape, floats: f)
        case .int64(let i): Tensor(shape: shape, ints: i)
        }
    }

    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    /// Numpy-style broadcasting.
    static func broadcast(_ x: Tensor, _ y: Tensor, _ n: Node, _ op: (Float, Float) -> Float) throws -> Tensor {
        let rank = max(x.shape.count, y.shape.count)
        let xs = Array(repeating: 1, count: rank - x.shape.count) + x.shape
        let ys = Array(repeating: 1, count: rank - y.shape.count) + y.shape
        var shape: [Int] = []
        for (p, q) in zip(xs, ys) {
            guard p == q || p == 1 || q == 1 else { throw ModelError.invalid("\(n.label): shapes \(x.shape) and \(y.shape) do not broadcast") }
            shape.append(p == 1 ? q : p)
        }
        if x.isInt && y.isInt {
            let f = try broadcast(Tensor(shape: x.shape, floats: x.floats), Tensor(shape: y.shape, floats: y.floats), n, op)
            return Tensor(shape: f.shape, ints: f.floats.map(Tensor.int64))
        }
        let a = x.floats, b = y.floats
        let count = shape.reduce(1, *)
        if xs == ys { return Tensor(shape: shape, floats: (0..<count).map { op(a[$0], b[$0]) }) }
        if b.count == 1 { let s = b[0]; return Tensor(shape: shape, floats: a.count == count ? a.map { op($0, s) } : (0..<count).map { _ in op(a[0], s) }) }
        let sx = strides(xs), sy = strides(ys), so = strides(shape)
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count {
            var rem = i, ix = 0, iy = 0
            for d in 0..<rank {
                let c = rem / so[d]
                rem -= c * so[d]
                if xs[d] != 1 { ix += c * sx[d] }
                if ys[d] != 1 { iy += c * sy[d] }
            }
            out[i] = op(a[ix], b[iy])
        }
        return Tensor(shape: shape, floats: out)
    }

    static func softmax(_ x: Tensor, _ n: Node, opset: Int) throws -> Tensor {
        let rank = x.shape.count
        var axis = n.int("axis", opset >= 13 ? -1 : 1)
        if axis < 0 { axis += rank }
        guard axis >= 0 && axis < max(rank, 1) else { throw ModelError.invalid("\(n.label): axis \(axis) for rank \(rank)") }
        var v = x.floats
        if opset < 13 {
            // the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)]
            let inner = x.shape[axis...].reduce(1, *), outer = x.count / max(inner, 1)
            for o in 0..<outer {
                let base = o * inner
                let m = v[base..<(base + inner)].max() ?? 0
                var s: Float = 0
                for i in 0..<inner { v[base + i] = exp(v[base + i] - m); s += v[base + i] }
                for i in 0..<inner { v[base + i] /= s }
            }
            return Tensor(shape: x.shape, floats: v)
        }
        let dim = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *), outer = x.shape[..<axis].reduce(1, *)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * dim * inner + i
                var m = -Float.infinity
                for k in 0..<dim { m = max(m, v[base + k * inner]) }
                var s: Float = 0
                for k in 0..<dim { let e = exp(v[base + k * inner] - m); v[base + k * inner] = e; s += e }
                for k in 0..<dim { v[base + k * inner] /= s }
            }
        }
        return Tensor(shape: x.shape, floats: v)
    }

    /// Pads from `pads` and `auto_pad` for a 2-D kernel over (h, w).
    static func geometry(_ n: Node, kernel: (Int, Int), h: Int, w: Int, transposed: Bool = false) throws -> ConvGeometry {
        guard kernel.0 > 0, kernel.1 > 0, kernel.0 <= 1 << 12, kernel.1 <= 1 << 12 else { throw ModelError.invalid("\(n.label): kernel \(kernel)") }
        let s = n.ints("strides") ?? [1, 1], d = n.ints("dilations") ?? [1, 1]
        guard s.count == 2, d.count == 2, s.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }), d.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else {
            throw ModelError.invalid("\(n.label): strides \(s), dilations \(d)")
        }
        var p = n.ints("pads") ?? [0, 0, 0, 0]
        guard p.count == 4, p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw ModelError.invalid("\(n.label): pads \(p)") }
        guard n.int("group", 1) >= 1, n.int("group", 1) <= 1 << 20 else { throw ModelError.invalid("\(n.label): group \(n.int("group", 1))") }
        let autoPad = n.string("auto_pad", "NOTSET")
        if autoPad == "VALID" { p = [0, 0, 0, 0] }
        if autoPad.hasPrefix("SAME") && !transposed {
            var pads = [0, 0, 0, 0]
            for (axis, (size, k)) in [(h, kernel.0), (w, kernel.1)].enumerated() {
                let out = (size + s[axis] - 1) / s[axis]
                let total = max(0, (out - 1) * s[axis] + (k - 1) * d[axis] + 1 - size)
                let small = total / 2, large = total - small
                pads[axis] = autoPad == "SAME_UPPER" ? small : large
                pads[axis + 2] = autoPad == "SAME_UPPER" ? large : small
            }
            p = pads
        }
        return ConvGeometry(kh: kernel.0, kw: kernel.1, strideH: s[0], strideW: s[1], dilH: d[0], dilW: d[1],
                            padTop: p[0], padLeft: p[1], padBottom: p[2], padRight: p[3], groups: max(1, n.int("group", 1)))
    }

    static func conv(_ n: Node, _ x: Tensor, _ w: Tensor, _ b: Tensor?) throws -> Tensor {
        guard x.shape.count == 4, w.shape.count == 4 else { throw ModelError.unsupported("\(n.label): only 2-D convolutions (input \(x.shape), weights \(w.shape))") }
        let g = try geometry(n, kernel: (w.shape[2], w.shape[3]), h: x.shape[2], w: x.shape[3])
        guard x.shape[1] % g.groups == 0, w.shape[0] % g.groups == 0, w.shape[1] * g.groups == x.shape[1] else {
            throw ModelError.invalid("\(n.label): input \(x.shape), weights \(w.shape) and group \(g.groups) do not fit")
        }
        if let b, b.count != w.shape[0] { throw ModelError.invalid("\(n.label): bias of \(b.count) for \(w.shape[0]) channels") }
        let (oh, ow) = g.outputSize(h: x.shape[2], w: x.shape[3])
        guard oh > 0, ow > 0 else { throw ModelError.invalid("\(n.label): input \(x.shape) is smaller than the kernel") }
        _ = try checkedCount([x.shape[0], w.shape[0], oh, ow], n)
        let r = Convolution.forward(x.floats, n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], weights: w.floats, bias: b?.floats,
                                    cout: w.shape[0], g: g, relu: n.int("antema_fused_relu", 0) == 1,
                                    winogradWeights: n.floats(Engine.winogradWeightsAttribute))
        guard r.oh > 0, r.ow > 0 else { throw ModelError.invalid("\(n.label): input \(x.shape) is smaller than the kernel") }
        return Tensor(shape: [x.shape[0], w.shape[0], r.oh, r.ow], floats: r.out)
    }

    /// A convolution of the channel concatenation of `parts` (`Engine` fused the Concat into
    /// it). For one image and a kernel the direct or the Winograd convolution takes, each part's
    /// planes are read where they lie and the concatenation is never made (at full resolution in the U-Net's decoder it is
    /// 128 MB for a 1024 x 1024 tile); otherwise it is made and convolved as usual.
    static func convOfConcat(_ n: Node, _ parts: [Tensor], _ w: Tensor, _ b: Tensor?) throws -> Tensor {
        let first = parts[0]
        guard first.shape.count == 4, w.shape.count == 4, first.shape[0] == 1,
              parts.allSatisfy({ !$0.isInt && $0.shape.count == 4 && $0.shape[0] == 1 && $0.shape[2] == first.shape[2] && $0.shape[3] == first.shape[3] }) else {
            return try conv(n, try concat(parts, axis: 1, n), w, b)
        }
        let h = first.shape[2], wd = first.shape[3]
        let c = parts.reduce(0) { $0 + $1.shape[1] }
        let g = try geometry(n, kernel: (w.shape[2], w.shape[3]), h: h, w: wd)
        let cout = w.shape[0]
        guard w.shape[1] == c, let kernel = PlanarKernel.choose(g, cin: c, cout: cout) else { return try conv(n, try concat(parts, axis: 1, n), w, b) }
        if let b, b.count != cout { throw ModelError.invalid("\(n.label): bias of \(b.count) for \(cout) channels") }
        let (oh, ow) = g.outputSize(h: h, w: wd)
        guard oh > 0, ow > 0 else { throw ModelError.invalid("\(n.label): input \([1, c, h, wd]) is smaller than the kernel") }
        _ = try checkedCount([1, cout, oh, ow], n)
        var out = [Float].unfilled(cout * oh * ow)  // the kernel writes every output
        let weights = w.floats, bias = b?.floats
        withPlanes(parts.map(\.floats), planeSize: h * wd) { planes in
            weights.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    kernel.run(planes: planes, weights: wp.baseAddress!, bias: bias, out: op.baseAddress!, cout: cout, h: h, w: wd, oh: oh, ow: ow, g: g,
                               relu: n.int("antema_fused_relu", 0) == 1, winogradWeights: n.floats(Engine.winogradWeightsAttribute))
                }
            }
        }
        return Tensor(shape: [1, cout, oh, ow], floats: out)
    }

    /// Calls `body` with the start of every `planeSize` plane of `arrays`, in order, while the
    /// arrays' storage is pinned.
    static func withPlanes<R>(_ arrays: [[Float]], planeSize: Int, from i: Int = 0, _ found: [UnsafePointer<Float>] = [],
                              _ body: ([UnsafePointer<Float>]) -> R) -> R {
        guard i < arrays.count else { return body(found) }
        return arrays[i].withUnsafeBufferPointer { p in
            withPlanes(arrays, planeSize: planeSize, from: i + 1, found + (0..<(p.count / planeSize)).map { p.baseAddress! + $0 * planeSize }, body)
        }
    }

    static func convTranspose(_ n: Node, _ x: Tensor, _ w: Tensor, _ b: Tensor?) throws -> Tensor {
        guard x.shape.count == 4, w.shape.count == 4 else { throw ModelError.unsupported("\(n.label): only 2-D transposed convolutions") }
        var g = try geometry(n, kernel: (w.shape[2], w.shape[3]), h: x.shape[2], w: x.shape[3], transposed: true)
        guard w.shape[0] == x.shape[1], x.shape[1] % g.groups == 0 else { throw ModelError.invalid("\(n.label): input \(x.shape) and weights \(w.shape) do not fit") }
        let cout = w.shape[1] * g.groups
        var op = n.ints("output_padding") ?? [0, 0]
        guard op.count == 2, op[0] >= 0, op[1] >= 0, op[0] < max(g.strideH, g.dilH), op[1] < max(g.strideW, g.dilW) else {
            throw ModelError.invalid("\(n.label): output_padding \(op)")
        }
        if let target = n.ints("output_shape"), target.count >= 2 {
            let t = Array(target.suffix(2))
            for (axis, (size, k)) in [(x.shape[2], g.kh), (x.shape[3], g.kw)].enumerated() {
                let stride = axis == 0 ? g.strideH : g.strideW, dil = axis == 0 ? g.dilH : g.dilW
                let total = stride * (size - 1) + op[axis] + (k - 1) * dil + 1 - t[axis]
                let upper = n.string("auto_pad", "NOTSET") == "SAME_UPPER"
                let begin = upper ? total / 2 : total - total / 2
                if axis == 0 { g.padTop = begin; g.padBottom = total - begin } else { g.padLeft = begin; g.padRight = total - begin }
            }
            op = [0, 0]
        }
        let th = (x.shape[2] - 1) * g.strideH - g.padTop - g.padBottom + g.dilH * (g.kh - 1) + op[0] + 1
        let tw = (x.shape[3] - 1) * g.strideW - g.padLeft - g.padRight + g.dilW * (g.kw - 1) + op[1] + 1
        guard th > 0, tw > 0 else { throw ModelError.invalid("\(n.label): empty output") }
        _ = try checkedCount([x.shape[0], cout, th, tw], n)
        _ = try checkedCount([w.shape[1] * g.kh * g.kw, x.shape[2] * x.shape[3]], n)
        let r = Convolution.transposed(x.floats, n: x.shape[0], c: x.shape[1], h: x.shape[2], w: x.shape[3], weights: w.floats, bias: b?.floats,
                                       cout: cout, g: g, outputPadding: (op[0], op[1]))
        guard r.oh > 0, r.ow > 0 else { throw ModelError.invalid("\(n.label): empty output") }
        return Tensor(shape: [x.shape[0], cout, r.oh, r.ow], floats: r.out)
    }

    static func pool(_ n: Node, _ x: Tensor) throws -> Tensor {
        guard x.shape.count == 4, let k = n.ints("kernel_shape"), k.count == 2 else { throw ModelError.unsupported("\(n.label): only 2-D pooling with kernel_shape") }
        var g = try geometry(n, kernel: (k[0], k[1]), h: x.shape[2], w: x.shape[3])
        let isMax = n.opType == "MaxPool"
        if !isMax { g.dilH = 1; g.dilW = 1 }
        let ceilMode = n.int("ceil_mode", 0) == 1
        let includePad = n.int("count_include_pad", 0) == 1
        let h = x.shape[2], w = x.shape[3]
        func outSize(_ size: Int, _ k: Int, _ s: Int, _ d: Int, _ p0: Int, _ p1: Int) -> Int {
            let span = size + p0 + p1 - d * (k - 1) - 1
            var o = (ceilMode ? (span + s - 1) / s : span / s) + 1
            if ceilMode && (o - 1) * s >= size + p0 { o -= 1 }
            return o
        }
        let oh = outSize(h, g.kh, g.strideH, g.dilH, g.padTop, g.padBottom), ow = outSize(w, g.kw, g.strideW, g.dilW, g.padLeft, g.padRight)
        guard oh > 0, ow > 0 else { throw ModelError.invalid("\(n.label): input \(x.shape) is smaller than the window") }
        let planes = x.shape[0] * x.shape[1]
        let v = x.floats
        var out = [Float](repeating: 0, count: planes * oh * ow)
        if isMax && g.kh == 2 && g.kw == 2 && g.strideH == 2 && g.strideW == 2 && g.padTop == 0 && g.padLeft == 0 && g.dilH == 1 && g.dilW == 1
            && 2 * oh <= h && 2 * ow <= w {
            v.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for p in 0..<planes {
                        for oy in 0..<oh {
                            let r0 = src.baseAddress! + (p * h + 2 * oy) * w, r1 = r0 + w
                            let d = dst.baseAddress! + (p * oh + oy) * ow
                            for ox in 0..<ow { d[ox] = max(max(r0[2 * ox], r0[2 * ox + 1]), max(r1[2 * ox], r1[2 * ox + 1])) }
                        }
                    }
                }
            }
            return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], floats: out)
        }
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Float.infinity, sum: Float = 0, count = 0
                    for ki in 0..<g.kh {
                        let iy = oy * g.strideH - g.padTop + ki * g.dilH
                        for kj in 0..<g.kw {
                            let ix = ox * g.strideW - g.padLeft + kj * g.dilW
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                let value = v[(p * h + iy) * w + ix]
                                best = max(best, value); sum += value; count += 1
                            } else if includePad && iy < h + g.padBottom && ix < w + g.padRight {
                                count += 1
                            }
                        }
                    }
                    out[(p * oh + oy) * ow + ox] = isMax ? best : (count > 0 ? sum / Float(count) : 0)
                }
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], floats: out)
    }

    static func concat(_ ts: [Tensor], axis a: Int, _ n: Node) throws -> Tensor {
        guard let first = ts.first else { throw ModelError.invalid("\(n.label): no inputs") }
        let rank = first.shape.count
        let axis = a < 0 ? a + rank : a
        guard axis >= 0 && axis < rank else { throw ModelError.invalid("\(n.label): axis \(a) for rank \(rank)") }
        for t in ts {
            guard t.shape.count == rank, t.shape.enumerated().allSatisfy({ $0.offset == axis || $0.element == first.shape[$0.offset] }) else {
                throw ModelError.invalid("\(n.label): shapes \(ts.map(\.shape)) do not concatenate on axis \(axis)")
            }
        }
        let outer = first.shape[..<axis].reduce(1, *)
        var shape = first.shape
        shape[axis] = ts.map { $0.shape[axis] }.reduce(0, +)
        let inners = ts.map { $0.shape[axis...].reduce(1, *) }
        if ts.allSatisfy(\.isInt) {
            var out: [Int64] = []
            for o in 0..<outer { for (t, inner) in zip(ts, inners) { out += t.ints[(o * inner)..<((o + 1) * inner)] } }
            return Tensor(shape: shape, ints: out)
        }
        let values = ts.map(\.floats)
        let total = shape.reduce(1, *)
        let out = [Float](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for o in 0..<outer {
                for (v, inner) in zip(values, inners) {
                    v.withUnsafeBufferPointer { src in
                        (buffer.baseAddress! + offset).initialize(from: src.baseAddress! + o * inner, count: inner)
                    }
                    offset += inner
                }
            }
            initialized = total
        }
        return Tensor(shape: shape, floats: out)
    }

    static func transpose(_ x: Tensor, _ perm: [Int], _ n: Node) throws -> Tensor {
        guard perm.count == x.shape.count, Set(perm) == Set(0..<x.shape.count) else { throw ModelError.invalid("\(n.label): perm \(perm) for rank \(x.shape.count)") }
        let shape = perm.map { x.shape[$0] }
        let inStrides = strides(x.shape), outStrides = strides(shape)
        let count = x.count
        var map = [Int](repeating: 0, count: count)
        for i in 0..<count {
            var rem = i, src = 0
            for d in 0..<shape.count { let c = rem / outStrides[d]; rem -= c * outStrides[d]; src += c * inStrides[perm[d]] }
            map[i] = src
        }
        switch x.storage {
        case .float(let f): return Tensor(shape: shape, floats: map.map { f[$0] })
        case .int64(let v): return Tensor(shape: shape, ints: map.map { v[$0] })
        }
    }

    static func slice(_ n: Node, _ a: [Tensor?], opset: Int) throws -> Tensor {
        guard let x = a.first ?? nil else { throw ModelError.invalid("\(n.label): no input") }
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if opset >= 10 {
            guard a.count >= 3, let s = a[1], let e = a[2] else { throw ModelError.invalid("\(n.label): starts and ends are needed") }
            starts = s.ints.map { Int(clamping: $0) }; ends = e.ints.map { Int(clamping: $0) }
            axes = a.count > 3 ? a[3]?.ints.map { Int($0) } : nil
            steps = a.count > 4 ? a[4]?.ints.map { Int($0) } : nil
        } else {
            starts = n.ints("starts") ?? []; ends = n.ints("ends") ?? []; axes = n.ints("axes"); steps = nil
        }
        let rank = x.shape.count
        let ax = (axes ?? Array(0..<starts.count)).map { $0 < 0 ? $0 + rank : $0 }
        let st = steps ?? Array(repeating: 1, count: starts.count)
        guard ax.count == starts.count, ends.count == starts.count, st.count == starts.count, st.allSatisfy({ $0 != 0 }) else {
            throw ModelError.invalid("\(n.label): starts/ends/axes/steps do not match")
        }
        var begin = [Int](repeating: 0, count: rank), step = [Int](repeating: 1, count: rank), size = x.shape
        for (k, d) in ax.enumerated() {
            guard d >= 0 && d < rank else { throw ModelError.invalid("\(n.label): axis \(d)") }
            let dim = x.shape[d]
            // bound everything first so no arithmetic below can overflow (|values| <= 2^40)
            let limit = 1 << 40
            let start = min(max(starts[k], -limit), limit), end = min(max(ends[k], -limit), limit)
            let stp = min(max(st[k], -limit), limit)
            var s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end
            if stp > 0 { s = min(max(s, 0), dim); e = min(max(e, 0), dim); size[d] = max(0, (e - s + stp - 1) / stp) }
            else { s = min(max(s, -1), dim - 1); e = min(max(e, -1), dim - 1); size[d] = max(0, (s - e - stp - 1) / -stp) }
            begin[d] = s; step[d] = stp
        }
        let inStrides = strides(x.shape), outStrides = strides(size)
        let count = size.reduce(1, *)
        var map = [Int](repeating: 0, count: count)
        for i in 0..<count {
            var rem = i, src = 0
            for d in 0..<rank { let c = rem / outStrides[d]; rem -= c * outStrides[d]; src += (begin[d] + c * step[d]) * inStrides[d] }
            map[i] = src
        }
        switch x.storage {
        case .float(let f): return Tensor(shape: size, floats: map.map { f[$0] })
        case .int64(let v): return Tensor(shape: size, ints: map.map { v[$0] })
        }
    }

    static func gather(_ x: Tensor, _ idx: Tensor, axis a: Int, _ n: Node) throws -> Tensor {
        let rank = x.shape.count
        let axis = a < 0 ? a + rank : a
        guard axis >= 0 && axis < rank else { throw ModelError.invalid("\(n.label): axis \(a)") }
        let dim = x.shape[axis]
        let indices = try idx.ints.map { i -> Int in
            let k = Int(i) < 0 ? Int(i) + dim : Int(i)
            guard k >= 0 && k < dim else { throw ModelError.invalid("\(n.label): index \(i) out of 0..<\(dim)") }
            return k
        }
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
        let shape = Array(x.shape[..<axis]) + idx.shape + Array(x.shape[(axis + 1)...])
        var map: [Int] = []
        map.reserveCapacity(outer * indices.count * inner)
        for o in 0..<outer { for k in indices { for i in 0..<inner { map.append((o * dim + k) * inner + i) } } }
        switch x.storage {
        case .float(let f): return Tensor(shape: shape, floats: map.map { f[$0] })
        case .int64(let v): return Tensor(shape: shape, ints: map.map { v[$0] })
        }
    }

    static func pad(_ n: Node, _ a: [Tensor?], opset: Int) throws -> Tensor {
        guard let x = a.first ?? nil else { throw ModelError.invalid("\(n.label): no input") }
        let rank = x.shape.count
        var pads: [Int], value: Float = 0
        if opset >= 11 {
            guard a.count > 1, let p = a[1] else { throw ModelError.invalid("\(n.label): pads are needed") }
            pads = p.ints.map { Int($0) }
            if a.count > 2, let v = a[2] { value = v.floats.first ?? 0 }
            if a.count > 3, let axesT = a[3] {
                let axes = axesT.ints.map { Int($0) < 0 ? Int($0) + rank : Int($0) }
                guard axes.allSatisfy({ $0 >= 0 && $0 < rank }), pads.count == 2 * axes.count else { throw ModelError.invalid("\(n.label): pads \(pads) for axes \(axes)") }
                var full = [Int](repeating: 0, count: 2 * rank)
                for (k, d) in axes.enumerated() { full[d] = pads[k]; full[d + rank] = pads[k + axes.count] }
                pads = full
            }
        } else {
            pads = n.ints("pads") ?? []
            value = n.float("value", 0)
        }
        guard pads.count == 2 * rank else { throw ModelError.invalid("\(n.label): \(pads.count) pads for rank \(rank)") }
        let mode = n.string("mode", "constant")
        guard pads.allSatisfy({ abs($0) <= 1 << 20 }) else { throw ModelError.invalid("\(n.label): pads \(pads)") }
        let shape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[$0 + rank] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw ModelError.invalid("\(n.label): pads \(pads) for shape \(x.shape)") }
        _ = try checkedCount(shape, n)
        let inStrides = strides(x.shape), outStrides = strides(shape)
        let v = x.floats
        var out = [Float](repeating: value, count: shape.reduce(1, *))
        for i in 0..<out.count {
            var rem = i, src = 0, inside = true
            for d in 0..<rank {
                let c = rem / outStrides[d]
                rem -= c * outStrides[d]
                var s = c - pads[d]
                let dim = x.shape[d]
                if s < 0 || s >= dim {
                    switch mode {
                    case "edge": s = min(max(s, 0), dim - 1)
                    case "reflect":
                        if dim == 1 { s = 0 } else {
                            let period = 2 * (dim - 1)
                            s = ((s % period) + period) % period
                            if s >= dim { s = period - s }
                        }
                    default: inside = false
                    }
                }
                if !inside { break }
                src += s * inStrides[d]
            }
            if inside { out[i] = v[src] }
        }
        return Tensor(shape: shape, floats: out)
    }

    static func resize(_ n: Node, _ a: [Tensor?], opset: Int) throws -> Tensor {
        guard let x = a.first ?? nil, x.shape.count == 4 else { throw ModelError.unsupported("\(n.label): only 4-D (NCHW) inputs") }
        var scales: [Float]? = nil, sizes: [Int]? = nil
        if n.opType == "Upsample" {
            scales = opset >= 9 ? (a.count > 1 ? a[1]?.floats : nil) : n.floats("scales")
        } else if opset >= 11 {
            if a.count > 2, let s = a[2], s.count > 0 { scales = s.floats }
            if a.count > 3, let s = a[3], s.count > 0 { sizes = s.ints.map { Int($0) } }
        } else {
            scales = a.count > 1 ? a[1]?.floats : nil
        }
        let h = x.shape[2], w = x.shape[3]
        var oh: Int, ow: Int, sh: Float, sw: Float
        if let sizes, sizes.count == 4 {
            oh = sizes[2]; ow = sizes[3]; sh = Float(oh) / Float(h); sw = Float(ow) / Float(w)
        } else if let scales, scales.count == 4 {
            guard scales[0] == 1, scales[1] == 1 else { throw ModelError.unsupported("\(n.label): resizing the batch or channel axes") }
            sh = scales[2]; sw = scales[3]
            let fh = Float(h) * sh, fw = Float(w) * sw
            guard sh.isFinite, sw.isFinite, sh > 0, sw > 0, fh >= 1, fw >= 1, fh <= 65536, fw <= 65536 else {
                throw ModelError.invalid("\(n.label): scales \(scales) for a \(h) x \(w) input")
            }
            oh = Int(fh); ow = Int(fw)
        } else {
            throw ModelError.invalid("\(n.label): needs 4 scales or 4 sizes")
        }
        guard oh > 0, ow > 0, oh <= 1 << 16, ow <= 1 << 16 else { throw ModelError.invalid("\(n.label): output size \(oh) x \(ow)") }
        _ = try checkedCount([x.shape[0], x.shape[1], oh, ow], n)
        let mode = n.opType == "Upsample" ? n.string("mode", "nearest") : n.string("mode", "nearest")
        let ct = n.opType == "Upsample" ? "asymmetric" : n.string("coordinate_transformation_mode", opset >= 11 ? "half_pixel" : "asymmetric")
        let nearestMode = n.string("nearest_mode", "round_prefer_floor")
        func source(_ o: Int, _ scale: Float, _ inSize: Int, _ outSize: Int) -> Float {
            switch ct {
            case "asymmetric": return Float(o) / scale
            case "align_corners": return outSize > 1 ? Float(o) * Float(inSize - 1) / Float(outSize - 1) : 0
            case "pytorch_half_pixel": return outSize > 1 ? (Float(o) + 0.5) / scale - 0.5 : 0
            default: return (Float(o) + 0.5) / scale - 0.5
            }
        }
        let planes = x.shape[0] * x.shape[1]
        let v = x.floats
        var out = [Float](repeating: 0, count: planes * oh * ow)
        if mode == "nearest" {
            func pick(_ f: Float, _ size: Int) -> Int {
                let r: Float
                switch nearestMode {
                case "floor": r = f.rounded(.down)
                case "ceil": r = f.rounded(.up)
                case "round_prefer_ceil": r = (f - f.rounded(.down)) == 0.5 ? f.rounded(.up) : f.rounded()
                default: r = (f - f.rounded(.down)) == 0.5 ? f.rounded(.down) : f.rounded()
                }
                return min(max(Int(r), 0), size - 1)
            }
            let ys = (0..<oh).map { pick(source($0, sh, h, oh), h) }, xs = (0..<ow).map { pick(source($0, sw, w, ow), w) }
            for p in 0..<planes { for oy in 0..<oh { for ox in 0..<ow { out[(p * oh + oy) * ow + ox] = v[(p * h + ys[oy]) * w + xs[ox]] } } }
        } else {
            func weights(_ o: Int, _ scale: Float, _ size: Int, _ outSize: Int) -> (Int, Int, Float) {
                let f = min(max(source(o, scale, size, outSize), 0), Float(size - 1))
                let i0 = Int(f.rounded(.down)), i1 = min(i0 + 1, size - 1)
                return (i0, i1, f - Float(i0))
            }
            let ys = (0..<oh).map { weights($0, sh, h, oh) }, xs = (0..<ow).map { weights($0, sw, w, ow) }
            for p in 0..<planes {
                for oy in 0..<oh {
                    let (y0, y1, fy) = ys[oy]
                    for ox in 0..<ow {
                        let (x0, x1, fx) = xs[ox]
                        let a00 = v[(p * h + y0) * w + x0], a01 = v[(p * h + y0) * w + x1]
                        let a10 = v[(p * h + y1) * w + x0], a11 = v[(p * h + y1) * w + x1]
                        let top = a00 + (a01 - a00) * fx, bottom = a10 + (a11 - a10) * fx
                        out[(p * oh + oy) * ow + ox] = top + (bottom - top) * fy
                    }
                }
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], floats: out)
    }
}
