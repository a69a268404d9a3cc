import CConv
import Dispatch
import Foundation

/// The direct 3 x 3 convolution of `CConv` (AVX2 and FMA, chosen at run time): for layers with
/// few input channels, where Winograd's transforms and sgemm's small products cost more than
/// the multiplications themselves (a U-Net's full-resolution 16- and 32-channel layers).
/// Measured per layer on an AVX2-only CPU: docs/inference.md, "A direct kernel for few channels".
enum Direct3x3 {
    /// `ANTEMA_CONV=winograd` (or `im2col`) turns it off, for comparisons; a CPU without AVX2
    /// and FMA never uses it.
    static let available: Bool = {
        let mode = ProcessInfo.processInfo.environment["ANTEMA_CONV"]
        return mode != "winograd" && mode != "im2col" && cpuHasAVX2FMA
    }()
    /// Most input channels it is used for.
    static let maximumInputChannels = Int(ProcessInfo.processInfo.environment["ANTEMA_DIRECT_MAX_CIN"] ?? "") ?? 16

    static func applies(_ g: ConvGeometry, cin: Int, cout: Int) -> Bool {
        available && g.kh == 3 && g.kw == 3 && g.strideH == 1 && g.strideW == 1 && g.dilH == 1 && g.dilW == 1 && g.groups == 1
            && g.padTop == 1 && g.padLeft == 1 && g.padBottom == 1 && g.padRight == 1
            && cin >= 1 && cin <= maximumInputChannels && cout > 0 && cout % 4 == 0
    }

    /// `planes`: where each input channel's h x w plane starts (they need not be adjacent);
    /// `out`: cout planes of h x w. Rows are split over the cores.
    static func forward(planes: [UnsafePointer<Float>], weights: UnsafePointer<Float>, bias: [Float]?, out: UnsafeMutablePointer<Float>,
                        cout: Int, h: Int, w: Int, relu: Bool) {
        let c = planes.count
        let ws = Shared(weights), os = Shared(out)
        let workers = min(h, Convolution.threads)
        planes.withUnsafeBufferPointer { pp in
            bias.withOptionalPointer { bp in
                let ts = Shared(cPlaneTable(pp.baseAddress!)), bs = Shared(bp)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: antema_conv3x3_scratch(Int32(c), Int32(w)))
                    defer { scratch.deallocate() }
                    let y0 = h * worker / workers, y1 = h * (worker + 1) / workers
                    antema_conv3x3_rows(ts.value, ws.value, bs.value, os.value, Int32(c), Int32(cout), Int32(h), Int32(w), Int32(y0), Int32(y1), relu ? 1 : 0, scratch)
                }
            }
        }
    }
}
