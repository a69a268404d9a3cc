import Foundation
import Testing
@testable import Inference

/// Hand-written protobuf for bad models.
struct ProtoWriter {
    var bytes: [UInt8] = []
    mutating func varint(_ v: UInt64) { var v = v; repeat { var b = UInt8(v & 0x7F); v >>= 7; if v != 0 { b |= 0x80 }; bytes.append(b) } while v != 0 }
    mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
    mutating func int(_ field: Int, _ v: Int64) { tag(field, 0); varint(UInt64(bitPattern: v)) }
    mutating func bytes(_ field: Int, _ b: [UInt8]) { tag(field, 2); varint(UInt64(b.count)); bytes += b }
    mutating func string(_ field: Int, _ s: String) { bytes(field, Array(s.utf8)) }
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) { var w = ProtoWriter(); build(&w); bytes(field, w.bytes) }
}

enum Bad {
    static func node(_ w: inout ProtoWriter, op: String, inputs: [String], outputs: [String]) {
        w.message(1) { n in
            for i in inputs { n.string(1, i) }
            for o in outputs { n.string(2, o) }
            n.string(4, op)
        }
    }
    static func valueInfo(_ w: inout ProtoWriter, field: Int, name: String, dims: [Int64]) {
        w.message(field) { v in
            v.string(1, name)
            v.message(2) { t in t.message(1) { tt in tt.int(1, 1); tt.message(2) { s in for d in dims { s.message(1) { dim in dim.int(1, d) } } } } }
        }
    }
    static func model(opset: Int64 = 13, _ graph: (inout ProtoWriter) -> Void) -> [UInt8] {
        var m = ProtoWriter()
        m.int(1, 8)
        m.message(8) { o in o.int(2, opset) }
        m.message(7, graph)
        return m.bytes
    }
    static let relu = model { g in
        node(&g, op: "Relu", inputs: ["x"], outputs: ["y"])
        valueInfo(&g, field: 11, name: "x", dims: [1, 1, 4, 4])
        valueInfo(&g, field: 12, name: "y", dims: [1, 1, 4, 4])
    }
}

@Suite struct BadModelsAreRefusedClearly {
    @Test("a hand-written valid model runs")
    func handWritten() throws {
        let engine = try Engine(model: ONNXModel.parse(Bad.relu))
        let out = try engine.run(["x": Tensor(shape: [1, 1, 4, 4], floats: (0..<16).map { Float($0) - 8 })])
        #expect(out["y"]?.floats == (0..<16).map { max(0, Float($0) - 8) })
    }

    @Test("a model cut at every byte is refused with an error, never a crash")
    func truncated() {
        let unet = (try? Data(contentsOf: Fixtures.folder.appendingPathComponent("conv_basic.onnx"))).map { [UInt8]($0) } ?? Bad.relu
        for length in 0..<unet.count {
            do { _ = try Engine(model: ONNXModel.parse(Array(unet.prefix(length)))) } catch is ModelError { continue } catch { Issue.record("\(error)") }
        }
    }

    @Test("an unsupported operator is refused at load time, naming it and the node")
    func unsupportedOperator() {
        let bytes = Bad.model { g in
            Bad.node(&g, op: "NonMaxSuppression", inputs: ["x"], outputs: ["y"])
            Bad.valueInfo(&g, field: 11, name: "x", dims: [1])
            Bad.valueInfo(&g, field: 12, name: "y", dims: [1])
        }
        let e = #expect(throws: ModelError.self) { try Engine(model: ONNXModel.parse(bytes)) }
        #expect(e?.description.contains("NonMaxSuppression") == true)
    }

    @Test("a cyclic graph, a missing input and an unknown opset are refused")
    func structure() {
        let cyclic = Bad.model { g in
            Bad.node(&g, op: "Relu", inputs: ["b"], outputs: ["a"])
            Bad.node(&g, op: "Relu", inputs: ["a"], outputs: ["b"])
            Bad.valueInfo(&g, field: 12, name: "b", dims: [1])
        }
        let e = #expect(throws: ModelError.self) { try Engine(model: ONNXModel.parse(cyclic)) }
        #expect(e?.description.contains("cycle") == true)
        let dangling = Bad.model { g in
            Bad.node(&g, op: "Relu", inputs: ["nowhere"], outputs: ["y"])
            Bad.valueInfo(&g, field: 12, name: "y", dims: [1])
        }
        #expect(throws: ModelError.self) { try Engine(model: ONNXModel.parse(dangling)) }
        #expect(throws: ModelError.self) { try ONNXModel.parse(Bad.model(opset: 99) { _ in }) }
    }

    @Test("huge declared sizes and external data are refused before allocation")
    func hugeSizes() {
        let huge = Bad.model { g in
            g.message(5) { t in t.int(1, 1 << 20); t.int(1, 1 << 20); t.int(1, 1 << 10); t.int(2, 1); t.string(8, "w"); t.bytes(9, [0, 0, 0, 0]) }
        }
        let e = #expect(throws: ModelError.self) { try ONNXModel.parse(huge) }
        #expect(e?.description.contains("too large") == true)
        let mismatch = Bad.model { g in g.message(5) { t in t.int(1, 3); t.int(2, 1); t.string(8, "w"); t.bytes(9, [0, 0, 0, 0]) } }
        #expect(throws: ModelError.self) { try ONNXModel.parse(mismatch) }
        let external = Bad.model { g in g.message(5) { t in t.int(1, 1); t.int(2, 1); t.string(8, "w"); t.int(14, 1) } }
        let ee = #expect(throws: ModelError.self) { try ONNXModel.parse(external) }
        #expect(ee?.description.contains("external") == true)
        var lying = ProtoWriter()
        lying.tag(7, 2); lying.varint(1 << 40)
        #expect(throws: ModelError.self) { try ONNXModel.parse(lying.bytes) }
    }

    @Test("inputs of the wrong shape, and shapes that do not fit the weights, get clear errors")
    func wrongShapes() throws {
        let engine = try Engine(model: ONNXModel.parse(Bad.relu))
        #expect(throws: ModelError.self) { try engine.run(["x": Tensor(shape: [1, 1, 4], floats: [Float](repeating: 0, count: 4))]) }
        #expect(throws: ModelError.self) { try engine.run(["x": Tensor(shape: [1, 2, 4, 4], floats: [Float](repeating: 0, count: 32))]) }
        #expect(throws: ModelError.self) { try engine.run([:]) }
        let conv = try Engine(path: Fixtures.folder.appendingPathComponent("conv_basic.onnx").path)
        #expect(throws: ModelError.self) { try conv.run(["x": Tensor(shape: [1, 2, 9, 11], floats: [Float](repeating: 0, count: 198))]) }
    }

    @Test("random corruption of a real model never crashes")
    func mutations() throws {
        let base = [UInt8](try Data(contentsOf: Fixtures.folder.appendingPathComponent("conv_bn_relu_fused.onnx")))
        var state: UInt64 = 99
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 11 }
        for _ in 0..<400 {
            var b = base
            for _ in 0..<(1 + Int(next() % 3)) { b[Int(next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: next()) }
            guard let engine = try? Engine(model: ONNXModel.parse(b)) else { continue }
            _ = try? engine.run(["x": Tensor(shape: [1, 3, 9, 11], floats: [Float](repeating: 0.1, count: 297))])
        }
    }
}
