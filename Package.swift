// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "antema",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "GatanDM", targets: ["GatanDM"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .executable(name: "antemactl", targets: ["antemactl"]),
        .executable(name: "antemad", targets: ["Daemon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Physical units and conversions (the pixel size and what follows from it), in one place.
        .target(name: "Units"),
        // bytes -> tag tree -> images with calibration. No I/O beyond reading one file.
        .target(name: "GatanDM", dependencies: ["Units"]),
        // Image analysis on in-memory images: pure functions, values in, values out; the
        // measurement catalog every particle table is made from.
        .target(name: "Pipeline", dependencies: ["Units"]),
        // Raster files (PNG through libpng, TIFF through libtiff).
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .target(name: "CTIFFShim", linkerSettings: [.linkedLibrary("tiff")]),
        .target(name: "CPNGEncode", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "ImageFiles", dependencies: ["CPNG", "CPNGEncode", "CTIFFShim"]),
        // SQLite through GRDB: schema, migrations, intention-named transactions, aggregates.
        .target(name: "Store", dependencies: ["Pipeline", .product(name: "GRDB", package: "GRDB.swift")]),
        // A facility's PostgreSQL history: its schema, shipping the local SQLite results there
        // (in order, idempotently), read-only queries; through PostgresNIO.
        .target(name: "Facility", dependencies: [
            "Store", "Pipeline", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // File access beside folders many people write into: no link followed below a trusted
        // base, unpredictable temporary names created exclusively, bounded reads.
        .target(name: "SafeFiles"),
        // Logging: untrusted text made printable, the stderr handler and the journal's native protocol.
        .target(name: "Journal", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // Watching folders: inotify and polling sources, the pure stability tracker.
        .target(name: "Watcher", dependencies: ["SafeFiles", "Journal"]),
        // The service: configuration, ingest, processing, sessions, status (antemad's logic).
        .target(name: "AntemaService", dependencies: [
            "GatanDM", "Pipeline", "Store", "Watcher", "SafeFiles", "Analysis", "Reports", "CSHA256", "Journal", "Facility",
            .product(name: "TOMLKit", package: "TOMLKit"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .systemLibrary(name: "CSHA256", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .executableTarget(name: "Daemon", dependencies: [
            "AntemaService", "Store", "Journal", "Facility",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Reports: workbooks through libxlsxwriter, CSV, figures (PNG at 300 dpi, SVG, PDF) and
        // pictures drawn with cairo and pango (DejaVu Sans); statistics of size distributions.
        .systemLibrary(name: "CCairo", pkgConfig: "pangocairo", providers: [.apt(["libcairo2-dev", "libpango1.0-dev"])]),
        .systemLibrary(name: "CXLSXWriter", pkgConfig: "xlsxwriter", providers: [.apt(["libxlsxwriter-dev"])]),
        .target(name: "Reports", dependencies: ["Pipeline", "ImageFiles", "Analysis", "SafeFiles", "CCairo", "CXLSXWriter"]),
        // Neural-network inference: ONNX models on OpenBLAS.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // the direct 3 x 3 convolution for few-channel layers (AVX2 and FMA, chosen at run time)
        .target(name: "CConv"),
        .target(name: "Inference", dependencies: ["COpenBLAS", "CMalloc", "CConv"]),
        // The bundled segmentation model (ONNX + metadata), trained by training/train.py.
        .target(name: "DefaultModel", resources: [.copy("Resources/antema-unet.onnx"), .copy("Resources/antema-unet.json"),
                                                  .copy("Resources/antema-unet-instance.onnx"), .copy("Resources/antema-unet-instance.json")]),
        // Files in, tables out: loading inputs, segmenting (model or classical), running the pipeline per frame, CSV tables.
        .target(name: "Analysis", dependencies: ["GatanDM", "Pipeline", "ImageFiles", "Inference", "DefaultModel", "COpenBLAS"]),
        .executableTarget(
            name: "antemactl",
            dependencies: [
                "GatanDM", "Pipeline", "ImageFiles", "Analysis", "Store", "AntemaService", "Reports", "Inference", "Watcher", "SafeFiles", "Journal", "Facility",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        // Benchmarks: executables that print figures (never timed tests).
        .executableTarget(name: "DMBench", dependencies: ["GatanDM"], path: "Benchmarks/DMBench"),
        .executableTarget(name: "FacilityBench", dependencies: ["Facility", "Store", "Pipeline", .product(name: "Logging", package: "swift-log"), .product(name: "PostgresNIO", package: "postgres-nio")],
                          path: "Benchmarks/FacilityBench"),
        .executableTarget(name: "StoreBench", dependencies: ["Store", "Pipeline", .product(name: "GRDB", package: "GRDB.swift")], path: "Benchmarks/StoreBench"),
        .executableTarget(name: "DaemonBench", dependencies: ["GatanDM", "Pipeline", .product(name: "GRDB", package: "GRDB.swift")], path: "Benchmarks/DaemonBench"),
        .executableTarget(name: "ReportBench", dependencies: ["Reports", "Pipeline"], path: "Benchmarks/ReportBench"),
        .executableTarget(name: "InferenceBench", dependencies: ["Inference", "DefaultModel"], path: "Benchmarks/InferenceBench"),
        .executableTarget(name: "AnalysisBench", dependencies: ["GatanDM", "Pipeline", "ImageFiles"], path: "Benchmarks/AnalysisBench"),
        .testTarget(name: "GatanDMTests", dependencies: ["GatanDM"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "ImageFiles"]),
        .testTarget(name: "ImageFilesTests", dependencies: ["ImageFiles"]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Inference", "DefaultModel"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "WatcherTests", dependencies: ["Watcher", "Journal"]),
        .testTarget(name: "SafeFilesTests", dependencies: ["SafeFiles"]),
        .testTarget(name: "AntemaServiceTests", dependencies: ["AntemaService", "Journal", "Facility", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference"]),
        .testTarget(name: "antemactlTests", dependencies: ["antemactl", "Daemon", "Store", "Pipeline", "ImageFiles", "Facility"]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer harnesses for the inputs that go through SwiftPM-built libraries (PNG, TIFF, the
// configuration), only when ANTEMA_FUZZ=1: scripts/fuzz.sh builds them with
// `--sanitize fuzzer --sanitize address` in their own build folder.
if Context.environment["ANTEMA_FUZZ"] == "1" {
    for (name, dependency) in [("FuzzPNG", "ImageFiles"), ("FuzzTIFF", "ImageFiles"), ("FuzzConfig", "AntemaService")] {
        package.targets.append(.executableTarget(name: name, dependencies: [.target(name: dependency)], path: "Fuzz/\(name)",
                                                 swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
    }
}
