import Foundation

/// Where the bundled segmentation model (`antema-unet.onnx` and its `antema-unet.json`) is.
///
/// SwiftPM copies it into `antema_DefaultModel.resources/` beside the built executables;
/// `make install` puts it in `<prefix>/share/antema/models/`. `ANTEMA_MODEL_DIR` overrides both.
/// (SwiftPM's generated `Bundle.module` is not used: it stops the process when the bundle is
/// missing, and a missing model must be an error the user can read.)
public enum DefaultModel {
    public static let fileName = "antema-unet.onnx"
    /// The instance-aware model (particle probability and distance to the edge), trained on real
    /// SEM/TEM micrographs (EMPS) and simulated ones: `--segmenter instance`.
    public static let instanceFileName = "antema-unet-instance.onnx"

    /// The folders searched, in order.
    public static var searchDirectories: [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["ANTEMA_MODEL_DIR"], !env.isEmpty { dirs.append(env) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
        let exeDir = (exe as NSString).deletingLastPathComponent
        if !exeDir.isEmpty {
            dirs.append((exeDir as NSString).appendingPathComponent("antema_DefaultModel.resources"))
            dirs.append(((exeDir as NSString).deletingLastPathComponent as NSString).appendingPathComponent("share/antema/models"))
        }
        dirs.append("/usr/local/share/antema/models")
        dirs.append("/usr/share/antema/models")
        return dirs
    }

    /// The bundled model's path (`fileName`, or another bundled one), or an error naming every place looked in.
    public static func path(fileName name: String = fileName) throws -> String {
        for dir in searchDirectories {
            let p = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isReadableFile(atPath: p) { return p }
        }
        throw DefaultModelMissing(fileName: name, searched: searchDirectories)
    }
}

public struct DefaultModelMissing: Error, CustomStringConvertible {
    public var fileName: String = DefaultModel.fileName
    public let searched: [String]
    public var description: String {
        "the bundled segmentation model \(fileName) is not installed (looked in \(searched.joined(separator: ", "))); "
            + "reinstall antema, set ANTEMA_MODEL_DIR, or use the classical segmenter"
    }
}
