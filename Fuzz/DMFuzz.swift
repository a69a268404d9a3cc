// libFuzzer target for the DM3/DM4 reader: parse, list images, decode every image's pixels.
// Build and run: scripts/fuzz.sh dm SECONDS
import GatanDMFuzzed

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? DMReader.parse(bytes), let images = try? file.allImages() else { return 0 }
    for image in images where image.pixelCount <= 1 << 22 {
        _ = try? image.validateAsMicrograph()
        _ = try? image.floatPixels()
    }
    return 0
}
