import AntemaService
import Facility
import Foundation
import Testing

@Suite("Facility configuration")
struct FacilityConfigurationTests {
    @Test("store.url, password_file, reader_url and instrument.name are read; without them the local file only and the host name")
    func keys() throws {
        let none = try Configuration.parse("")
        #expect(try none.facilityTarget() == nil)
        #expect(none.store.url == nil && !none.instrument.name.isEmpty)
        let c = try Configuration.parse("""
            [store]
            url = "postgresql://antema@db.example.org:5433/facility?sslmode=verify-full"
            password_file = "/etc/antema/pgpassword"
            reader_url = "postgresql://antema_reader@db.example.org:5433/facility"
            [instrument]
            name = "TEM-2100F"
            """)
        let t = try #require(try c.facilityTarget())
        #expect(t.host == "db.example.org" && t.port == 5433 && t.user == "antema" && t.database == "facility" && t.sslMode == .verifyFull)
        #expect(t.passwordFile == "/etc/antema/pgpassword" && c.instrument.name == "TEM-2100F")
        #expect(t.description == "postgresql://antema@db.example.org:5433/facility?sslmode=verify-full")
    }

    @Test("a password in the URL, an unknown sslmode, a missing database or a relative password file are refused, naming the key")
    func refusals() {
        for (text, key, words) in [
            ("[store]\nurl = \"postgresql://antema:secret@db/antema\"", "url", "password"),
            ("[store]\nurl = \"postgresql://antema@db/antema?sslmode=maybe\"", "url", "sslmode"),
            ("[store]\nurl = \"postgresql://antema@db\"", "url", "database"),
            ("[store]\nurl = \"mysql://antema@db/antema\"", "url", "postgresql://"),
            ("[store]\npassword_file = \"pw\"", "password_file", "absolute"),
            ("[instrument]\nname = \"\"", "name", "printable"),
        ] {
            do { _ = try Configuration.parse(text, file: "c.toml"); Issue.record("accepted: \(text)") } catch {
                #expect("\(error)".contains(key) && "\(error)".contains(words), "\(error)")
                #expect(!"\(error)".contains("secret"), "the password is not repeated: \(error)")
            }
        }
    }

    @Test("the password comes from password_file's first line, else from libpq's password file (matching line, wildcards, escapes), never from one others may read")
    func passwords() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let single = dir.appendingPathComponent("pw").path
        try "s3cret\nignored\n".write(toFile: single, atomically: true, encoding: .utf8)
        #expect(try PostgresTarget.parse("postgresql://antema@db/antema", passwordFile: single).password() == "s3cret")
        let pgpass = dir.appendingPathComponent("pgpass").path
        try "# comment\nother:5432:antema:antema:wrong\ndb:*:antema:antema:p\\:w\\\\d\n".write(toFile: pgpass, atomically: true, encoding: .utf8)
        chmod(pgpass, 0o600)
        let t = try PostgresTarget.parse("postgresql://antema@db/antema")
        #expect(try t.password(environment: ["PGPASSFILE": pgpass]) == "p:w\\d")
        #expect(try PostgresTarget.parse("postgresql://someone@db/antema").password(environment: ["PGPASSFILE": pgpass]) == nil)
        chmod(pgpass, 0o644)
        #expect(try t.password(environment: ["PGPASSFILE": pgpass]) == nil)
        #expect(throws: FacilityError.self) { try PostgresTarget.parse("postgresql://a@db/antema", passwordFile: dir.appendingPathComponent("none").path).password() }
    }
}
