// Decoding a 2048 x 2048 float32 DM3 (written by antema's own writer) against reading the same
// file's bytes. Prints both medians and their ratio. Run: swift run -c release DMBench [size] [repeats]
import Foundation
import GatanDM

let size = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2048 : 2048
let repeats = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 15 : 15

var pixels = [Float](repeating: 0, count: size * size)
for i in pixels.indices { pixels[i] = Float((i &* 2654435761) % 65536) / 65536 }
let url = FileManager.default.temporaryDirectory.appendingPathComponent("antema-dmbench-\(getpid()).dm3")
let bytes = try DMWriter.write([.float32(title: "bench", width: size, height: size, pixelSizeNm: 0.05, pixels: pixels)])
try Data(bytes).write(to: url)
defer { try? FileManager.default.removeItem(at: url) }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}
func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }

var checksum: Float = 0
var raw: [Double] = [], mapped: [Double] = [], decode: [Double] = []
for _ in 0..<repeats {
    raw.append(try seconds {
        let a = [UInt8](try Data(contentsOf: url))
        checksum += Float(a[a.count / 2])
    })
    mapped.append(try seconds {
        let a = [UInt8](try Data(contentsOf: url, options: .alwaysMapped))
        checksum += Float(a[a.count / 2])
    })
    decode.append(try seconds {
        let file = try DMReader.read(contentsOf: url)
        let image = try file.images()[0]
        let f = try image.floatPixels()
        checksum += f[f.count / 2]
    })
}
let mb = Double(bytes.count) / 1e6
print("DM3 \(size) x \(size) float32, \(String(format: "%.1f", mb)) MB, median of \(repeats) runs (checksum \(checksum))")
print(String(format: "raw read of the file's bytes (read):  %7.2f ms  (%6.0f MB/s)", median(raw) * 1e3, mb / median(raw)))
print(String(format: "raw read of the file's bytes (mmap):  %7.2f ms  (%6.0f MB/s)", median(mapped) * 1e3, mb / median(mapped)))
print(String(format: "decode (parse + tags + Float32 image): %7.2f ms  (%6.0f MB/s)", median(decode) * 1e3, mb / median(decode)))
let fastestRaw = min(median(raw), median(mapped))
print(String(format: "ratio decode / fastest raw read: %.2f (target <= 2)", median(decode) / fastestRaw))
