import Foundation

/// Where the bundled segmentation model (`antema-unet.onnx` and its `antema-unet.json`) is.
///
/// SwiftPM copies it into `antema_DefaultModel.resources/` beside the built executables;
/// `make install` puts it in `<prefix>/share/antema/models/`. `ANTEMA_MODEL_DIR` overrides both.
/// (SwiftPM's generated `Bundle.module` is not used: it stops the process when the bundle is
/// missing, and a missing model must be an error the user can read.)
public enum DefaultModel {
    public static let fileName = "antema-unet.onnx"

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

    /// The bundled model's path, or an error naming every place looked in.
    public static func path() throws -> String {
        for dir in searchDirectories {
            let p = (dir as NSString).appendingPathComponent(fileName)
            if FileManager.default.isReadableFile(atPath: p) { return p }
        }
        throw DefaultModelMissing(searched: searchDirectories)
    }
}

public struct DefaultModelMissing: Error, CustomStringConvertible {
    public let searched: [String]
    public var description: String {
        "the bundled segmentation model \(DefaultModel.fileName) is not installed (looked in \(searched.joined(separator: ", "))); "
            + "reinstall antema, set ANTEMA_MODEL_DIR, or use the classical segmenter"
    }
}
