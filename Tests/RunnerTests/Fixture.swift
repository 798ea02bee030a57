import Foundation
import Journal
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport

/// A clock the test moves by hand (for backoff).
final class ManualClock: WallClock, @unchecked Sendable {
    var time: Double

    init(_ time: Double = 1_800_000_000) { self.time = time }

    func now() -> Double { time }
}

/// A `Workspace` run in this process: `ProjectionRun` with a clock the test moves by hand.
final class Fixture: RunFixture {
    let workspace: Workspace
    let clock = ManualClock()
    var options: RunOptions

    var dir: TemporaryDirectory { workspace.dir }

    static let refreshJob = """
        -- on: PING           key: aggregateId
        -- on: PONG           key: data.target
        -- @setup
        CREATE TABLE IF NOT EXISTS refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS poison(key TEXT PRIMARY KEY);
        CREATE TRIGGER IF NOT EXISTS refreshes_poison BEFORE INSERT ON refreshes
        WHEN EXISTS (SELECT 1 FROM poison WHERE key = NEW.key)
        BEGIN SELECT raise(ABORT, 'poisoned key'); END;
        -- @refresh
        INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
        """

    static let applyJob = """
        -- on: PING, PONG     key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS applied(
            seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, position INTEGER, id TEXT, type TEXT, n INTEGER,
            aggregate_type TEXT, occurred_at TEXT, meta TEXT);
        CREATE TABLE IF NOT EXISTS poison_events(id TEXT PRIMARY KEY);
        CREATE TRIGGER IF NOT EXISTS applied_poison BEFORE INSERT ON applied
        WHEN EXISTS (SELECT 1 FROM poison_events WHERE id = NEW.id)
        BEGIN SELECT raise(ABORT, 'poisoned event'); END;
        -- @apply
        INSERT INTO applied(key, position, id, type, n, aggregate_type, occurred_at, meta)
        VALUES(:key, :position, :id, :type, json_extract(:data, '$.n'), :aggregate_type, :occurred_at,
               json_extract(:metadata, '$.user'));
        """

    init(jobs: [String: String] = ["counter": Fixture.refreshJob, "log": Fixture.applyJob]) throws {
        workspace = try Workspace(label: "projector-run", jobs: jobs)
        options = RunOptions(
            databasePath: workspace.databasePath, journalPath: workspace.journalPath,
            jobsDirectory: workspace.jobsDirectory)
        options.retry = RetryPolicy(baseDelay: 10, maxDelay: 1000, maxAttempts: 3)
    }

    func append(_ lines: String...) throws { try workspace.append(lines: lines) }

    func ping(_ key: String, id: String? = nil, n: Int = 0, type: String = "PING") -> String {
        Self.ping(key, id: id, n: n, type: type)
    }

    /// A PING (or `type`) event of aggregate `key`, whose data names `key` as its target.
    static func ping(_ key: String, id: String? = nil, n: Int = 0, type: String = "PING") -> String {
        Events.line(type: type, aggregateId: key, id: id, data: #"{"n":\#(n),"target":"\#(key)"}"#)
    }

    @discardableResult
    func run(_ configure: (inout RunOptions) -> Void = { _ in }) throws(RunError) -> RunReport {
        try Self.run(options, clock: clock, configure)
    }

    /// A run in this process with `options` as `configure` changes them, logging nothing.
    static func run(
        _ options: RunOptions, clock: any WallClock, _ configure: (inout RunOptions) -> Void
    ) throws(RunError) -> RunReport {
        var options = options
        configure(&options)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try ProjectionRun(options: options, logger: logger, clock: clock).execute()
    }

    func db() throws -> Database { try Database(path: options.databasePath) }

    func rows(_ sql: String) throws -> [[String]] { try workspace.rows(sql) }

    func scalar(_ sql: String) throws -> Int { try workspace.scalar(sql) }

    func execute(_ sql: String) throws { try workspace.execute(sql) }

    func runnerTable(_ name: String) -> String { "projector_\(name)" }
}
