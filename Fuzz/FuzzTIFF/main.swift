// libFuzzer target for TIFF input (libtiff through ImageFiles): read pixels and ImageJ calibration.
// The reader takes a path, so each input goes through a file in /dev/shm.
// Build and run: scripts/fuzz.sh tiff SECONDS
import Foundation
import ImageFiles

let path = "/dev/shm/antema-fuzz-tiff-\(getpid()).tif"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data, count: size)) else { return 0 }
    _ = try? TIFFFile.read(path: path, maxPixels: 1 << 22)
    return 0
}
