#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import SafeFiles

/// A fresh temporary folder, removed at the end.
final class Scratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "antema-safe-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String, _ text: String) -> String {
        let p = path + "/" + name
        try! FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }
    func read(_ p: String) -> String? { try? String(contentsOfFile: p, encoding: .utf8) }
}

@Suite struct SafeWriting {
    @Test("a file is written complete and nothing temporary is left")
    func writesAndLeavesNoTemporary() throws {
        let s = Scratch()
        let dir = try SafeFiles.openDirectory(s.path + "/sample/antema-report", base: s.path, create: true)
        try dir.write(Array("hello".utf8), to: "README.txt")
        #expect(s.read(s.path + "/sample/antema-report/README.txt") == "hello")
        #expect(dir.entries() == ["README.txt"])
    }

    @Test("a link placed under the final name is replaced, never written through")
    func linkAtFinalNameIsReplaced() throws {
        let s = Scratch()
        let victim = s.file("victim.db", "precious")
        try FileManager.default.createDirectory(atPath: s.path + "/root/report", withIntermediateDirectories: true)
        symlink(victim, s.path + "/root/report/README.txt")
        let dir = try SafeFiles.openDirectory(s.path + "/root/report", base: s.path + "/root", create: false)
        try dir.write(Array("report".utf8), to: "README.txt")
        #expect(s.read(victim) == "precious")
        #expect(s.read(s.path + "/root/report/README.txt") == "report")
        #expect(SafeFiles.lstatOf(s.path + "/root/report/README.txt").map { $0.st_mode & S_IFMT } == S_IFREG)
    }

    @Test("links placed under every name of the old predictable temporary scheme are never written through")
    func predictableTemporaryNamesAreNotUsed() throws {
        let s = Scratch()
        let victim = s.file("victim.db", "precious")
        try FileManager.default.createDirectory(atPath: s.path + "/root/r", withIntermediateDirectories: true)
        for pid in [getpid(), 1, 2] { symlink(victim, s.path + "/root/r/.README.txt.tmp-\(pid)") }
        let dir = try SafeFiles.openDirectory(s.path + "/root/r", base: s.path + "/root", create: false)
        for _ in 0..<20 { try dir.write(Array("x".utf8), to: "README.txt") }
        #expect(s.read(victim) == "precious")
    }

    @Test("the temporary name is random: two writes use different names")
    func temporaryNamesDiffer() {
        #expect(SafeFiles.randomHex(16) != SafeFiles.randomHex(16))
        #expect(SafeFiles.randomHex(16).count == 32)
    }

    @Test("a symlinked folder below the base is refused, not followed (report folder, sample folder)")
    func symlinkedFolderRefused() throws {
        let s = Scratch()
        try FileManager.default.createDirectory(atPath: s.path + "/outside", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: s.path + "/root/sample", withIntermediateDirectories: true)
        symlink(s.path + "/outside", s.path + "/root/sample/antema-report")
        symlink(s.path + "/outside", s.path + "/root/linked-sample")
        for path in [s.path + "/root/sample/antema-report", s.path + "/root/sample/antema-report/images", s.path + "/root/linked-sample/antema-report"] {
            #expect(throws: SafeFiles.Failure.self) { try SafeFiles.openDirectory(path, base: s.path + "/root", create: true) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.path + "/outside").isEmpty)
        do {
            _ = try SafeFiles.openDirectory(s.path + "/root/sample/antema-report", base: s.path + "/root", create: true)
        } catch let f as SafeFiles.Failure {
            #expect(f.kind == .symbolicLink)
            #expect(f.description.contains("symbolic link"))
        }
    }

    @Test("a path outside the base or with '..' is refused")
    func outsideBaseRefused() {
        #expect(SafeFiles.components(of: "/a/b/c", below: "/a") == ["b", "c"])
        #expect(SafeFiles.components(of: "/a//b/./c/", below: "/a/") == ["b", "c"])
        #expect(SafeFiles.components(of: "/ab/c", below: "/a") == nil)
        #expect(SafeFiles.components(of: "/a/../etc", below: "/a") == nil)
        #expect(SafeFiles.components(of: "/a", below: "/a") == [])
    }

    @Test("a write that fails (a name over the file system's limit) leaves no temporary file and says where")
    func failedWriteLeavesNothing() throws {
        let s = Scratch()
        let dir = try SafeFiles.openDirectory(s.path + "/r", base: s.path, create: true)
        let long = String(repeating: "金", count: 100) + ".xlsx"  // 305 bytes: over NAME_MAX (255)
        #expect { try dir.write(Array("x".utf8), to: long) } throws: { e in
            let f = e as? SafeFiles.Failure
            return f?.kind == .system(ENAMETOOLONG) && f!.description.contains(s.path + "/r/")
        }
        #expect(dir.entries().isEmpty)
    }
}

@Suite struct BoundedReading {
    @Test("a regular file below the base is read whole")
    func readsRegularFile() throws {
        let s = Scratch()
        let p = s.file("root/S/a.dm3", "0123456789")
        #expect(try SafeFiles.readFile(p, base: s.path + "/root", maxBytes: 100) == Array("0123456789".utf8))
    }

    @Test("a link to a file elsewhere is refused before any byte is read")
    func linkedFileRefused() throws {
        let s = Scratch()
        let secret = s.file("secret", "shadow")
        try FileManager.default.createDirectory(atPath: s.path + "/root/S", withIntermediateDirectories: true)
        symlink(secret, s.path + "/root/S/x.dm3")
        #expect { try SafeFiles.readFile(s.path + "/root/S/x.dm3", base: s.path + "/root", maxBytes: 100) } throws: { e in
            (e as? SafeFiles.Failure)?.kind == .symbolicLink
        }
    }

    @Test("a file inside a linked folder is refused")
    func fileInLinkedFolderRefused() throws {
        let s = Scratch()
        _ = s.file("elsewhere/a.dm3", "data")
        try FileManager.default.createDirectory(atPath: s.path + "/root", withIntermediateDirectories: true)
        symlink(s.path + "/elsewhere", s.path + "/root/S")
        #expect { try SafeFiles.readFile(s.path + "/root/S/a.dm3", base: s.path + "/root", maxBytes: 100) } throws: { e in
            (e as? SafeFiles.Failure)?.kind == .symbolicLink
        }
    }

    @Test("a file over the limit is refused by its size, without reading it")
    func oversizeRefused() throws {
        let s = Scratch()
        let p = s.path + "/root/big.dm4"
        try FileManager.default.createDirectory(atPath: s.path + "/root", withIntermediateDirectories: true)
        // a sparse 3 GB file: reading it would take 3 GB of memory
        let fd = open(p, O_WRONLY | O_CREAT, 0o644)
        ftruncate(fd, 3 << 30)
        close(fd)
        #expect { try SafeFiles.readFile(p, base: s.path + "/root", maxBytes: 1 << 30) } throws: { e in
            (e as? SafeFiles.Failure)?.kind == .tooLarge(sizeBytes: 3 << 30, limitBytes: 1 << 30)
        }
    }

    @Test("a folder or a pipe is not read as a file")
    func nonRegularRefused() throws {
        let s = Scratch()
        try FileManager.default.createDirectory(atPath: s.path + "/root/d.dm3", withIntermediateDirectories: true)
        mkfifo(s.path + "/root/p.dm3", 0o644)
        for name in ["d.dm3", "p.dm3"] {
            #expect { try SafeFiles.readFile(s.path + "/root/" + name, base: s.path + "/root", maxBytes: 100) } throws: { e in
                (e as? SafeFiles.Failure)?.kind == .notRegularFile
            }
        }
    }
}
