// libFuzzer target for PNG input (libpng through ImageFiles): decode to a grey raster.
// Build and run: scripts/fuzz.sh png SECONDS
import ImageFiles

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = try? PNGFile.decode(Array(UnsafeBufferPointer(start: data, count: size)), maxPixels: 1 << 22)
    return 0
}
