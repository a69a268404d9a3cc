import Foundation

/// Runs an ONNX model. Load once (`Engine(model:)` checks every operator and attribute, folds
/// BatchNormalization into the convolutions before it, orders the nodes), then `run` as often as
/// needed. Tensors are float32, NCHW; int64 tensors carry shapes and indices.
public final class Engine: Sendable {
    public let model: ONNXModel
    let order: [Node]
    let constants: [String: Tensor]
    /// For each value, the index in `order` of its last use (freed after it).
    let lastUse: [String: Int]

    public static let supportedOperators: Set<String> = [
        "Conv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Softmax", "Add", "Sub", "Mul", "Div",
        "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Resize", "Upsample", "Pad", "Reshape", "Flatten", "Transpose",
        "Slice", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Identity", "Constant", "Clip", "Dropout",
    ]

    public convenience init(path: String) throws { try self.init(model: ONNXModel.load(path: path)) }

    public init(model: ONNXModel) throws {
        _ = Convolution.threads  // OpenBLAS single-threaded; antema splits the work itself
        self.model = model
        var constants = model.initializers
        var nodes = model.nodes
        for n in nodes {
            guard n.domain.isEmpty || n.domain == "ai.onnx" else { throw ModelError.unsupported("\(n.label): operator domain '\(n.domain)'") }
            guard Engine.supportedOperators.contains(n.opType) else { throw ModelError.unsupported("\(n.label): operator \(n.opType)") }
            try Engine.checkAttributes(n)
        }
        // Constant nodes become constants.
        nodes.removeAll { n in
            guard n.opType == "Constant" else { return false }
            if case .tensor(let t)? = n.attributes["value"] { constants[n.outputs[0]] = t }
            else if case .float(let f)? = n.attributes["value_float"] { constants[n.outputs[0]] = Tensor(shape: [], floats: [f]) }
            else if case .floats(let f)? = n.attributes["value_floats"] { constants[n.outputs[0]] = Tensor(shape: [f.count], floats: f) }
            else if case .int(let i)? = n.attributes["value_int"] { constants[n.outputs[0]] = Tensor(shape: [], ints: [i]) }
            else if case .ints(let i)? = n.attributes["value_ints"] { constants[n.outputs[0]] = Tensor(shape: [i.count], ints: i) }
            return true
        }
        for (name, t) in constants { try Engine.checkShape(t.shape, "initializer '\(name)'") }
        // The engine's own annotations (fused ReLU, concatenated parts, transformed weights) are
        // set below and nowhere else: a model file cannot bring them in.
        for i in nodes.indices { nodes[i].attributes = nodes[i].attributes.filter { !$0.key.hasPrefix(Engine.ownAttributePrefix) } }
        Engine.foldBatchNorm(&nodes, &constants)
        if Engine.fuseConcat { Engine.fuseConcatIntoConv(&nodes, outputs: Set(model.outputs.map(\.name))) }
        if Engine.prepareWinograd { Engine.prepareWinogradWeights(&nodes, constants) }
        // Topological order (Kahn); a cycle or a missing input is an error.
        var produced: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs where !o.isEmpty { produced[o] = i } }
        let available = Set(model.inputs.map(\.name)).union(constants.keys)
        var indegree = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for input in n.inputs where !input.isEmpty && !available.contains(input) {
                guard let p = produced[input] else { throw ModelError.invalid("\(n.label): input '\(input)' is produced by no node and is not a graph input or initializer") }
                indegree[i] += 1
                dependents[p].append(i)
            }
        }
        var ready = (0..<nodes.count).filter { indegree[$0] == 0 }
        var ordered: [Node] = []
        while let i = ready.first {
            ready.removeFirst()
            ordered.append(nodes[i])
            for d in dependents[i] {
                indegree[d] -= 1
                if indegree[d] == 0 { ready.append(d) }
            }
        }
        guard ordered.count == nodes.count else { throw ModelError.invalid("the graph has a cycle") }
        for o in model.outputs where produced[o.name] == nil && constants[o.name] == nil && !available.contains(o.name) {
            throw ModelError.invalid("graph output '\(o.name)' is produced by no node")
        }
        var last: [String: Int] = [:]
        for (i, n) in ordered.enumerated() { for input in n.inputs { last[input] = i } }
        for o in model.outputs { last[o.name] = Int.max }
        self.order = ordered
        self.constants = constants
        self.lastUse = last
    }

    /// " -> Cout" for a convolution's profile line, " (concatenated, C in)" where it read a
    /// concatenation's parts.
    static func profileSuffix(_ node: Node, _ args: [Tensor?]) -> String {
        let parts = node.int(concatPartsAttribute, 1)
        let cout = args.count > parts ? args[parts]?.shape.first ?? 0 : 0
        guard parts > 1 else { return " -> \(cout)" }
        let cin = args.prefix(parts).reduce(0) { $0 + (($1?.shape.count ?? 0) > 1 ? $1!.shape[1] : 0) }
        return " -> \(cout) (concatenated, \(cin) in)"
    }

    /// Fewest inputs each operator needs.
    static let minimumInputs: [String: Int] = [
        "Conv": 2, "ConvTranspose": 2, "BatchNormalization": 5, "Add": 2, "Sub": 2, "Mul": 2, "Div": 2, "Concat": 1,
        "Reshape": 2, "Gather": 2, "Constant": 0, "Slice": 1, "Resize": 1, "Upsample": 1, "Pad": 1,
    ]

    static func checkAttributes(_ n: Node) throws {
        let needed = minimumInputs[n.opType] ?? 1
        guard n.inputs.count >= needed, n.inputs.prefix(needed).allSatisfy({ !$0.isEmpty || needed == 0 }) else {
            throw ModelError.invalid("\(n.label): needs at least \(needed) inputs, has \(n.inputs.count)")
        }
        guard let first = n.outputs.first, !first.isEmpty else { throw ModelError.invalid("\(n.label): has no output") }
        switch n.opType {
        case "Conv", "ConvTranspose", "MaxPool", "AveragePool":
            let autoPad = n.string("auto_pad", "NOTSET")
            guard ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) else { throw ModelError.unsupported("\(n.label): auto_pad \(autoPad)") }
            if let k = n.ints("kernel_shape"), k.count != 2 { throw ModelError.unsupported("\(n.label): \(k.count)-D kernels (only 2-D)") }
            if n.opType == "MaxPool", n.int("storage_order", 0) != 0 { throw ModelError.unsupported("\(n.label): storage_order 1") }
            if n.opType == "MaxPool", n.outputs.count > 1, !n.outputs[1].isEmpty { throw ModelError.unsupported("\(n.label): MaxPool indices output") }
        case "Resize":
            let mode = n.string("mode", "nearest")
            guard ["nearest", "linear"].contains(mode) else { throw ModelError.unsupported("\(n.label): Resize mode \(mode)") }
            let ct = n.string("coordinate_transformation_mode", "half_pixel")
            guard ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"].contains(ct) else {
                throw ModelError.unsupported("\(n.label): coordinate_transformation_mode \(ct)")
            }
            if n.int("antialias", 0) != 0 { throw ModelError.unsupported("\(n.label): antialias") }
        case "Pad":
            let mode = n.string("mode", "constant")
            guard ["constant", "reflect", "edge"].contains(mode) else { throw ModelError.unsupported("\(n.label): Pad mode \(mode)") }
        default: break
        }
    }

    /// Folds `BatchNormalization(Conv(x))` into the convolution's weights and bias when the
    /// convolution's output feeds nothing else.
    static func foldBatchNorm(_ nodes: inout [Node], _ constants: inout [String: Tensor]) {
        var consumers: [String: Int] = [:]
        for n in nodes { for i in n.inputs { consumers[i, default: 0] += 1 } }
        var remove = Set<Int>()
        for (bi, bn) in nodes.enumerated() where bn.opType == "BatchNormalization" && bn.outputs.count == 1 {
            guard let ci = nodes.firstIndex(where: { $0.opType == "Conv" && $0.outputs.first == bn.inputs[0] }),
                  consumers[bn.inputs[0]] == 1,
                  let scale = constants[bn.inputs[1]]?.floats, let shift = constants[bn.inputs[2]]?.floats,
                  let mean = constants[bn.inputs[3]]?.floats, let variance = constants[bn.inputs[4]]?.floats,
                  let w = constants[nodes[ci].inputs[1]] else { continue }
            let eps = bn.float("epsilon", 1e-5)
            let cout = w.shape[0], per = w.count / max(cout, 1)
            guard scale.count == cout else { continue }
            var wf = w.floats
            var bias = nodes[ci].inputs.count > 2 ? (constants[nodes[ci].inputs[2]]?.floats ?? [Float](repeating: 0, count: cout)) : [Float](repeating: 0, count: cout)
            for o in 0..<cout {
                let f = scale[o] / (variance[o] + eps).squareRoot()
                for k in 0..<per { wf[o * per + k] *= f }
                bias[o] = (bias[o] - mean[o]) * f + shift[o]
            }
            let wName = nodes[ci].outputs[0] + "::folded_weight", bName = nodes[ci].outputs[0] + "::folded_bias"
            constants[wName] = Tensor(shape: w.shape, floats: wf)
            constants[bName] = Tensor(shape: [cout], floats: bias)
            nodes[ci].inputs = [nodes[ci].inputs[0], wName, bName]
            nodes[ci].outputs = bn.outputs
            remove.insert(bi)
        }
        nodes = nodes.enumerated().filter { !remove.contains($0.offset) }.map(\.element)
        // Conv followed only by Relu: fuse
        consumers = [:]
        for n in nodes { for i in n.inputs { consumers[i, default: 0] += 1 } }
        remove = []
        for (ri, relu) in nodes.enumerated() where relu.opType == "Relu" {
            guard let ci = nodes.firstIndex(where: { $0.opType == "Conv" && $0.outputs.first == relu.inputs[0] }), consumers[relu.inputs[0]] == 1 else { continue }
            nodes[ci].outputs = relu.outputs
            nodes[ci].attributes["antema_fused_relu"] = .int(1)
            remove.insert(ri)
        }
        nodes = nodes.enumerated().filter { !remove.contains($0.offset) }.map(\.element)
    }

    /// The attribute of a Conv that took over a Concat: how many of its first inputs are the
    /// concatenation's parts.
    static let concatPartsAttribute = "antema_concat_parts"

    /// Attributes the engine sets on nodes begin with this.
    static let ownAttributePrefix = "antema_"

    /// The attribute of a Conv that Winograd's convolution takes: its weights transformed
    /// (U = G g G^T, 36 x Cin x Cout values, `Winograd.transformWeights`).
    static let winogradWeightsAttribute = "antema_winograd_weights"

    /// `ANTEMA_WINOGRAD_WEIGHTS=per-run` transforms them at every run instead, for comparisons.
    static let prepareWinograd = ProcessInfo.processInfo.environment["ANTEMA_WINOGRAD_WEIGHTS"] != "per-run"

    /// Transforms, once when the model loads, the constant weights of every convolution that
    /// Winograd's algorithm will compute, instead of at every run (for the instance U-Net that was
    /// 67 ms of a 0.8 s run at 1024 x 1024, 53 of them in its 128- and 256-channel layers). They
    /// take four times the weights' memory (28 MB for the bundled instance model).
    static func prepareWinogradWeights(_ nodes: inout [Node], _ constants: [String: Tensor]) {
        for i in nodes.indices where nodes[i].opType == "Conv" {
            let n = nodes[i], parts = n.int(concatPartsAttribute, 1)
            guard n.inputs.count > parts, let w = constants[n.inputs[parts]], !w.isInt, w.shape.count == 4, w.shape[2] == 3, w.shape[3] == 3,
                  n.string("auto_pad", "NOTSET") == "NOTSET",
                  let g = try? Operators.geometry(n, kernel: (3, 3), h: 3, w: 3),
                  PlanarKernel.choose(g, cin: w.shape[1], cout: w.shape[0]) == .winograd else { continue }
            let u = w.floats.withUnsafeBufferPointer { Winograd.transformWeights($0.baseAddress!, cout: w.shape[0], cin: w.shape[1]) }
            nodes[i].attributes[winogradWeightsAttribute] = .floats(u)
        }
    }

    /// `ANTEMA_CONCAT=copy` keeps every Concat (for comparisons).
    static let fuseConcat = ProcessInfo.processInfo.environment["ANTEMA_CONCAT"] != "copy"

    /// A Concat on the channel axis whose output feeds one Conv and nothing else (the U-Net's
    /// skip connections) is dropped; the Conv takes its parts as its first inputs and reads
    /// them where they lie (`Operators.convOfConcat`), so the concatenation is neither copied
    /// nor held in memory.
    static func fuseConcatIntoConv(_ nodes: inout [Node], outputs: Set<String>) {
        var consumers: [String: Int] = [:]
        for n in nodes { for i in n.inputs { consumers[i, default: 0] += 1 } }
        var remove = Set<Int>()
        for (ki, cat) in nodes.enumerated() where cat.opType == "Concat" && cat.int("axis", 1) == 1 && cat.outputs.count == 1 {
            let name = cat.outputs[0]
            guard consumers[name] == 1, !outputs.contains(name), cat.inputs.count >= 2, !cat.inputs.contains(where: \.isEmpty),
                  let ci = nodes.firstIndex(where: { $0.opType == "Conv" && $0.inputs.first == name && $0.int(concatPartsAttribute, 1) == 1 }) else { continue }
            nodes[ci].inputs = cat.inputs + nodes[ci].inputs.dropFirst()
            nodes[ci].attributes[concatPartsAttribute] = .int(Int64(cat.inputs.count))
            remove.insert(ki)
        }
        nodes = nodes.enumerated().filter { !remove.contains($0.offset) }.map(\.element)
    }

    /// Every tensor's dimensions, zeros aside, multiply to at most 2^28: so no later product of
    /// dimensions can overflow, even for an empty tensor with absurd other dimensions.
    static func checkShape(_ shape: [Int], _ what: String) throws {
        var n = 1
        for d in shape where d != 0 {
            guard d > 0 else { throw ModelError.invalid("\(what): negative dimension in \(shape)") }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            guard !o, p <= Operators.maximumOutputElements else { throw ModelError.invalid("\(what): shape \(shape) is too large") }
            n = p
        }
    }

    /// Runs the model on named inputs; returns every graph output.
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        var values = constants
        for declared in model.inputs where constants[declared.name] == nil {
            guard let t = inputs[declared.name] else { throw ModelError.invalid("missing input '\(declared.name)'") }
            guard t.shape.count == declared.shape.count else {
                throw ModelError.invalid("input '\(declared.name)' has rank \(t.shape.count), the model expects \(declared.shape.count)")
            }
            for (d, e) in zip(t.shape, declared.shape) where e != nil && e! > 0 && e! != d {
                throw ModelError.invalid("input '\(declared.name)' has shape \(t.shape), the model expects \(declared.shape.map { $0.map(String.init) ?? "?" })")
            }
            try Engine.checkShape(t.shape, "input '\(declared.name)'")
            values[declared.name] = t
        }
        let profile = ProcessInfo.processInfo.environment["ANTEMA_PROFILE"] != nil
        var timing: [String: Double] = [:]
        defer {
            if profile {
                for (op, t) in timing.sorted(by: { $0.value > $1.value }) { FileHandle.standardError.write(Data(String(format: "%-20@ %8.1f ms\n", op, t * 1e3).utf8)) }
            }
        }
        for (i, node) in order.enumerated() {
            let t0 = profile ? DispatchTime.now().uptimeNanoseconds : 0
            let args: [Tensor?] = node.inputs.map { $0.isEmpty ? nil : values[$0] }
            defer {
                if profile {
                    let key = node.opType + " " + (args.first??.shape.map(String.init).joined(separator: "x") ?? "") + (node.opType == "Conv" ? Engine.profileSuffix(node, args) : "")
                    timing[key, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                }
            }
            for (k, name) in node.inputs.enumerated() where !name.isEmpty && args[k] == nil {
                throw ModelError.invalid("\(node.label): input '\(name)' has no value")
            }
            let results = try Operators.run(node, args, opset: model.opset)
            for (name, t) in zip(node.outputs, results) where !name.isEmpty {
                try Engine.checkShape(t.shape, "\(node.label) output '\(name)'")
                values[name] = t
            }
            for name in node.inputs where lastUse[name] == i && constants[name] == nil { values[name] = nil }
        }
        var out: [String: Tensor] = [:]
        for o in model.outputs {
            guard let t = values[o.name] else { throw ModelError.invalid("output '\(o.name)' was not computed") }
            out[o.name] = t
        }
        return out
    }
}
