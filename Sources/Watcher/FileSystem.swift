#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// File-system facts the watcher needs.
public enum FileSystem {
    /// `stat` of a regular file, or `nil` when it is not one (gone, a folder, unreadable).
    public static func observe(_ path: String) -> FileObservation? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return FileObservation(sizeBytes: Int64(st.st_size), modifiedAt: mtime)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Network and FUSE file systems on which inotify does not see other machines' changes
    /// (by mount type, from /proc/self/mountinfo).
    /// Whether `path` lies on a network (or FUSE) file system.
    public static func isNetworkFileSystem(_ path: String) -> Bool {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return false }
        // statvfs has no file-system type; read it from /proc/self/mountinfo instead
        return networkMountTypes.contains(mountType(of: path) ?? "")
    }

    static let networkMountTypes: Set<String> = ["nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "fuse.rclone", "ceph", "lustre", "gpfs", "afs", "9p", "fuse.gvfsd-fuse", "davfs"]

    /// The type of the mount holding `path` (the longest mount point that prefixes it).
    static func mountType(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        var best: (Int, String)? = nil
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count > 6, let dash = parts.firstIndex(of: "-"), dash + 1 < parts.count else { continue }
            let mountPoint = String(parts[4]).replacingOccurrences(of: "\\040", with: " ")
            let type = String(parts[dash + 1])
            let prefix = mountPoint == "/" ? "/" : mountPoint + "/"
            if resolved == mountPoint || resolved.hasPrefix(prefix) {
                if best == nil || mountPoint.count > best!.0 { best = (mountPoint.count, type) }
            }
        }
        return best?.1
    }

    /// Whether a file name matches one of the glob patterns, ignoring case (`*.dm3` matches `A.DM3`).
    public static func matches(_ name: String, patterns: [String]) -> Bool {
        let FNM_CASEFOLD: Int32 = 1 << 4
        return patterns.contains { fnmatch($0, name, FNM_CASEFOLD) == 0 }
    }

    /// Every regular file below `root` (recursively, not following links into loops) whose name
    /// matches the patterns, and every folder.
    public static func scan(_ root: String, patterns: [String]) -> (files: [String], folders: [String]) {
        var files: [String] = [], folders: [String] = [root]
        var stack = [root]
        var seen = Set<UInt64>()
        while let dir = stack.popLast() {
            var st = stat()
            guard stat(dir, &st) == 0 else { continue }
            guard seen.insert(UInt64(st.st_ino)).inserted else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names.sorted() {
                let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                if isDirectory(path) {
                    folders.append(path)
                    stack.append(path)
                } else if matches(name, patterns: patterns) {
                    files.append(path)
                }
            }
        }
        return (files, folders)
    }
}
