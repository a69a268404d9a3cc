#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// File access for a process that works beside folders many people write into.
///
/// Three rules, each closing a way a user of a shared folder could make the daemon act on a file
/// elsewhere:
/// - below a trusted base folder (a watch root, or the part of a configured path before its
///   first placeholder), every folder is opened component by component with `O_NOFOLLOW`, so a
///   symbolic link anywhere below the base is refused rather than followed out of it;
/// - a file is written under a temporary name that nobody can predict (16 random bytes) and
///   created with `O_CREAT | O_EXCL | O_NOFOLLOW` in the verified folder, then renamed into
///   place with `renameat` (which replaces a link placed under the final name instead of writing
///   through it);
/// - a file is read through one descriptor opened with `O_NOFOLLOW`, checked with `fstat` to be
///   a regular file no larger than a limit before any byte is read.
public enum SafeFiles {
    public struct Failure: Error, CustomStringConvertible, Equatable, Sendable {
        public enum Kind: Sendable, Equatable {
            /// A symbolic link where a folder or file was expected below the trusted base.
            case symbolicLink
            /// Not a regular file (a folder, a device, a pipe).
            case notRegularFile
            /// Larger than the limit (size and limit in bytes).
            case tooLarge(sizeBytes: Int64, limitBytes: Int64)
            /// A path that is not below the base it was checked against.
            case outsideBase
            /// The system refused (errno).
            case system(Int32)
        }
        public let kind: Kind
        public let path: String
        public let operation: String

        public var description: String { "\(path): \(reason)" }

        /// What went wrong, without the path (for records that carry the path already).
        public var reason: String {
            switch kind {
            case .symbolicLink:
                return "is a symbolic link (or lies below one); links are not followed out of the watched folders"
            case .notRegularFile:
                return "not a regular file"
            case .tooLarge(let size, let limit):
                return "\(SafeFiles.megabytes(size)) MB, over the limit of \(SafeFiles.megabytes(limit)) MB (watch.max_file_mb); not read"
            case .outsideBase:
                return "not below \(operation)"
            case .system(let e):
                return "cannot \(operation): \(String(cString: strerror(e)))"
            }
        }
    }

    static func megabytes(_ bytes: Int64) -> String {
        let mb = Double(bytes) / 1_048_576
        return mb >= 10 ? String(Int(mb.rounded())) : String(format: "%.1f", mb)
    }

    /// The components of `path` below `base` ("" components and "." removed), or nil when
    /// `path` is not `base` or below it, or when a component is "..".
    public static func components(of path: String, below base: String) -> [String]? {
        let b = normalized(base), p = normalized(path)
        let prefix = b == "/" ? "/" : b + "/"
        guard p == b || p.hasPrefix(prefix) else { return nil }
        let rest = p == b ? [] : p.dropFirst(prefix.count).split(separator: "/").map(String.init)
        if rest.contains("..") { return nil }
        return rest
    }

    static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
    }

    /// An open folder: files are created in it and renamed inside it through its descriptor.
    /// Who may read what is written: files get `fileMode` exactly (not less the umask) and,
    /// with `group`, that group; folders created get the same read bits with search bits where
    /// reading is allowed, the group, and the set-group-ID bit (what others put there keeps
    /// the group). Used for report folders a lab's users read (`reports.group`, `reports.mode`).
    public struct Sharing: Sendable, Equatable {
        public var group: gid_t?
        public var fileMode: mode_t
        public init(group: gid_t?, fileMode: mode_t) { self.group = group; self.fileMode = fileMode }

        /// The folders' mode: the files' read and write bits, a search bit wherever there is a
        /// read bit, set-group-ID with a group.
        public var directoryMode: mode_t {
            var m = fileMode & 0o666
            if m & 0o400 != 0 { m |= 0o100 }
            if m & 0o040 != 0 { m |= 0o010 }
            if m & 0o004 != 0 { m |= 0o001 }
            return m | 0o700 | (group != nil ? S_ISGID : 0)
        }

        /// Applies the mode (`directory`: the folders' mode) and the group to an open file.
        func apply(_ fd: Int32, directory: Bool, path: String) throws {
            if let group, fchown(fd, uid_t.max, group) != 0 {
                throw Failure(kind: .system(errno), path: path, operation: "give the group \(group) (reports.group: is antemad's user a member?)")
            }
            if fchmod(fd, directory ? directoryMode : fileMode & 0o777) != 0 {
                throw Failure(kind: .system(errno), path: path, operation: "set the mode")
            }
        }
    }

    public final class Directory: @unchecked Sendable {
        public let fd: Int32
        public let path: String
        /// Mode and group of what is written and created below (nil: the process's umask and group).
        public let sharing: Sharing?

        init(fd: Int32, path: String, sharing: Sharing? = nil) {
            self.fd = fd
            self.path = path
            self.sharing = sharing
        }

        /// This folder with `sharing` applied to it and to what is written and created below.
        public func sharing(_ sharing: Sharing?) throws -> Directory {
            guard let sharing else { return self }
            try sharing.apply(fd, directory: true, path: path)
            let copy = dup(fd)
            guard copy >= 0 else { throw Failure(kind: .system(errno), path: path, operation: "open the folder") }
            return Directory(fd: copy, path: path, sharing: sharing)
        }

        deinit { close(fd) }

        /// Writes `data` to `name` in this folder: a random temporary name created exclusively
        /// (`O_EXCL | O_NOFOLLOW`, mode `mode` less the umask), written, synced, renamed over
        /// `name`. The temporary file is removed on any failure; nothing is left at `name`
        /// but the complete new file or what was there before.
        public func write(_ data: some Collection<UInt8>, to name: String, mode: mode_t = 0o644) throws {
            guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
                throw Failure(kind: .system(EINVAL), path: path + "/" + name, operation: "write (not a file name)")
            }
            let bytes = Array(data)
            var temp = ""
            var out: Int32 = -1
            for _ in 0..<8 {
                temp = ".\(name.prefix(80)).\(SafeFiles.randomHex(16)).tmp"
                out = openat(fd, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
                if out >= 0 || errno != EEXIST { break }
            }
            guard out >= 0 else { throw Failure(kind: .system(errno), path: path + "/" + name, operation: "create a temporary file") }
            var failure: Failure? = nil
            var offset = 0
            bytes.withUnsafeBytes { raw in
                while offset < raw.count {
                    let n = Glibc.write(out, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = Failure(kind: .system(errno), path: path + "/" + name, operation: "write")
                        return
                    }
                    offset += n
                }
            }
            if failure == nil, let sharing {
                do { try sharing.apply(out, directory: false, path: path + "/" + name) } catch let f as Failure { failure = f } catch {}
            }
            if failure == nil, fsync(out) != 0 { failure = Failure(kind: .system(errno), path: path + "/" + name, operation: "sync") }
            if close(out) != 0, failure == nil { failure = Failure(kind: .system(errno), path: path + "/" + name, operation: "write") }
            if failure == nil, renameat(fd, temp, fd, name) != 0 {
                failure = Failure(kind: .system(errno), path: path + "/" + name, operation: "rename the temporary file into place")
            }
            if let failure {
                unlinkat(fd, temp, 0)
                throw failure
            }
        }

        /// Opens (creating where `create`) the folder `name` inside this one, without following a link.
        public func subdirectory(_ name: String, create: Bool, mode: mode_t = 0o755) throws -> Directory {
            let child = try SafeFiles.openChild(of: fd, parentPath: path, name: name, create: create, mode: mode)
            return try child.sharing(sharing)
        }

        /// Names of the entries of this folder (without `.` and `..`).
        public func entries() -> [String] {
            let dupfd = dup(fd)
            guard dupfd >= 0, let d = fdopendir(dupfd) else { return [] }
            defer { closedir(d) }
            rewinddir(d)
            var out: [String] = []
            while let e = readdir(d) {
                let name = withUnsafePointer(to: e.pointee.d_name) { ptr in
                    ptr.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { out.append(name) }
            }
            return out
        }

        /// Removes `name` from this folder if it is a file (or a link: the link itself).
        public func removeFile(_ name: String) {
            unlinkat(fd, name, 0)
        }
    }

    static func openChild(of parent: Int32, parentPath: String, name: String, create: Bool, mode: mode_t) throws -> Directory {
        let path = parentPath.hasSuffix("/") ? parentPath + name : parentPath + "/" + name
        var fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == ENOENT && create {
            if mkdirat(parent, name, mode) != 0 && errno != EEXIST {
                throw Failure(kind: .system(errno), path: path, operation: "create the folder")
            }
            fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else {
            let e = errno
            // O_NOFOLLOW on a link gives ELOOP; O_DIRECTORY on a link to a folder gives ENOTDIR
            if e == ELOOP || e == ENOTDIR, isSymbolicLink(parent, name) {
                throw Failure(kind: .symbolicLink, path: path, operation: "open")
            }
            throw Failure(kind: .system(e), path: path, operation: "open the folder")
        }
        return Directory(fd: fd, path: path)
    }

    static func isSymbolicLink(_ parent: Int32, _ name: String) -> Bool {
        var st = stat()
        return fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    /// Opens `path`, which must be `base` or lie below it. `base` itself is opened as named (it
    /// is configured by the administrator and may be a link); every folder below it is opened
    /// without following links, and created (with `mode`) where missing when `create`.
    public static func openDirectory(_ path: String, base: String, create: Bool, mode: mode_t = 0o755) throws -> Directory {
        guard let parts = components(of: path, below: base) else {
            throw Failure(kind: .outsideBase, path: path, operation: base)
        }
        if create && access(base, F_OK) != 0 {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        }
        let fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(kind: .system(errno), path: base, operation: "open the folder") }
        var dir = Directory(fd: fd, path: normalized(base))
        for name in parts {
            dir = try openChild(of: dir.fd, parentPath: dir.path, name: name, create: create, mode: mode)
        }
        return dir
    }

    /// Opens a folder the invoking user named (for example `antemactl report --out DIR`):
    /// the path is taken as given (the user may follow their own links), created if missing.
    public static func openUserDirectory(_ path: String, create: Bool) throws -> Directory {
        if create { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(kind: .system(errno), path: path, operation: "open the folder") }
        return Directory(fd: fd, path: path)
    }

    /// Reads a whole regular file that lies below `base` (every folder below `base` and the file
    /// itself opened without following links), refusing files larger than `maxBytes` before
    /// reading any byte. `expectedSize`, when given, must match (a file still being written).
    public static func readFile(_ path: String, base: String?, maxBytes: Int64) throws -> [UInt8] {
        let fd: Int32
        if let base {
            guard var parts = components(of: path, below: base), let name = parts.popLast() else {
                throw Failure(kind: .outsideBase, path: path, operation: base ?? "/")
            }
            let dir = try openDirectory(base + (parts.isEmpty ? "" : "/" + parts.joined(separator: "/")), base: base, create: false)
            fd = openat(dir.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            if fd < 0 {
                let e = errno
                if e == ELOOP { throw Failure(kind: .symbolicLink, path: path, operation: "open") }
                throw Failure(kind: .system(e), path: path, operation: "open")
            }
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { throw Failure(kind: .system(errno), path: path, operation: "open") }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure(kind: .system(errno), path: path, operation: "stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw Failure(kind: .notRegularFile, path: path, operation: "read") }
        let size = Int64(st.st_size)
        guard size <= maxBytes else { throw Failure(kind: .tooLarge(sizeBytes: size, limitBytes: maxBytes), path: path, operation: "read") }
        // read at most maxBytes + 1 (a file that grows while read is caught by the caller's size check)
        let capacity = Int(min(maxBytes + 1, max(size, 0) + 65536))
        var buffer = [UInt8](repeating: 0, count: capacity)
        var count = 0
        while count < capacity {
            let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress! + count, capacity - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(kind: .system(errno), path: path, operation: "read")
            }
            if n == 0 { break }
            count += n
        }
        if Int64(count) > maxBytes {
            throw Failure(kind: .tooLarge(sizeBytes: Int64(count), limitBytes: maxBytes), path: path, operation: "read")
        }
        buffer.removeSubrange(count...)
        return buffer
    }

    /// `n` random bytes as hexadecimal (from the kernel's generator).
    public static func randomHex(_ n: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// Identity of a file-system object: device and inode (inode numbers repeat across mounts).
    public struct FileID: Hashable, Sendable {
        public let device: UInt64
        public let inode: UInt64
        public init(device: UInt64, inode: UInt64) { self.device = device; self.inode = inode }
        public init(_ st: stat) { self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) }
    }

    /// `lstat` of `path`: what the name itself is (a link is reported as a link).
    public static func lstatOf(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }
}
