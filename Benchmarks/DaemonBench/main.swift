// Latency from a micrograph being complete (renamed into a watched folder) to its particles
// being queryable, against the analysis time alone; and the daemon's idle CPU use.
//   swift build -c release --product antemad && swift build -c release --product DaemonBench && .build/release/DaemonBench [images]
import Foundation
import GatanDM
import GRDB
import Pipeline
#if canImport(Glibc)
import Glibc
#endif

// DaemonBench [images=10] [instance|model|classical]   (instance: the default segmenter)
let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 10 : 10
let segmenter = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : "instance"
guard ["instance", "model", "classical"].contains(segmenter) else { print("usage: DaemonBench [images] [instance|model|classical]"); exit(2) }
let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("antema-daemonbench-\(getpid())")
let root = dir.appendingPathComponent("export"), sample = root.appendingPathComponent("bench")
try FileManager.default.createDirectory(at: sample, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: dir) }
let database = dir.appendingPathComponent("antema.sqlite").path
let config = dir.appendingPathComponent("config.toml")
try """
    [watch]
    roots = ["\(root.path)"]
    [store]
    database = "\(database)"
    [analysis]
    segmenter = "\(segmenter)"
    """.write(to: config, atomically: true, encoding: .utf8)

let daemon = Process()
daemon.executableURL = bin.appendingPathComponent("antemad")
daemon.arguments = ["--config", config.path]
daemon.standardError = FileHandle.nullDevice
try daemon.run()
defer { kill(daemon.processIdentifier, SIGTERM); daemon.waitUntilExit() }
Thread.sleep(forTimeInterval: 1)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
var readConfig = Configuration()
readConfig.readonly = true
let db = try DatabaseQueue(path: database, configuration: readConfig)
var latencies: [Double] = [], analyses: [Double] = [], pictures: [Double] = [], faults: [Double] = []
/// The fields of /proc/PID/stat after the command name (the state is field 0 here, 3 in proc(5)).
func statFields(_ pid: Int32) -> [Substring] {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return [] }
    return stat[stat.index(after: close)...].split(separator: " ")
}
/// The daemon's minor page faults so far (proc(5) field 10): pages it touched for the first
/// time, or again after giving them back to the system.
func minorFaults(_ pid: Int32) -> Double {
    let fields = statFields(pid)
    return fields.count > 7 ? Double(fields[7]) ?? 0 : 0
}
for k in 0..<count {
    let synth = SyntheticMicrograph(width: 1024, height: 1024, pixelSizeNm: 0.1, count: 80, seed: UInt64(k + 1))
    let staging = dir.appendingPathComponent("m\(k).dm3")
    try Data(DMWriter.write([.float32(title: "m\(k)", width: 1024, height: 1024, pixelSizeNm: 0.1, pixels: synth.pixels)])).write(to: staging)
    let t0 = now(), f0 = minorFaults(daemon.processIdentifier)
    try FileManager.default.moveItem(at: staging, to: sample.appendingPathComponent("m\(k).dm3"))
    var seconds: Double? = nil
    while seconds == nil {
        seconds = try db.read { db in
            try Double.fetchOne(db, sql: "SELECT a.total_seconds FROM analysis a JOIN image i ON i.id = a.image_id WHERE i.path LIKE ?", arguments: ["%/m\(k).dm3"])
        }
        if seconds == nil { Thread.sleep(forTimeInterval: 0.01) }
        if now() - t0 > 120 { print("timed out"); exit(1) }
    }
    latencies.append(now() - t0)
    analyses.append(seconds!)
    // the image's pictures are written after its particles are stored; the next file is
    // dropped once they exist, so each latency is measured on an idle daemon
    let picture = sample.appendingPathComponent("antema-report/images/m\(k)_particles.png").path
    while !FileManager.default.fileExists(atPath: picture) {
        Thread.sleep(forTimeInterval: 0.01)
        if now() - t0 > 120 { print("timed out waiting for the pictures"); exit(1) }
    }
    pictures.append(now() - t0)
    faults.append(minorFaults(daemon.processIdentifier) - f0)
}
func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
let overheads = zip(latencies, analyses).map { $0 - $1 }
print("\(count) micrographs 1024 x 1024 renamed into a watched folder one at a time (\(segmenter) segmenter):")
print(String(format: "  file complete -> particles queryable: median %.2f s (max %.2f s)", median(latencies), latencies.max()!))
print(String(format: "  of which analysis (read, segment, measure, store): median %.2f s", median(analyses)))
print(String(format: "  overhead (stability wait, hashing, queue, commit): median %.2f s, max %.2f s (goal at most 2 s)", median(overheads), overheads.max()!))
print(String(format: "  file complete -> the image's three pictures written: median %.2f s", median(pictures)))
print(String(format: "  minor page faults per image (analysis and pictures): median %.0f (first image %.0f)", median(faults), faults.first ?? 0))
Thread.sleep(forTimeInterval: 1)

func cpuSeconds(_ pid: Int32) -> Double {
    let fields = statFields(pid)
    guard fields.count > 12 else { return 0 }
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    return (Double(fields[11]) ?? 0) / ticks + (Double(fields[12]) ?? 0) / ticks
}
let c0 = cpuSeconds(daemon.processIdentifier), w0 = now()
Thread.sleep(forTimeInterval: 10)
let idle = (cpuSeconds(daemon.processIdentifier) - c0) / (now() - w0)
print(String(format: "  idle CPU over 10 s: %.2f%% of one core", idle * 100))
