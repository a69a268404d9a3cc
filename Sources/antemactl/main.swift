import Foundation
import GatanDM
let f = try DMReader.read(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]))
for (p, v) in f.root.flattened() { print(p, "=", v.summary()) }
