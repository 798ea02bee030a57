import Foundation
public import PostgresClient
public import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test only when `scripts/test` started a PostgreSQL server for it; plain `swift test`
    /// skips it and says why.
    public static var postgresServer: Self {
        .enabled(
            if: PostgresTestServer.isAvailable,
            "no PostgreSQL test server: run the tests through scripts/test, which starts one")
    }
}

/// The PostgreSQL server `scripts/test` starts (`scripts/postgres-cluster`), found through the
/// environment: `PROJECTOR_TEST_POSTGRES_DIR` and libpq's `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSFILE`.
public enum PostgresTestServer {
    /// Whether a test server is there; tests that need one are `.enabled(if:)` on it.
    public static var isAvailable: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["PROJECTOR_TEST_POSTGRES_DIR"] != nil && environment["PGPORT"] != nil
    }

    /// The cluster's directory (data, socket, `cluster.env`, `pgpass`).
    public static var directory: String {
        ProcessInfo.processInfo.environment["PROJECTOR_TEST_POSTGRES_DIR"] ?? ""
    }

    /// The cluster's settings from `cluster.env` (PGPORT, POSTGRES_BIN, POSTGRES_DATA, POSTGRES_OWNER, …).
    public static func settings(directory: String = directory) throws -> [String: String] {
        let text = try String(contentsOfFile: directory + "/cluster.env", encoding: .utf8)
        var settings: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return settings
    }

    /// The `projector` role's password (from the cluster's pgpass file).
    public static func password(directory: String = directory) throws -> String {
        let line = try String(contentsOfFile: directory + "/pgpass", encoding: .utf8)
        return String(line.split(separator: ":").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Restarts the server with `pg_ctl restart -m mode` (`immediate` is a crash: no shutdown checkpoint).
    /// The shared server's restart breaks every test's connections: use a `PostgresTestCluster` of your own.
    public static func restart(directory: String = directory, mode: String = "immediate") throws {
        try runScript(["restart", directory, mode])
    }

    /// Runs `scripts/postgres-cluster` with `arguments` and returns what it printed.
    @discardableResult
    static func runScript(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ChildProcess.repositoryRoot() + "/scripts/postgres-cluster")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PGError(
                kind: .other,
                message:
                    "scripts/postgres-cluster \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)"
            )
        }
        return String(decoding: printed, as: UTF8.self)
    }

    /// Ends another connection's backend, as an operator or a failover would.
    public static func terminate(backend pid: Int32) throws {
        let admin = try PGConnection(conninfo: "dbname=projector")
        let result = try admin.query("SELECT pg_terminate_backend($1::int)", [String(pid)])
        guard result.first?.bool(0) == true else {
            throw PGError(kind: .other, message: "no backend \(pid) to terminate")
        }
    }
}

/// A database of its own for one test: `CREATE DATABASE t_<random>` now, dropped (with any
/// connection still on it) when the value goes away.
public final class PostgresTestDatabase: @unchecked Sendable {
    public let name: String

    public init() throws {
        name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try PGConnection(conninfo: "dbname=projector")
        try admin.execute("CREATE DATABASE \(name)")
    }

    deinit {
        if let admin = try? PGConnection(conninfo: "dbname=projector") {
            try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        }
    }

    /// A connection string for the database (the rest comes from the environment).
    public var conninfo: String { "dbname=\(name)" }

    /// A new connection to the database.
    public func connect() throws -> PGConnection {
        try PGConnection(conninfo: conninfo)
    }
}

/// A PostgreSQL server of one test's own (`scripts/postgres-cluster start`), for faults that would
/// disturb other tests: `pg_ctl restart -m immediate`, a stopped server. Stopped and removed when
/// the value goes away. Takes a second or two to start.
public final class PostgresTestCluster: @unchecked Sendable {
    public let directory: String
    public let settings: [String: String]

    public init() throws {
        directory = "/tmp/projector-pgtest-" + UUID().uuidString.prefix(8).lowercased()
        try PostgresTestServer.runScript(["start", directory])
        settings = try PostgresTestServer.settings(directory: directory)
    }

    deinit {
        _ = try? PostgresTestServer.runScript(["stop", directory])
    }

    /// A connection string for its `projector` database, independent of the environment's PG* settings.
    public var conninfo: String {
        "host=127.0.0.1 port=\(settings["PGPORT", default: ""]) user=projector dbname=projector "
            + "passfile=\(directory)/pgpass"
    }

    public func restart(mode: String = "immediate") throws {
        try PostgresTestServer.restart(directory: directory, mode: mode)
    }
}
