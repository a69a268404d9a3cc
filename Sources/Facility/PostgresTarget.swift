import Foundation
import Logging
import PostgresNIO

/// A problem with the facility database: its configuration, the connection, or a refusal.
public struct FacilityError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case configuration, unreachable, refused }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }

    /// What PostgresNIO's error says (its own description hides the server's message on purpose).
    public static func describe(_ error: any Error) -> String {
        if let e = error as? FacilityError { return e.message }
        if let e = error as? PostgresTransactionError {
            return [e.beginError, e.closureError, e.commitError, e.rollbackError].compactMap { $0.map(describe) }.first ?? "transaction failed"
        }
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                let message = info[.message] ?? "refused"
                let detail = info[.detail].map { " (\($0))" } ?? ""
                return "the server says: \(message)\(detail) [SQLSTATE \(info[.sqlState] ?? "?")]"
            }
            if let underlying = e.underlying { return "\(e.code): \(underlying)" }
            return "\(e.code)"
        }
        return "\(error)"
    }

    /// Whether the error means the server could not be reached or the connection broke (retry
    /// later) rather than a refusal of what was sent.
    public static func isConnectionProblem(_ error: any Error) -> Bool {
        if let e = error as? FacilityError { return e.kind == .unreachable }
        if let e = error as? PostgresTransactionError {
            return [e.beginError, e.closureError, e.commitError].compactMap { $0 }.contains(where: isConnectionProblem)
        }
        if let e = error as? PSQLError {
            if let state = e.serverInfo?[.sqlState] {
                // 08: connection exception; 57P: operator intervention (shutdown); 53: resources
                return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53")
            }
            return true
        }
        return true
    }
}

/// A PostgreSQL server as `store.url` names it: `postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE]`,
/// libpq's spelling. The password is never part of it: it comes from the file `store.password_file`
/// names (its first line), else from the password file libpq uses (`PGPASSFILE`, else
/// `~/.pgpass`, in libpq's `host:port:database:user:password` format, ignored when others may read it).
public struct PostgresTarget: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode`: `disable`, `allow` and `prefer` (TLS when the server offers it, not
    /// verified), `require` (TLS, not verified), `verify-ca`, `verify-full` (the certificate
    /// verified against the system's roots or `sslrootcert`, and for `verify-full` the host name).
    public enum SSLMode: String, Sendable, CaseIterable { case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    /// A Unix socket folder (`?host=/run/postgresql`), used instead of TCP when set.
    public var socketFolder: String?
    public var user: String
    public var database: String
    public var sslMode: SSLMode
    public var sslRootCert: String?
    public var passwordFile: String?
    public var connectTimeoutSeconds: Int64 = 10
    /// `application_name`, shown in pg_stat_activity.
    public var applicationName: String = "antema"

    /// The URL without password (for logs and `antemactl status`).
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        var s = "postgresql://\(user)@\(h):\(port)/\(database)"
        var q: [String] = []
        if let socketFolder { q.append("host=\(socketFolder)") }
        if sslMode != .prefer { q.append("sslmode=\(sslMode.rawValue)") }
        if !q.isEmpty { s += "?" + q.joined(separator: "&") }
        return s
    }

    /// Parses `url`; `key` names the setting in errors.
    public static func parse(_ url: String, passwordFile: String? = nil, key: String = "store.url") throws -> PostgresTarget {
        func bad(_ why: String) -> FacilityError { FacilityError(.configuration, "\(key): \(why) (expected postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE])") }
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgresql", "postgres"].contains(scheme) else {
            throw bad("not a postgresql:// URL")
        }
        if c.password != nil {
            throw FacilityError(.configuration, "\(key): the URL holds a password; the configuration never does: put it in the file store.password_file names, or in PGPASSFILE")
        }
        guard let user = c.user, !user.isEmpty else { throw bad("no user name") }
        var database = c.path
        if database.hasPrefix("/") { database.removeFirst() }
        guard !database.isEmpty, !database.contains("/") else { throw bad("no database name") }
        var target = PostgresTarget(host: c.host ?? "", port: c.port ?? 5432, socketFolder: nil, user: user, database: database,
                                    sslMode: .prefer, sslRootCert: nil, passwordFile: passwordFile)
        for item in c.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw bad("sslmode \(value) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                target.sslMode = mode
            case "sslrootcert": target.sslRootCert = value
            case "host" where value.hasPrefix("/"): target.socketFolder = value
            case "host": target.host = value
            case "port":
                guard let p = Int(value), (1...65535).contains(p) else { throw bad("port \(value) is not a port number") }
                target.port = p
            case "connect_timeout":
                guard let t = Int64(value), t > 0 else { throw bad("connect_timeout \(value) is not a positive number of seconds") }
                target.connectTimeoutSeconds = t
            case "application_name": target.applicationName = value
            default: throw bad("unknown parameter \(item.name)")
            }
        }
        if target.host.isEmpty && target.socketFolder == nil { throw bad("no host") }
        return target
    }

    /// The password: `store.password_file`'s first line, else the matching line of libpq's
    /// password file; nil when there is none (the server may not need one).
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw FacilityError(.configuration, "store.password_file: cannot read \(passwordFile)")
            }
            let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        let file = environment["PGPASSFILE"] ?? environment["HOME"].map { "\($0)/.pgpass" }
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        var st = stat()
        if stat(file, &st) == 0, st.st_mode & 0o077 != 0 { return nil }  // libpq ignores a password file others may read
        let host = socketFolder == nil ? self.host : "localhost"
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = PostgresTarget.pgpassFields(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A pgpass line's five fields (`\:` and `\\` escaped as libpq reads them).
    static func pgpassFields(_ line: String) -> [String] {
        var fields: [String] = [], current = "", escaped = false
        for ch in line {
            if escaped { current.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == ":" && fields.count < 4 { fields.append(current); current = ""; continue }
            current.append(ch)
        }
        fields.append(current)
        return fields
    }

    /// PostgresNIO's configuration for this server.
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let password = try self.password()
        var config: PostgresConnection.Configuration
        if let socketFolder {
            config = .init(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: try tls())
        }
        config.options.connectTimeout = .seconds(connectTimeoutSeconds)
        config.options.additionalStartupParameters = [("application_name", applicationName)]
        return config
    }

    func tls() throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return .disable
        case .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let sslRootCert { tls.trustRoots = .file(sslRootCert) }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch {
            throw FacilityError(.configuration, "store.url: TLS set-up failed: \(error)")
        }
        return sslMode == .require || sslMode == .verifyCA || sslMode == .verifyFull ? .require(context) : .prefer(context)
    }

    /// Opens a connection (FacilityError `.unreachable` with the reason when it cannot).
    public func connect(logger: Logger, id: Int = 1) async throws -> PostgresConnection {
        let config = try connectionConfiguration()
        do { return try await PostgresConnection.connect(configuration: config, id: id, logger: logger) } catch {
            throw FacilityError(.unreachable, "cannot connect to \(self): \(FacilityError.describe(error))")
        }
    }
}
