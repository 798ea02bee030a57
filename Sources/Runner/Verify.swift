import Foundation
public import Logging
import ProjectorCore
import SQLiteStore

/// `projector verify JOB [--sample N] [--repair]`: recomputes the read model from the write model
/// into a scratch database and lists every row where the live one drifted (the dual-write gap,
/// a hand edit, a bug). `--repair` puts the recomputed rows in place.
public struct Verify {
    let options: RunOptions
    let logger: Logger
    let clock: any WallClock

    public init(options: RunOptions, logger: Logger, clock: any WallClock = SystemClock()) {
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    public struct Drift: Codable, Sendable {
        public var table: String
        /// Rows the recompute has that the live model lacks or holds differently.
        public var missingOrDifferent: [String]
        /// Rows the live model has that the recompute does not (whole verification only).
        public var unexpected: [String]
        public var missingCount: Int
        public var unexpectedCount: Int
    }

    public struct Report: Codable, Sendable {
        public var job: String
        public var checkedKeys: Int?
        public var driftedKeys: [String]
        public var tables: [Drift]
        public var repaired: Bool

        public var drifted: Bool {
            !driftedKeys.isEmpty || tables.contains { $0.missingCount > 0 || $0.unexpectedCount > 0 }
        }
    }

    public func execute(job: String, sample: Int?, repair: Bool) throws(RunError) -> Report {
        if let sample { return try verifySample(job: job, count: sample, repair: repair) }
        let rebuild = Rebuild(options: options, logger: logger, clock: clock)
        let build = try rebuild.buildScratch(job: job)
        var report = Report(job: job, checkedKeys: nil, driftedKeys: [], tables: [], repaired: false)
        do {
            let db = try Database(path: options.databasePath)
            try db.run("ATTACH DATABASE ? AS projector_verify", [.text(rebuild.scratchPath(job))])
            for table in try Self.tables(db, schema: "projector_verify") {
                report.tables.append(try Self.compare(db, table: table, scratch: "projector_verify", bothWays: true))
            }
            try db.execute("DETACH DATABASE projector_verify")
        } catch {
            throw RunError.from(error)
        }
        if repair && report.drifted {
            _ = try rebuild.swap(job: job, build: build)
            report.repaired = true
        } else {
            Rebuild.remove(rebuild.scratchPath(job))
        }
        return report
    }

    /// Recomputes a random sample of keys one by one and compares each key's rows.
    func verifySample(job: String, count: Int, repair: Bool) throws(RunError) -> Report {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        guard let definition = catalog[job] else { throw .unknownJobs([job], known: catalog.jobs.map(\.name)) }
        guard definition.mode == .refresh, definition.keys != nil else {
            throw .usage("--sample needs a refresh job with @keys; verify \(job) whole instead")
        }
        var report = Report(job: job, checkedKeys: 0, driftedKeys: [], tables: [], repaired: false)
        let scratch: Database
        do throws(SQLiteError) {
            scratch = try Database(path: ":memory:")
            for attachment in options.attachments {
                try scratch.run(
                    "ATTACH DATABASE ? AS \"\(attachment.name)\"",
                    [.text("file:" + RunnerStore.uriEscape(attachment.path) + "?mode=ro")])
            }
            try scratch.run(
                "ATTACH DATABASE ? AS projector_live",
                [.text("file:" + RunnerStore.uriEscape(options.databasePath) + "?mode=ro")])
        } catch {
            throw RunError.from(error)
        }
        let compiled: CompiledJob
        do throws(JobFileErrors) {
            try CompiledJob.setup(definition, db: scratch)
            compiled = try CompiledJob(definition, db: scratch)
        } catch {
            throw .jobs(error)
        }
        do throws(SQLiteError) {
            let tables = try Self.tables(scratch, schema: "main")
            var keys = try compiled.keyList()
            keys.shuffle()
            keys = Array(keys.prefix(count))
            report.checkedKeys = keys.count
            var drift: [String: Drift] = [:]
            for key in keys {
                for table in tables { try scratch.execute("DELETE FROM main.\(RunnerStore.quote(table))") }
                try EventBinder.refresh(compiled.body, key: key)
                var keyDrifted = false
                for table in tables {
                    let found = try Self.compare(
                        scratch, table: table, scratch: "main", live: "projector_live", bothWays: false)
                    if found.missingCount > 0 {
                        keyDrifted = true
                        var total =
                            drift[table]
                            ?? Drift(
                                table: table, missingOrDifferent: [], unexpected: [], missingCount: 0,
                                unexpectedCount: 0)
                        total.missingCount += found.missingCount
                        total.missingOrDifferent += found.missingOrDifferent.prefix(20 - total.missingOrDifferent.count)
                        drift[table] = total
                    }
                }
                if keyDrifted { report.driftedKeys.append(key) }
            }
            report.tables = drift.values.sorted { $0.table < $1.table }
        } catch {
            throw RunError.from(error)
        }
        if repair && !report.driftedKeys.isEmpty {
            var repairOptions = options
            repairOptions.selectedJobs = [job]
            _ = try ProjectionRun(options: repairOptions, logger: logger, clock: clock).replay(
                keys: report.driftedKeys, from: nil)
            report.repaired = true
        }
        return report
    }

    /// The read-model tables of a schema (everything but projector's and SQLite's own).
    static func tables(_ db: Database, schema: String) throws(SQLiteError) -> [String] {
        try db.rows(
            """
            SELECT name FROM \(schema).sqlite_master WHERE type = 'table'
            AND name NOT LIKE 'projector\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name
            """
        ).compactMap { $0[0].string }
    }

    static func compare(
        _ db: Database, table: String, scratch: String, live: String = "main", bothWays: Bool
    ) throws(SQLiteError) -> Drift {
        let t = RunnerStore.quote(table)
        func rows(_ a: String, _ b: String) throws(SQLiteError) -> (Int, [String]) {
            let sql = "SELECT * FROM \(a).\(t) EXCEPT SELECT * FROM \(b).\(t)"
            let count = try db.rows("SELECT count(*) FROM (\(sql))").first?.first?.int ?? 0
            let sample = try db.rows(sql + " LIMIT 20").map { row in
                "(" + row.map { $0.string ?? "NULL" }.joined(separator: ", ") + ")"
            }
            return (count, sample)
        }
        let (missing, missingRows) = try rows(scratch, live)
        var drift = Drift(
            table: table, missingOrDifferent: missingRows, unexpected: [], missingCount: missing, unexpectedCount: 0)
        if bothWays {
            let (unexpected, unexpectedRows) = try rows(live, scratch)
            drift.unexpected = unexpectedRows
            drift.unexpectedCount = unexpected
        }
        return drift
    }
}
