import Foundation
public import Logging
public import ProjectorCore

/// `projector verify JOB [--sample N] [--repair]`: recomputes the read model from the write model
/// into a scratch database and lists every row where the live one drifted (the dual-write gap,
/// a hand edit, a bug). `--repair` puts the recomputed rows in place.
///
/// For a job with `@refresh_batch` it first proves that both refresh forms leave the same rows:
/// the keys (every key of `@keys`, or the sample) are refreshed into empty tables once key by key
/// and once in batches, and the two results are compared. When they differ the job definition is
/// wrong, whatever the live rows hold, and nothing is repaired.
public struct Verify {
    let options: RunOptions
    let logger: Logger
    let clock: any WallClock

    public init(options: RunOptions, logger: Logger, clock: any WallClock = SystemClock()) {
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    /// Where a table of the live read model differs from the recomputation.
    public typealias Drift = ReadModelDrift

    public struct Report: Codable, Sendable {
        public var job: String
        public var checkedKeys: Int?
        public var driftedKeys: [String]
        public var tables: [Drift]
        public var repaired: Bool
        /// For a job with `@refresh_batch`: how its two refresh forms compared.
        public var refreshForms: RefreshForms?

        public var drifted: Bool {
            !driftedKeys.isEmpty || tables.contains { $0.missingCount > 0 || $0.unexpectedCount > 0 }
        }
    }

    /// `@refresh` key by key against `@refresh_batch` on the same keys.
    public struct RefreshForms: Codable, Sendable {
        public var checkedKeys: Int
        /// The most keys one pass of `@refresh_batch` refreshed.
        public var batchSize: Int
        /// Per table: `missingOrDifferent` are rows `@refresh` leaves that `@refresh_batch` does
        /// not, `unexpected` rows only `@refresh_batch` leaves.
        public var tables: [Drift]

        public var agree: Bool { !tables.contains { $0.missingCount > 0 || $0.unexpectedCount > 0 } }
    }

    /// How many keys one pass of `@refresh_batch` refreshes when verify compares the forms: more
    /// than one pass whenever there are two keys or more, so a section that touches rows outside
    /// its batch's keys is caught.
    static func formsBatchSize(keys: Int) -> Int { max(1, min(256, (keys + 1) / 2)) }

    public func execute(job: String, sample: Int?, repair: Bool) throws(RunError) -> Report {
        if let sample { return try verifySample(job: job, count: sample, repair: repair) }
        var report = Report(job: job, checkedKeys: nil, driftedKeys: [], tables: [], repaired: false)
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        if let definition = catalog[job], definition.batchRefresh != nil {
            let scratch = try Stores.keyRecomputation(definition, options: options)
            do throws(StoreError) {
                report.refreshForms = try compareForms(scratch, keys: try scratch.allKeys())
            } catch {
                throw .from(error)
            }
        }
        let rebuild = Rebuild(options: options, logger: logger, clock: clock)
        let lock = try rebuild.scratchLock(job)
        defer { withExtendedLifetime(lock) {} }
        let build = try rebuild.buildScratch(job: job)
        let store = try Stores.open(path: options.databasePath, schema: options.postgresSchema)
        do throws(StoreError) {
            report.tables = try store.compareTables(withScratchAt: rebuild.scratchPath(job))
        } catch {
            throw .from(error)
        }
        if repair && report.drifted && report.refreshForms?.agree != false {
            _ = try rebuild.swap(job: job, build: build)
            report.repaired = true
        } else {
            try rebuild.discardScratch(job)
        }
        return report
    }

    func compareForms(_ scratch: any KeyRecomputation, keys: [String]) throws(StoreError) -> RefreshForms {
        let size = Self.formsBatchSize(keys: keys.count)
        return RefreshForms(
            checkedKeys: keys.count, batchSize: size,
            tables: try scratch.compareRefreshForms(keys: keys, batchSize: size))
    }

    /// Recomputes a random sample of keys one by one and compares each key's rows.
    func verifySample(job: String, count: Int, repair: Bool) throws(RunError) -> Report {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        guard let definition = catalog[job] else { throw .unknownJobs([job], known: catalog.jobs.map(\.name)) }
        guard definition.mode == .refresh, definition.keys != nil else {
            throw .usage("--sample needs a refresh job with @keys; verify \(job) whole instead")
        }
        var report = Report(job: job, checkedKeys: 0, driftedKeys: [], tables: [], repaired: false)
        let scratch = try Stores.keyRecomputation(definition, options: options)
        do throws(StoreError) {
            var keys = try scratch.allKeys()
            keys.shuffle()
            keys = Array(keys.prefix(count))
            report.checkedKeys = keys.count
            var drift: [String: Drift] = [:]
            for key in keys {
                let found = try scratch.recompute(key: key).filter { $0.missingCount > 0 }
                for table in found {
                    var total =
                        drift[table.table]
                        ?? Drift(
                            table: table.table, missingOrDifferent: [], unexpected: [], missingCount: 0,
                            unexpectedCount: 0)
                    total.missingCount += table.missingCount
                    total.missingOrDifferent += table.missingOrDifferent.prefix(20 - total.missingOrDifferent.count)
                    drift[table.table] = total
                }
                if !found.isEmpty { report.driftedKeys.append(key) }
            }
            report.tables = drift.values.sorted { $0.table < $1.table }
            if definition.batchRefresh != nil { report.refreshForms = try compareForms(scratch, keys: keys) }
        } catch {
            throw .from(error)
        }
        if repair && !report.driftedKeys.isEmpty && report.refreshForms?.agree != false {
            var repairOptions = options
            repairOptions.selectedJobs = [job]
            _ = try ProjectionRun(options: repairOptions, logger: logger, clock: clock).replay(
                keys: report.driftedKeys, from: nil)
            report.repaired = true
        }
        return report
    }
}
