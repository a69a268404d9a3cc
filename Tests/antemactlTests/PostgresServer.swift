import Foundation

/// A real PostgreSQL server for one test: Debian's binaries (`/usr/lib/postgresql/N/bin`), a
/// temporary data folder, a free loopback port, password authentication (scram-sha-256); run as
/// the `postgres` user when the tests run as root (PostgreSQL refuses root). Stopped and removed
/// by `shutdown()`. `.ci/run` (scripts/install-deps.sh) installs the `postgresql` package.
final class PostgresServer: @unchecked Sendable {
    let dir: URL
    let port: Int
    let bin: URL
    static let admin = "antema_admin"
    static let adminPassword = "admin-secret"
    /// The daemons' role (owns the database, creates the schema) and the read-only role.
    static let writer = "antema", writerPassword = "writer-secret"
    static let reader = "antema_reader", readerPassword = "reader-secret"
    static let database = "antema"

    /// Why a server cannot be started here (nil when it can).
    static var unavailable: String? {
        if binFolder == nil { return "PostgreSQL's server binaries are not installed (Debian package postgresql; scripts/install-deps.sh installs it)" }
        if getuid() == 0 && getpwnam("postgres") == nil { return "running as root without a postgres user to run the server as" }
        return nil
    }

    static var binFolder: URL? {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        for v in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(base)/\(v)/bin/initdb") {
            return URL(fileURLWithPath: "\(base)/\(v)/bin")
        }
        return nil
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw NSError(domain: "PostgresServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    init() throws {
        guard let bin = Self.binFolder else { throw NSError(domain: "PostgresServer", code: 2, userInfo: [NSLocalizedDescriptionKey: Self.unavailable ?? "unavailable"]) }
        self.bin = bin
        port = try Self.freePort()
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("antema-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        chmod(dir.path, 0o755)
        try "\(Self.adminPassword)\n".write(to: dir.appendingPathComponent("pw"), atomically: true, encoding: .utf8)
        if getuid() == 0 { try run("/bin/chown", ["-R", "postgres:postgres", dir.path]) }
        try asServerUser(bin.appendingPathComponent("initdb").path,
                         ["-D", dataDir, "-U", Self.admin, "--auth=scram-sha-256", "--pwfile=\(dir.path)/pw", "-E", "UTF8", "--no-sync", "--locale=C"])
        try start()
        do { try setUp() } catch { shutdown(); throw error }
    }

    func setUp() throws {
        try psql("CREATE ROLE \(Self.writer) LOGIN PASSWORD '\(Self.writerPassword)'", database: "postgres")
        try psql("CREATE ROLE \(Self.reader) LOGIN PASSWORD '\(Self.readerPassword)'", database: "postgres")
        try psql("CREATE DATABASE \(Self.database) OWNER \(Self.writer)", database: "postgres")
        // the read-only role as docs/database.md creates it: connect and read, nothing else
        try psql("""
            REVOKE ALL ON DATABASE \(Self.database) FROM PUBLIC;
            GRANT CONNECT ON DATABASE \(Self.database) TO \(Self.writer), \(Self.reader);
            GRANT USAGE ON SCHEMA public TO \(Self.reader);
            ALTER DEFAULT PRIVILEGES FOR ROLE \(Self.writer) IN SCHEMA public GRANT SELECT ON TABLES TO \(Self.reader);
            """, database: Self.database)
    }

    var dataDir: String { dir.appendingPathComponent("data").path }

    func start() throws {
        // the server it starts keeps its inherited standard output: not a pipe the test reads to its end
        try asServerUser(bin.appendingPathComponent("pg_ctl").path, quiet: true,
                         ["-D", dataDir, "-l", "\(dir.path)/server.log", "-w", "-t", "60", "start",
                          "-o", "-c listen_addresses=127.0.0.1 -p \(port) -k \(dir.path) -c fsync=off -c max_connections=50"])
    }

    /// Stops the server (fast shutdown: connections are cut, as when a server goes down).
    func stop() throws {
        try asServerUser(bin.appendingPathComponent("pg_ctl").path, ["-D", dataDir, "-w", "-t", "60", "-m", "fast", "stop"])
    }

    func shutdown() {
        try? stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// No sslmode: libpq's default, prefer (this server offers no TLS, so the connection stays plain).
    func url(user: String = PostgresServer.writer) -> String { "postgresql://\(user)@127.0.0.1:\(port)/\(Self.database)" }

    /// A password file for `store.password_file` (its first line is the password).
    func passwordFile(for user: String = PostgresServer.writer) throws -> String {
        let path = dir.appendingPathComponent("\(user).password").path
        try "\(user == Self.reader ? Self.readerPassword : Self.writerPassword)\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// A libpq password file (PGPASSFILE) for the reader, as antemactl users would have.
    func pgpassFile() throws -> String {
        let path = dir.appendingPathComponent("pgpass").path
        try "127.0.0.1:\(port):\(Self.database):\(Self.reader):\(Self.readerPassword)\n127.0.0.1:\(port):\(Self.database):\(Self.writer):\(Self.writerPassword)\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// Runs SQL as the administrator and returns psql's unaligned output.
    @discardableResult
    func psql(_ sql: String, database: String = PostgresServer.database) throws -> String {
        let psql = bin.appendingPathComponent("psql").path
        let tool = FileManager.default.isExecutableFile(atPath: psql) ? psql : "/usr/bin/psql"
        return try run(tool, ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", Self.admin, "-d", database, "-c", sql],
                       environment: ["PGPASSWORD": Self.adminPassword])
    }

    static func spawnQuietly(_ tool: String, _ arguments: [String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // bash closes every other inherited descriptor, then becomes the tool
        let close = "for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] && eval \"exec $n>&-\"; done; exec \"$@\""
        let argv: [UnsafeMutablePointer<CChar>?] = (["/bin/bash", "-c", close, "bash", tool] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard rc == 0 else { throw NSError(domain: "PostgresServer", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "cannot run \(tool)"]) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// One value of a query (trimmed).
    func scalar(_ sql: String) throws -> String { try psql(sql).trimmingCharacters(in: .whitespacesAndNewlines) }

    func asServerUser(_ tool: String, quiet: Bool = false, _ arguments: [String]) throws {
        if getuid() == 0 { try run("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + arguments, quiet: quiet) } else { try run(tool, arguments, quiet: quiet) }
    }

    /// Runs a tool and returns its output; `quiet`: its output goes to a file (for tools that
    /// leave a process behind holding it).
    @discardableResult
    func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:], quiet: Bool = false) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.currentDirectoryURL = URL(fileURLWithPath: "/")
        var data = Data(), errors = Data()
        if quiet {
            // posix_spawn with every descriptor above 2 closed: Foundation's Process learns of a
            // child's end through a descriptor the child inherits, and the server pg_ctl leaves
            // running would hold it open (waitUntilExit would never return)
            let status = try Self.spawnQuietly(tool, arguments)
            guard status == 0 else {
                let log = (try? String(contentsOf: dir.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
                throw NSError(domain: "PostgresServer", code: Int(status),
                              userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")) failed (\(status)): \(log.suffix(800))"])
            }
            return ""
        } else {
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            data = out.fileHandleForReading.readDataToEndOfFile()
            errors = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
        }
        guard p.terminationStatus == 0 else {
            let log = (try? String(contentsOf: dir.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
            throw NSError(domain: "PostgresServer", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self)) \(log.suffix(500))"])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
