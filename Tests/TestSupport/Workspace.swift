import Foundation
public import SQLiteStore

/// A projector setup on real files in a fresh directory: a jobs directory, a journal, a database,
/// and what every command is given to find them (the flags, or `--config` and a configuration file).
public final class Workspace: @unchecked Sendable {
    public let dir: TemporaryDirectory
    public let databasePath: String
    public let journalPath: String
    public let jobsDirectory: String
    /// Appended to every command: `flags` until `configure` writes a configuration file.
    public private(set) var arguments: [String]
    /// Set for every command (a configuration's secrets).
    public var environment: [String: String] = [:]

    /// The one job most process tests need: counts PING events per aggregate.
    public static let job = """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
        -- @apply
        INSERT INTO counts(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
        """

    /// `job` made slow: each event first counts to `countTo` in SQL, so that a batch takes a while.
    public static func slowJob(countTo: Int) -> String {
        """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS counts(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
        -- @apply
        INSERT INTO counts(key, n)
        SELECT :key, 1 FROM (
            WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < \(countTo))
            SELECT count(*) FROM c) WHERE true
        ON CONFLICT(key) DO UPDATE SET n = n + 1;
        """
    }

    /// An apply job recording each event's id, whose event fails when its id is in `poison`.
    public static let poisonableApplyJob = """
        -- on: PING key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS seen(id TEXT);
        CREATE TABLE IF NOT EXISTS poison(id TEXT PRIMARY KEY);
        CREATE TRIGGER IF NOT EXISTS seen_poison BEFORE INSERT ON seen
        WHEN EXISTS (SELECT 1 FROM poison WHERE id = NEW.id) BEGIN SELECT raise(ABORT, 'poisoned'); END;
        -- @apply
        INSERT INTO seen(id) VALUES(:id);
        """

    /// `jobs/<name>.sql` for each job, an empty `journal.jsonl`, and `p.db` (not created yet).
    public init(label: String = "projector-e2e", jobs: [String: String]) throws {
        dir = TemporaryDirectory(label)
        databasePath = dir.file("p.db")
        journalPath = dir.file("journal.jsonl")
        jobsDirectory = dir.file("jobs")
        arguments = []
        for (name, text) in jobs { try dir.write("jobs/\(name).sql", text) }
        try dir.write("journal.jsonl", "")
        arguments = flags
    }

    /// One job, `jobs/count.sql`.
    public convenience init(label: String = "projector-e2e", job: String = Workspace.job) throws {
        try self.init(label: label, jobs: ["count": job])
    }

    /// A workspace whose files the caller makes (paths relative to the directory), reached through
    /// a configuration file once `configure` wrote it.
    public init(label: String, database: String, journal: String, jobsDirectory: String) {
        dir = TemporaryDirectory(label)
        databasePath = dir.file(database)
        journalPath = dir.file(journal)
        self.jobsDirectory = jobsDirectory.hasPrefix("/") ? jobsDirectory : dir.file(jobsDirectory)
        arguments = []
        arguments = flags
    }

    /// The flags naming the database, the journal and the jobs directory.
    public var flags: [String] { ["--database", databasePath, "--journal", journalPath, "--jobs-dir", jobsDirectory] }

    /// Writes `projector.json` and gives every later command `--config` with it instead of the flags.
    public func configure(_ json: String, environment: [String: String] = [:]) throws {
        try dir.write("projector.json", json)
        arguments = ["--config", configurationPath]
        self.environment.merge(environment) { _, new in new }
    }

    public var configurationPath: String { dir.file("projector.json") }

    /// Appends `count` PING events over seven aggregates (ids e<start>…).
    public func append(_ count: Int, start: Int = 0) throws {
        var text = ""
        for i in start..<(start + count) {
            text += Events.line(type: "PING", aggregateType: "test_run", aggregateId: "k\(i % 7)", id: "e\(i)") + "\n"
        }
        try dir.append("journal.jsonl", text)
    }

    /// Appends whole lines to the journal.
    public func append(lines: [String]) throws {
        try dir.append("journal.jsonl", lines.map { $0 + "\n" }.joined())
    }

    /// Starts `projector` with `command` followed by `arguments`.
    public func start(_ command: [String], environment extra: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(command + arguments, environment: environment.merging(extra) { _, new in new })
    }

    /// Runs `projector` with `command` followed by `arguments`, to completion.
    public func projector(_ command: [String], environment extra: [String: String] = [:]) throws
        -> ChildProcess.Outcome
    {
        try start(command, environment: extra).wait()
    }

    /// `projector run` with `extra` options.
    public func run(_ extra: [String] = []) throws -> ChildProcess.Outcome { try projector(["run"] + extra) }

    public func db() throws -> Database { try Database(path: databasePath) }

    /// Every row as text ("NULL" for NULL).
    public func rows(_ sql: String) throws -> [[String]] {
        try db().rows(sql).map { $0.map { $0.string ?? "NULL" } }
    }

    /// The first column of the first row as an integer (-1 when there is none).
    public func scalar(_ sql: String) throws -> Int { try db().rows(sql).first?.first?.int ?? -1 }

    public func execute(_ sql: String) throws { try db().execute(sql) }
}
