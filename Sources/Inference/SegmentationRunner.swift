import Foundation

/// What a segmentation model declares about itself: a JSON file beside the model
/// (`<model>.json`) or the ONNX metadata property `antema`.
public struct ModelMetadata: Codable, Sendable, Equatable {
    /// `robust`: (x - median) / ((p99 - p1) / 4), clipped to [-6, 6], with the statistics taken
    /// over the image's content only (burned-in annotations and excluded regions left out), so
    /// that a scale bar or a saturated label does not shift the rest (training/instances.py,
    /// `robust_normalize`).
    public enum Normalization: String, Codable, Sendable { case standardize, minmax, robust, none }
    public enum Output: String, Codable, Sendable { case logit, softmax }

    public var name: String
    public var version: String
    /// The pixel size the model was trained at; images are resampled to it (unless
    /// `pixelSizeRangeNm` is given).
    public var trainingPixelSizeNm: Double
    /// A model trained across pixel sizes: images whose pixel size lies in [min, max] go in as
    /// they are; others are resampled to the nearest end of the range.
    public var pixelSizeRangeNm: [Double]?
    /// `standardize`: (x - mean) / sd per image; `minmax`: to 0...1 per image.
    public var normalization: Normalization
    /// `logit`: one channel, particle probability = sigmoid; `softmax`: N classes, `particleClass`.
    public var output: Output
    public var particleClass: Int
    /// The output channel holding the logit of each pixel's normalised distance to its
    /// particle's edge (1 at a particle's centre, 0 at its edge and where particles touch), for
    /// instance-aware models; nil for models with the particle output alone.
    public var distanceClass: Int?
    /// The output channel holding the logit of the boundary between touching or overlapping
    /// particles (training/train_boundary.py), for instance-aware models with a boundary head;
    /// the distance map the separation sees is then the distance times (1 - boundary
    /// probability), so that it falls to 0 where the network sees two particles meet. nil: the
    /// distance map as it is.
    public var boundaryClass: Int?
    /// With `boundaryClass`: the distance is set to 0 where the boundary probability reaches this,
    /// and left as it is elsewhere, instead of the product. nil: the product.
    public var boundaryThreshold: Double?
    /// Particles whose mean particle probability is below this are dropped unless the user
    /// sets `min_confidence` (chosen on the model's validation images); nil: none dropped.
    public var minimumConfidence: Double?
    /// The network takes the pixel size it sees the image at: its input has three planes, the
    /// normalised image, 1 where the pixel size is known (0 for an image without a calibration)
    /// and the natural logarithm of that pixel size in nm (0 where unknown) (training/
    /// train_instance.py `scale_planes`). A blob 3 px across is a particle at 0.5 nm/px and the
    /// carbon film's grain at 0.1 nm/px. nil or false: the image plane alone.
    public var pixelSizePlanes: Bool?
    /// Dark particles on bright background (bright-field) unless true.
    public var brightParticles: Bool
    public var licence: String
    /// Spatial sizes must be multiples of this (2^pooling levels).
    public var sizeMultiple: Int
    /// Tile cores of at most this many pixels a side; a tile reaches `tileMarginPx` beyond its core
    /// on each side that is not the image's edge (so tiles overlap by twice the margin).
    public var tileSizePx: Int
    public var tileMarginPx: Int

    public init(name: String, version: String, trainingPixelSizeNm: Double, normalization: Normalization = .standardize, output: Output = .logit,
                particleClass: Int = 0, brightParticles: Bool = false, licence: String = "", sizeMultiple: Int = 8, tileSizePx: Int = 1024, tileMarginPx: Int = 64) {
        self.name = name; self.version = version; self.trainingPixelSizeNm = trainingPixelSizeNm; self.normalization = normalization
        self.output = output; self.particleClass = particleClass; self.brightParticles = brightParticles; self.licence = licence
        self.sizeMultiple = sizeMultiple; self.tileSizePx = tileSizePx; self.tileMarginPx = tileMarginPx
    }

    /// The pixel size (nm) an image of `pixelSizeNm` is resampled to before the network.
    public func modelPixelSizeNm(forImagePixelSizeNm pixelSizeNm: Double) -> Double {
        if let r = pixelSizeRangeNm, r.count == 2, r[0] > 0, r[1] >= r[0] {
            return min(max(pixelSizeNm, r[0]), r[1])
        }
        return trainingPixelSizeNm
    }

    /// Reads `<model>.json`, else the model's `antema` metadata property.
    public static func load(modelPath: String, model: ONNXModel) throws -> ModelMetadata {
        let json = (modelPath as NSString).deletingPathExtension + ".json"
        if let data = FileManager.default.contents(atPath: json) {
            do { return try JSONDecoder().decode(ModelMetadata.self, from: data) } catch {
                throw ModelError.invalid("\(json): \(error)")
            }
        }
        if let text = model.metadata["antema"] {
            do { return try JSONDecoder().decode(ModelMetadata.self, from: Data(text.utf8)) } catch {
                throw ModelError.invalid("the model's 'antema' metadata: \(error)")
            }
        }
        throw ModelError.invalid("no metadata for \(modelPath): put a \(json) beside it (name, version, trainingPixelSizeNm, ...)")
    }
}

/// What the network says about each pixel, at the input's size.
public struct Prediction: Sendable {
    /// Particle probability (0...1).
    public var probability: [Float]
    /// Normalised distance to the particle's edge (0...1), for instance-aware models.
    public var distance: [Float]?
    /// The factor the frame's pixels were resampled by before the network (0.5: half its
    /// pixels), after `SegmentationRunner.maximumEnlargedPixels` bounded it.
    public var networkScale: Double = 1
    /// The scale the pixel size (or the caller) asked for was lowered to bound the memory.
    public var networkScaleLimited = false

    public init(probability: [Float], distance: [Float]? = nil, networkScale: Double = 1, networkScaleLimited: Bool = false) {
        self.probability = probability
        self.distance = distance
        self.networkScale = networkScale
        self.networkScaleLimited = networkScaleLimited
    }
}

/// Image (any size, any pixel size) -> model input (resampled to the model's pixel size,
/// normalised) -> probability of "particle" at the input's size. Large images go through the
/// network in overlapping tiles aligned to the model's pooling grid; each tile keeps only its
/// centre, so seams leave no trace when the margin exceeds the network's receptive radius.
public struct SegmentationRunner: Sendable {
    public let engine: Engine
    public let metadata: ModelMetadata
    /// See `defaultMaximumEnlargedPixels`.
    public var maximumEnlargedPixels = SegmentationRunner.defaultMaximumEnlargedPixels

    public init(engine: Engine, metadata: ModelMetadata) {
        self.engine = engine
        self.metadata = metadata
    }

    public init(modelPath: String) throws {
        let model = try ONNXModel.load(path: modelPath)
        try self.init(engine: Engine(model: model), metadata: ModelMetadata.load(modelPath: modelPath, model: model))
    }

    /// Particle probability (0...1) per pixel, row-major, the input's size. `brightParticles`:
    /// the image shows particles brighter than the background (it is inverted when the model
    /// was trained on the other contrast).
    public func probabilities(_ pixels: [Float], width: Int, height: Int, pixelSizeNm: Double?, brightParticles: Bool = false) throws -> [Float] {
        try predict(pixels, width: width, height: height, pixelSizeNm: pixelSizeNm, brightParticles: brightParticles).probability
    }

    /// Particle probability and (for instance-aware models) distance per pixel, the input's
    /// size. `exclude` (row-major, the input's size): pixels left out of the normalisation's
    /// statistics (burned-in annotations, excluded regions). `pixelSizeNm` nil: an image without
    /// a calibration, which the network sees at its own pixels (as it saw the uncalibrated
    /// training images) resampled by `uncalibratedScale` (2: particles twice as large).
    /// `calibratedZoom` (a calibrated frame): the network sees the frame at the model's pixel
    /// size for `pixelSizeNm / calibratedZoom` (2: particles twice as large, within the model's
    /// range of pixel sizes).
    public func predict(_ pixels: [Float], width: Int, height: Int, pixelSizeNm: Double?, uncalibratedScale: Double = 1, calibratedZoom: Double = 1,
                        brightParticles: Bool = false, exclude: [Bool]? = nil) throws -> Prediction {
        guard width > 0, height > 0, pixels.count == width * height else { throw ModelError.invalid("image of \(pixels.count) values for \(width) x \(height)") }
        guard uncalibratedScale > 0, uncalibratedScale.isFinite else { throw ModelError.invalid("network scale \(uncalibratedScale)") }
        guard calibratedZoom > 0, calibratedZoom.isFinite else { throw ModelError.invalid("zoom \(calibratedZoom)") }
        var scale = uncalibratedScale
        if let pixelSizeNm {
            guard pixelSizeNm > 0, pixelSizeNm.isFinite else { throw ModelError.invalid("pixel size \(pixelSizeNm) nm") }
            scale = pixelSizeNm / metadata.modelPixelSizeNm(forImagePixelSizeNm: pixelSizeNm / calibratedZoom)
        }
        // the network's input is bounded: a frame is enlarged to at most the larger of its own
        // pixels and `maximumEnlargedPixels` (a 4096 x 4096 SEM overview at 20 nm/px would
        // otherwise reach the network as 40960 x 40960, 6.7 GB per float array)
        var limited = false
        let framePixels = Double(width) * Double(height)
        let cap = max(framePixels, Double(maximumEnlargedPixels))
        if framePixels * scale * scale > cap {
            scale = (cap / framePixels).squareRoot()
            limited = true
        }
        let mw = max(1, Int((Double(width) * scale).rounded())), mh = max(1, Int((Double(height) * scale).rounded()))
        // shrinking averages each model pixel's area (no aliasing: the noise of a fine micrograph
        // averages out as it would in a coarser one); enlarging interpolates
        var image = mw <= width && mh <= height
            ? Resampling.area(pixels, width: width, height: height, toWidth: mw, toHeight: mh)
            : Resampling.bilinear(pixels, width: width, height: height, toWidth: mw, toHeight: mh)
        let invert = brightParticles != metadata.brightParticles
        if invert {
            for i in image.indices { image[i] = -image[i] }
        }
        if metadata.normalization == .robust {
            // statistics of the image's content at its own resolution, applied to the network's input
            let (centre, scale) = RobustStatistics.centreAndScale(pixels, exclude: exclude)
            let c = invert ? -centre : centre
            for i in image.indices { image[i] = min(6, max(-6, (image[i] - c) / scale)) }
        } else {
            normalise(&image)
        }
        // the pixel size the network sees the image at (the frame's, resampled), for models that take it
        let networkPixelSizeNm = pixelSizeNm.map { $0 * Double(width) / Double(mw) }
        let (prob, dist) = try tiled(image, width: mw, height: mh, pixelSizeNm: networkPixelSizeNm)
        return Prediction(probability: Resampling.bilinear(prob, width: mw, height: mh, toWidth: width, toHeight: height),
                          distance: dist.map { Resampling.bilinear($0, width: mw, height: mh, toWidth: width, toHeight: height) },
                          networkScale: scale, networkScaleLimited: limited)
    }

    /// The most pixels an enlarged frame reaches the network with (4096 x 4096); frames larger
    /// than that are never enlarged, only shrunk or seen at their own pixels.
    public static let defaultMaximumEnlargedPixels = 1 << 24

    func normalise(_ v: inout [Float]) {
        switch metadata.normalization {
        case .robust:
            let (c, s) = RobustStatistics.centreAndScale(v, exclude: nil)
            for i in v.indices { v[i] = min(6, max(-6, (v[i] - c) / s)) }
        case .standardize:
            let n = Double(v.count)
            let mean = v.reduce(0.0) { $0 + Double($1) } / n
            let sd = (v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
            let s = Float(sd > 1e-12 ? sd : 1), m = Float(mean)
            for i in v.indices { v[i] = (v[i] - m) / s }
        case .minmax:
            let lo = v.min() ?? 0, hi = v.max() ?? 1
            let s = hi > lo ? hi - lo : 1
            for i in v.indices { v[i] = (v[i] - lo) / s }
        case .none: break
        }
    }

    /// Runs the network on `image` (model resolution, `pixelSizeNm` per pixel where known) tile by
    /// tile; returns probabilities and, for instance-aware models, distances.
    func tiled(_ image: [Float], width: Int, height: Int, pixelSizeNm: Double? = nil) throws -> ([Float], [Float]?) {
        let planes = metadata.pixelSizePlanes == true ? 3 : 1
        let known: Float = pixelSizeNm == nil ? 0 : 1, lnPixelSizeNm = Float(pixelSizeNm.map { Foundation.log($0) } ?? 0)
        let m = max(1, metadata.sizeMultiple)
        let margin = (metadata.tileMarginPx + m - 1) / m * m
        let limit = max(m, metadata.tileSizePx / m * m)
        var out = [Float](repeating: 0, count: width * height)
        var distance: [Float]? = metadata.distanceClass == nil ? nil : [Float](repeating: 0, count: width * height)
        let boundaryCut = metadata.boundaryThreshold.map { Float($0) }
        // Balanced tiles: an axis of `size` is cut into the fewest cores of at most `tileSizePx`
        // (on the pooling grid), and each tile reaches `margin` beyond its core on its interior
        // sides only (the image's own edges need none). 2048 px: two tiles of 1152 per axis
        // (5.1 tile-areas of 1024^2) where fixed 1024 px tiles with 768 px cores took three
        // (6.6, the last mostly margin).
        func spans(_ size: Int) -> [(start: Int, length: Int, keepFrom: Int, keepTo: Int)] {
            if size <= limit { return [(0, size, 0, size)] }
            let n = (size + limit - 1) / limit
            let core = ((size + n - 1) / n + m - 1) / m * m
            var out: [(start: Int, length: Int, keepFrom: Int, keepTo: Int)] = []
            var c0 = 0
            while c0 < size {
                let c1 = min(size, c0 + core)
                let start = max(0, c0 - margin), end = min(size, c1 + margin)
                out.append((start, end - start, c0 - start, c1 - start))
                c0 = c1
            }
            return out
        }
        for rows in spans(height) {
            for cols in spans(width) {
                let ty = rows.start, tx = cols.start, th = rows.length, tw = cols.length
                // pad the tile up to a multiple of the pooling size (reflection), crop the result
                let ph = (th + m - 1) / m * m, pw = (tw + m - 1) / m * m
                var input = [Float](repeating: 0, count: planes * ph * pw)
                for r in 0..<ph {
                    let sr = r < th ? r : 2 * th - r - 2 >= 0 ? 2 * th - r - 2 : th - 1
                    for c in 0..<pw {
                        let sc = c < tw ? c : 2 * tw - c - 2 >= 0 ? 2 * tw - c - 2 : tw - 1
                        input[r * pw + c] = image[(ty + sr) * width + tx + sc]
                    }
                }
                if planes == 3 {
                    input.replaceSubrange(ph * pw..<2 * ph * pw, with: repeatElement(known, count: ph * pw))
                    input.replaceSubrange(2 * ph * pw..<3 * ph * pw, with: repeatElement(lnPixelSizeNm, count: ph * pw))
                }
                let name = engine.model.inputs.first { engine.constants[$0.name] == nil }?.name ?? "x"
                let result = try engine.run([name: Tensor(shape: [1, planes, ph, pw], floats: input)])
                guard let y = result[engine.model.outputs[0].name], y.shape.count == 4, y.shape[2] == ph, y.shape[3] == pw else {
                    throw ModelError.invalid("the model's output does not have the input's height and width")
                }
                let v = y.floats, plane = ph * pw
                // the channels this output has, looked up once per tile rather than per pixel
                let distanceChannel = metadata.distanceClass.flatMap { $0 < y.shape[1] ? $0 : nil }
                let boundaryChannel = metadata.boundaryClass.flatMap { $0 < y.shape[1] ? $0 : nil }
                // keep the tile's core
                let keepTop = rows.keepFrom, keepLeft = cols.keepFrom, keepBottom = rows.keepTo, keepRight = cols.keepTo
                for r in keepTop..<max(keepTop, keepBottom) {
                    for c in keepLeft..<max(keepLeft, keepRight) {
                        let p: Float
                        switch metadata.output {
                        case .logit: p = 1 / (1 + exp(-v[r * pw + c]))
                        case .softmax:
                            let k = min(metadata.particleClass, y.shape[1] - 1)
                            p = v[k * plane + r * pw + c]
                        }
                        out[(ty + r) * width + tx + c] = p
                        if let k = distanceChannel {
                            var d = 1 / (1 + exp(-v[k * plane + r * pw + c]))
                            if let b = boundaryChannel {
                                let boundary = 1 / (1 + exp(-v[b * plane + r * pw + c]))
                                if let t = boundaryCut { d = boundary >= t ? 0 : d } else { d *= 1 - boundary }
                            }
                            distance![(ty + r) * width + tx + c] = d
                        }
                    }
                }
            }
        }
        return (out, distance)
    }
}

/// The robust normalisation's statistics: the median and a quarter of the 1st-99th percentile
/// range (linear interpolation between order statistics, as numpy's default), over at most
/// 262,144 evenly strided pixels not excluded; the standard deviation where that range is 0.
public enum RobustStatistics {
    public static func centreAndScale(_ v: [Float], exclude: [Bool]?) -> (centre: Float, scale: Float) {
        var values: [Float] = []
        let stride = max(1, v.count / 262_144)
        values.reserveCapacity(v.count / stride + 1)
        var i = 0
        while i < v.count {
            if exclude?[i] != true { values.append(v[i]) }
            i += stride
        }
        if values.count < 16 { values = Swift.stride(from: 0, to: v.count, by: stride).map { v[$0] } }
        guard !values.isEmpty else { return (0, 1) }
        values.sort()
        func q(_ p: Double) -> Float {
            let pos = p * Double(values.count - 1)
            let lo = Int(pos.rounded(.down)), hi = min(lo + 1, values.count - 1)
            let f = Float(pos - Double(lo))
            return values[lo] * (1 - f) + values[hi] * f
        }
        let centre = q(0.5)
        var scale = (q(0.99) - q(0.01)) / 4
        if !(scale > 1e-6) {
            let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
            scale = Float((values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)).squareRoot())
        }
        if !(scale > 1e-6) { scale = 1 }
        return (centre, scale)
    }
}

public enum Resampling {
    /// Shrinking by exact area overlap (a box filter): output pixel j along an axis of n input
    /// pixels resampled to m covers input [j n/m, (j+1) n/m), and each input pixel contributes
    /// the fraction of it that lies inside. Constants and the image's mean are kept. Meant for
    /// `toWidth <= width`, `toHeight <= height` (enlarging with it repeats pixels). The training
    /// simulator shrinks fine micrographs the same way (`training/simulate.py`,
    /// `area_resample_matrix`).
    public static func area(_ v: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [Float] {
        if width == toWidth && height == toHeight { return v }
        /// For each output index: the first input index and the weights from there on.
        func weights(_ n: Int, _ m: Int) -> [(first: Int, w: [Float])] {
            let step = Double(n) / Double(m)
            return (0..<m).map { j in
                let a = Double(j) * step, b = Double(j + 1) * step
                let first = Int(a.rounded(.down)), last = min(n, Int(b.rounded(.up)))
                return (first, (first..<last).map { i in Float((min(b, Double(i + 1)) - max(a, Double(i))) / step) })
            }
        }
        let wx = weights(width, toWidth), wy = weights(height, toHeight)
        var rows = [Float](repeating: 0, count: height * toWidth)
        for r in 0..<height {
            for (c, k) in wx.enumerated() {
                var s: Float = 0
                for (o, w) in k.w.enumerated() { s += w * v[r * width + k.first + o] }
                rows[r * toWidth + c] = s
            }
        }
        var out = [Float](repeating: 0, count: toWidth * toHeight)
        for (r, k) in wy.enumerated() {
            for (o, w) in k.w.enumerated() {
                let src = (k.first + o) * toWidth
                for c in 0..<toWidth { out[r * toWidth + c] += w * rows[src + c] }
            }
        }
        return out
    }

    /// Bilinear resampling with pixel centres aligned (half-pixel convention).
    public static func bilinear(_ v: [Float], width: Int, height: Int, toWidth: Int, toHeight: Int) -> [Float] {
        if width == toWidth && height == toHeight { return v }
        let sx = Double(width) / Double(toWidth), sy = Double(height) / Double(toHeight)
        var out = [Float](repeating: 0, count: toWidth * toHeight)
        for r in 0..<toHeight {
            let fy = min(max((Double(r) + 0.5) * sy - 0.5, 0), Double(height - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, height - 1), wy = Float(fy - Double(y0))
            for c in 0..<toWidth {
                let fx = min(max((Double(c) + 0.5) * sx - 0.5, 0), Double(width - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, width - 1), wx = Float(fx - Double(x0))
                let top = v[y0 * width + x0] * (1 - wx) + v[y0 * width + x1] * wx
                let bottom = v[y1 * width + x0] * (1 - wx) + v[y1 * width + x1] * wx
                out[r * toWidth + c] = top * (1 - wy) + bottom * wy
            }
        }
        return out
    }
}
