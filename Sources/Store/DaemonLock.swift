#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRDB

/// One daemon per database: an exclusive `flock` on the database file, held for the daemon's
/// life (released by the kernel when the process ends, however it ends). The same descriptor
/// tells whether the file the daemon writes is still the one at the database's path.
public final class DaemonLock: Sendable {
    public let path: String
    let fd: Int32
    let identity: (device: UInt64, inode: UInt64)

    public enum LockError: Error, CustomStringConvertible {
        case held(path: String, pid: Int32?)
        case system(path: String, errno: Int32)
        public var description: String {
            switch self {
            case .held(let path, let pid):
                return "another antemad already uses \(path)\(pid.map { " (pid \($0))" } ?? ""); one daemon per database: stop it first or give this one another store.database"
            case .system(let path, let e):
                return "cannot lock \(path): \(String(cString: strerror(e)))"
            }
        }
    }

    /// Takes the lock, or throws `.held` when another process holds it. `pidOfHolder` is asked
    /// for the other daemon's pid (from its heartbeat) for the message.
    public init(databasePath: String, pidOfHolder: () -> Int32? = { nil }) throws {
        path = databasePath
        fd = open(databasePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LockError.system(path: databasePath, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { throw LockError.held(path: databasePath, pid: pidOfHolder()) }
            throw LockError.system(path: databasePath, errno: e)
        }
        var st = stat()
        fstat(fd, &st)
        identity = (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    deinit { close(fd) }

    public enum Place: Equatable, Sendable {
        /// The path names the file the daemon writes.
        case inPlace
        /// Nothing at the path any more: the file was deleted (the daemon still holds it open).
        case deleted
        /// Another file at the path (moved away and replaced, or restored from a copy).
        case replaced
    }

    /// Whether the path still names the locked file.
    public func place() -> Place {
        var st = stat()
        guard stat(path, &st) == 0 else { return errno == ENOENT ? .deleted : .inPlace }
        return (UInt64(st.st_dev), UInt64(st.st_ino)) == identity ? .inPlace : .replaced
    }

    /// After the database file was deleted while open: writes a consistent copy of everything
    /// the open connection holds back to the path (SQLite's online backup), so the history is
    /// not lost when the daemon stops. Stale `-wal`/`-shm` files of the deleted database are
    /// moved out of the way first (they would be replayed into the new file).
    public func restore(from store: AntemaStore) throws {
        for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
        let copy = try DatabaseQueue(path: path)
        try store.writer.backup(to: copy)
        try copy.close()
    }
}
