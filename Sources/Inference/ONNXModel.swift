import Foundation

/// An n-dimensional tensor: float32 (the network's values) or int64 (shapes and indices).
/// Row-major, NCHW for images.
public struct Tensor: Sendable {
    public enum Storage: Sendable { case float([Float]), int64([Int64]) }
    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
        self.shape = shape
        storage = .float(floats)
    }

    public init(shape: [Int], ints: [Int64]) {
        precondition(shape.reduce(1, *) == ints.count, "shape \(shape) does not match \(ints.count) values")
        self.shape = shape
        storage = .int64(ints)
    }

    public var count: Int { shape.reduce(1, *) }

    public var floats: [Float] {
        switch storage {
        case .float(let f): f
        case .int64(let i): i.map { Float($0) }
        }
    }

    public var ints: [Int64] {
        switch storage {
        case .int64(let i): i
        case .float(let f): f.map(Tensor.int64)
        }
    }

    /// Float to Int64 without trapping: NaN becomes 0, out-of-range values saturate.
    static func int64(_ f: Float) -> Int64 {
        if f.isNaN { return 0 }
        if f >= 9.2e18 { return .max }
        if f <= -9.2e18 { return .min }
        return Int64(f)
    }

    public var isInt: Bool { if case .int64 = storage { true } else { false } }
}

/// An attribute of a node.
public enum Attribute: Sendable {
    case float(Float), int(Int64), string(String), tensor(Tensor), floats([Float]), ints([Int64]), strings([String]), graph
}

public struct Node: Sendable {
    public var name: String
    public var opType: String
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]

    public func int(_ key: String, _ fallback: Int) -> Int { if case .int(let v)? = attributes[key] { Int(v) } else { fallback } }
    public func float(_ key: String, _ fallback: Float) -> Float { if case .float(let v)? = attributes[key] { v } else { fallback } }
    public func string(_ key: String, _ fallback: String) -> String { if case .string(let v)? = attributes[key] { v } else { fallback } }
    public func ints(_ key: String) -> [Int]? { if case .ints(let v)? = attributes[key] { v.map { Int($0) } } else { nil } }
    public func floats(_ key: String) -> [Float]? { if case .floats(let v)? = attributes[key] { v } else { nil } }
    var label: String { "node '\(name.isEmpty ? outputs.first ?? "?" : name)' (\(opType))" }
}

/// A graph input or output with its declared shape (`nil` entries are dynamic).
public struct ValueInfo: Sendable {
    public var name: String
    public var shape: [Int?]
}

/// A parsed ONNX model.
public struct ONNXModel: Sendable {
    public var irVersion: Int64 = 0
    public var opset: Int = 0
    public var producer: String = ""
    public var nodes: [Node] = []
    public var initializers: [String: Tensor] = [:]
    public var inputs: [ValueInfo] = []
    public var outputs: [ValueInfo] = []
    public var metadata: [String: String] = [:]

    public static let supportedOpsets = 7...18

    public static func load(path: String) throws -> ONNXModel {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelError.io("cannot read \(path): \(error.localizedDescription)")
        }
        return try parse([UInt8](data))
    }

    public static func parse(_ bytes: [UInt8]) throws -> ONNXModel {
        try bytes.withUnsafeBytes { raw in
            var r = ProtoReader(raw, context: "ModelProto")
            var m = ONNXModel()
            var graph: ProtoReader? = nil
            var opsets: [(String, Int)] = []
            while !r.atEnd {
                let (field, wire) = try r.tag()
                switch (field, wire) {
                case (1, 0): m.irVersion = Int64(bitPattern: try r.varint())
                case (2, 2): m.producer = try r.string()
                case (7, 2): graph = try r.message("GraphProto")
                case (8, 2):
                    var o = try r.message("OperatorSetIdProto")
                    var domain = "", version = 0
                    while !o.atEnd {
                        let (f, w) = try o.tag()
                        switch (f, w) {
                        case (1, 2): domain = try o.string()
                        case (2, 0): version = Int(truncatingIfNeeded: try o.varint())
                        default: try o.skip(wire: w)
                        }
                    }
                    opsets.append((domain, version))
                case (14, 2):
                    var e = try r.message("metadata_props")
                    var key = "", value = ""
                    while !e.atEnd {
                        let (f, w) = try e.tag()
                        switch (f, w) {
                        case (1, 2): key = try e.string()
                        case (2, 2): value = try e.string()
                        default: try e.skip(wire: w)
                        }
                    }
                    m.metadata[key] = value
                default: try r.skip(wire: wire)
                }
            }
            guard var g = graph else { throw ModelError.malformed("no graph in the model") }
            m.opset = opsets.first { $0.0 == "" || $0.0 == "ai.onnx" }?.1 ?? 0
            guard supportedOpsets.contains(m.opset) else {
                throw ModelError.unsupported("opset \(m.opset) (antema runs opsets \(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound); 11 to 18 are tested)")
            }
            try parseGraph(&g, into: &m)
            return m
        }
    }

    static func parseGraph(_ r: inout ProtoReader, into m: inout ONNXModel) throws {
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2):
                var n = try r.message("NodeProto")
                m.nodes.append(try parseNode(&n))
            case (5, 2):
                var t = try r.message("TensorProto (initializer)")
                let (name, tensor) = try parseTensor(&t)
                m.initializers[name] = tensor
            case (11, 2):
                var v = try r.message("ValueInfoProto (input)")
                m.inputs.append(try parseValueInfo(&v))
            case (12, 2):
                var v = try r.message("ValueInfoProto (output)")
                m.outputs.append(try parseValueInfo(&v))
            case (15, 2):
                throw ModelError.unsupported("sparse initializers")
            default: try r.skip(wire: wire)
            }
        }
    }

    static func parseNode(_ r: inout ProtoReader) throws -> Node {
        var n = Node(name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: [:])
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2): n.inputs.append(try r.string())
            case (2, 2): n.outputs.append(try r.string())
            case (3, 2): n.name = try r.string()
            case (4, 2): n.opType = try r.string()
            case (7, 2): n.domain = try r.string()
            case (5, 2):
                var a = try r.message("AttributeProto")
                let (name, value) = try parseAttribute(&a)
                n.attributes[name] = value
            default: try r.skip(wire: wire)
            }
        }
        return n
    }

    static func parseAttribute(_ r: inout ProtoReader) throws -> (String, Attribute) {
        var name = "", type = 0
        var f: Float = 0, i: Int64 = 0, s = "", t: Tensor? = nil
        var floats: [Float] = [], ints: [Int64] = [], strings: [String] = []
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2): name = try r.string()
            case (20, 0): type = Int(truncatingIfNeeded: try r.varint())
            case (2, 5): f = Float(bitPattern: try r.fixed32())
            case (3, 0): i = Int64(bitPattern: try r.varint())
            case (4, 2): s = try r.string()
            case (5, 2):
                var tr = try r.message("AttributeProto.t")
                t = try parseTensor(&tr).1
            case (7, _): try r.floats(wire: wire, into: &floats)
            case (8, _): try r.int64s(wire: wire, into: &ints)
            case (9, 2): strings.append(try r.string())
            default: try r.skip(wire: wire)
            }
        }
        switch type {
        case 1: return (name, .float(f))
        case 2: return (name, .int(i))
        case 3: return (name, .string(s))
        case 4:
            guard let t else { throw ModelError.malformed("tensor attribute '\(name)' without a tensor") }
            return (name, .tensor(t))
        case 5: return (name, .graph)
        case 6: return (name, .floats(floats))
        case 7: return (name, .ints(ints))
        case 8: return (name, .strings(strings))
        default: throw ModelError.unsupported("attribute '\(name)' of type \(type)")
        }
    }

    /// Largest tensor accepted (elements), so a corrupt dimension cannot ask for unbounded memory.
    public static let maximumElements = 1 << 31

    static func parseTensor(_ r: inout ProtoReader) throws -> (String, Tensor) {
        var dims: [Int64] = [], type = 0, name = ""
        var raw: Range<Int>? = nil
        var floats: [Float] = [], ints: [Int64] = [], int32s: [Int64] = []
        var doubles: [Double] = []
        var external = false
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, _): try r.int64s(wire: wire, into: &dims)
            case (2, 0): type = Int(truncatingIfNeeded: try r.varint())
            case (4, _): try r.floats(wire: wire, into: &floats)
            case (5, _): try r.int64s(wire: wire, into: &int32s)
            case (7, _): try r.int64s(wire: wire, into: &ints)
            case (8, 2): name = try r.string()
            case (9, 2): raw = try r.lengthDelimited()
            case (10, 1): doubles.append(Double(bitPattern: try r.fixed64()))
            case (10, 2):
                var sub = try r.message("double_data")
                while !sub.atEnd { doubles.append(Double(bitPattern: try sub.fixed64())) }
            case (13, 2): external = true; try r.skip(wire: wire)
            case (14, 0): if try r.varint() == 1 { external = true }
            default: try r.skip(wire: wire)
            }
        }
        if external { throw ModelError.unsupported("tensor '\(name)' stores its data in an external file; export the model with the weights inside") }
        guard dims.allSatisfy({ $0 >= 0 && $0 <= Int64(maximumElements) }) else { throw ModelError.malformed("tensor '\(name)' has dimensions \(dims)") }
        let shape = dims.map { Int($0) }
        var count = 1
        for d in shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p <= maximumElements else { throw ModelError.malformed("tensor '\(name)' with dimensions \(dims) is too large") }
            count = p
        }
        func check(_ n: Int) throws {
            guard n == count else { throw ModelError.malformed("tensor '\(name)' has \(n) values for dimensions \(dims)") }
        }
        switch type {
        case 1:  // FLOAT
            if let raw {
                try check(raw.count / 4)
                guard raw.count % 4 == 0 else { throw ModelError.malformed("tensor '\(name)' raw data of \(raw.count) bytes") }
                var out = [Float](repeating: 0, count: count)
                for k in 0..<count { out[k] = Float(bitPattern: r.bytes.loadUnaligned(fromByteOffset: raw.lowerBound + 4 * k, as: UInt32.self).littleEndian) }
                return (name, Tensor(shape: shape, floats: out))
            }
            try check(floats.count)
            return (name, Tensor(shape: shape, floats: floats))
        case 11:  // DOUBLE
            if let raw {
                try check(raw.count / 8)
                var out = [Float](repeating: 0, count: count)
                for k in 0..<count { out[k] = Float(Double(bitPattern: r.bytes.loadUnaligned(fromByteOffset: raw.lowerBound + 8 * k, as: UInt64.self).littleEndian)) }
                return (name, Tensor(shape: shape, floats: out))
            }
            try check(doubles.count)
            return (name, Tensor(shape: shape, floats: doubles.map { Float($0) }))
        case 7, 6, 9, 2, 3, 4, 5, 12, 13:  // INT64, INT32, BOOL, UINT8, INT8, UINT16, INT16, UINT32, UINT64
            let size: Int = [7: 8, 6: 4, 9: 1, 2: 1, 3: 1, 4: 2, 5: 2, 12: 4, 13: 8][type]!
            if let raw {
                try check(raw.count / size)
                var out = [Int64](repeating: 0, count: count)
                for k in 0..<count {
                    let o = raw.lowerBound + size * k
                    switch type {
                    case 7, 13: out[k] = Int64(bitPattern: r.bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian)
                    case 6: out[k] = Int64(Int32(bitPattern: r.bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian))
                    case 12: out[k] = Int64(r.bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
                    case 4: out[k] = Int64(r.bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
                    case 5: out[k] = Int64(Int16(bitPattern: r.bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian))
                    case 3: out[k] = Int64(Int8(bitPattern: r.bytes[o]))
                    default: out[k] = Int64(r.bytes[o])
                    }
                }
                return (name, Tensor(shape: shape, ints: out))
            }
            let values = type == 7 || type == 13 ? ints : int32s
            try check(values.count)
            return (name, Tensor(shape: shape, ints: values))
        default:
            throw ModelError.unsupported("tensor '\(name)' of data type \(type)")
        }
    }

    static func parseValueInfo(_ r: inout ProtoReader) throws -> ValueInfo {
        var v = ValueInfo(name: "", shape: [])
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2): v.name = try r.string()
            case (2, 2):
                var type = try r.message("TypeProto")
                while !type.atEnd {
                    let (f, w) = try type.tag()
                    guard f == 1, w == 2 else { try type.skip(wire: w); continue }
                    var tensor = try type.message("TypeProto.Tensor")
                    while !tensor.atEnd {
                        let (tf, tw) = try tensor.tag()
                        guard tf == 2, tw == 2 else { try tensor.skip(wire: tw); continue }
                        var shape = try tensor.message("TensorShapeProto")
                        while !shape.atEnd {
                            let (sf, sw) = try shape.tag()
                            guard sf == 1, sw == 2 else { try shape.skip(wire: sw); continue }
                            var dim = try shape.message("Dimension")
                            var value: Int? = nil
                            while !dim.atEnd {
                                let (df, dw) = try dim.tag()
                                if df == 1 && dw == 0 { value = Int(truncatingIfNeeded: try dim.varint()) } else { try dim.skip(wire: dw) }
                            }
                            v.shape.append(value)
                        }
                    }
                }
            default: try r.skip(wire: wire)
            }
        }
        return v
    }
}
