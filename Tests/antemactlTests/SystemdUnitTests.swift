import Foundation
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(.enabled(if: systemdAnalyze != nil, "systemd-analyze is not installed: skipping the unit checks"))
struct SystemdUnit {
    /// The unit with ExecStart pointing at the freshly built antemad.
    static func unitForBuild(in dir: URL) throws -> URL {
        var text = try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/antemad.service"), encoding: .utf8)
        text = text.replacingOccurrences(of: "/usr/local/bin/antemad", with: DaemonFixture.antemad.path)
        let unit = dir.appendingPathComponent("antemad.service")
        try text.write(to: unit, atomically: true, encoding: .utf8)
        return unit
    }

    static func analyze(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: systemdAnalyze!)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    @Test("the unit verifies, systemd rates its exposure 1.0 or lower, and memory is bounded")
    func verifyAndSecurity() throws {
        let dir = try AntemactlInspect.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let unit = try Self.unitForBuild(in: dir)
        let (status, output) = try Self.analyze(["verify", unit.path])
        #expect(status == 0, "\(output)")
        let (_, security) = try Self.analyze(["security", "--offline=true", unit.path])
        let line = try #require(security.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = try #require(line.split(separator: " ").compactMap { Double($0) }.first)
        #expect(score <= 1.0, "\(line)")
        #expect(unit.path.hasSuffix(".service"))
        let original = try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/antemad.service"), encoding: .utf8)
        for needed in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "User=antema", "StateDirectory=antema", "ProtectSystem=strict", "NoNewPrivileges=true", "MemoryMax="] {
            #expect(original.contains(needed), "\(needed)")
        }
    }
}
