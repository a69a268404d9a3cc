// libFuzzer target for antemad's configuration (TOML through TOMLKit): parse and validate.
// Build and run: scripts/fuzz.sh config SECONDS
import AntemaService

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? Configuration.parse(text, file: "fuzz.toml")
    return 0
}
