#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Journal
import SafeFiles

/// File-system facts the watcher needs.
public enum FileSystem {
    /// `lstat` of a regular file or of a symbolic link (the link itself, never its target: a
    /// link is handed on so that it is recorded as not followed), or `nil` (gone, a folder).
    public static func observe(_ path: String) -> FileObservation? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFLNK else { return nil }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        return FileObservation(sizeBytes: Int64(st.st_size), modifiedAt: mtime)
    }

    /// Whether `path` is a folder (a watch root may be a link to one: roots are configured).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` itself is a folder, not a link to one (what is entered below a root).
    public static func isRealDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` itself is a symbolic link.
    public static func isSymbolicLink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
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

    /// Every regular file below `root` (recursively) whose name matches the patterns, and every
    /// folder. Links below the root are never followed: a link whose name matches is listed in
    /// `files` (so that ingestion records it as not followed), a link to a folder in `linkedFolders`.
    /// Folders are told apart by device and inode (inode numbers repeat across mounts).
    /// `unnamable`: entries whose names are not valid UTF-8 (they cannot be opened by name from
    /// Swift; shown with U+FFFD where bytes were bad). `unreadable`: folders that could not be
    /// listed, with the reason (permission denied).
    public static func scan(_ root: String, patterns: [String])
        -> (files: [String], folders: [String], unnamable: [String], unreadable: [(path: String, reason: String)], linkedFolders: [String]) {
        var files: [String] = [], folders: [String] = [root], unnamable: [String] = [], linkedFolders: [String] = []
        var unreadable: [(path: String, reason: String)] = []
        var stack = [root]
        var seen = Set<SafeFiles.FileID>()
        while let dir = stack.popLast() {
            var st = stat()
            guard stat(dir, &st) == 0 else { continue }
            guard seen.insert(SafeFiles.FileID(st)).inserted else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                // the reason, from the system call itself (Foundation's error text is long)
                if let d = opendir(dir) { closedir(d) } else { unreadable.append((dir, String(cString: strerror(errno)))) }
                continue
            }
            for name in names.sorted() {
                let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                if name.contains("\u{FFFD}") && !FileManager.default.fileExists(atPath: path) {
                    unnamable.append(path)
                    continue
                }
                if isRealDirectory(path) {
                    folders.append(path)
                    stack.append(path)
                } else if isSymbolicLink(path) && isDirectory(path) {
                    linkedFolders.append(path)
                } else if matches(name, patterns: patterns) {
                    files.append(path)
                }
            }
        }
        return (files, folders, unnamable, unreadable, linkedFolders)
    }

    /// What is logged (and recorded) for a link to a folder below a root.
    public static func linkedFolderWarning(path: String) -> String {
        "\(LogText.printable(path)): a symbolic link to a folder; links are not followed out of the watched folders, so nothing in it is analysed"
    }

    /// What is logged (and recorded) for a folder that cannot be listed.
    public static func unreadableWarning(path: String, reason: String) -> String {
        "\(LogText.printable(path)): cannot read the folder (\(reason)); its micrographs are not analysed until it can be read"
    }

    /// What is logged (and recorded) for a name that is not valid UTF-8.
    public static func unnamableWarning(dir: String, name: String) -> String {
        "\(LogText.printable(dir))/\(name): the name is not valid UTF-8, so the file cannot be opened by name and is not analysed; rename it"
    }
}
