import Foundation
import Logging
import ProjectorCore

/// A transaction the database rolled back for a concurrent one's sake (PostgreSQL's serialization
/// failure 40001 or deadlock 40P01, say with a job's statement and an API's transaction locking the
/// same rows in opposite orders) is done again, whole, after a short randomised pause: the loser
/// of a deadlock usually wins the second time. What the session counted in memory while the
/// rolled-back attempt ran (positions, reports, the failure ledger) is put back first, so nothing
/// is counted twice. After `attempts` the conflict is the run's failure (busy, exit 75).
enum ConflictRetry {
    /// How many times one transaction is tried before the conflict ends the run.
    static let attempts = 8

    /// Runs `body`; when the database rolled it back for a concurrent transaction, calls
    /// `rolledBack` (to put back what the attempt counted), pauses and runs it again.
    static func run<T>(
        _ what: String, logger: Logger, rolledBack: () -> Void, _ body: () throws(RunError) -> T
    ) throws(RunError) -> T {
        var attempt = 1
        while true {
            do throws(RunError) {
                return try body()
            } catch {
                guard case .databaseBusy(let failure) = error, failure.isTransactionConflict, attempt < attempts
                else { throw error }
                rolledBack()
                let pause = Self.pause(afterAttempt: attempt, unit: Double.random(in: 0..<1))
                logger.warning(
                    "\(what) rolled back by the database for a concurrent transaction; doing it again",
                    metadata: [
                        "error": "\(failure.code): \(failure.message)", "attempt": "\(attempt)",
                        "pause_ms": "\(Int(pause * 1000))",
                    ])
                usleep(UInt32(pause * 1_000_000))
                attempt += 1
            }
        }
    }

    /// The pause before attempt `attempt + 1`: 20 ms doubling each time, at most 1 s, times a
    /// random factor in [0.5, 1) (`unit` in [0, 1)) so that two losers do not meet again.
    static func pause(afterAttempt attempt: Int, unit: Double) -> Double {
        min(1.0, 0.02 * Double(1 << min(attempt - 1, 10))) * (0.5 + unit / 2)
    }
}

extension Session {
    func retryingConflicts<T>(_ what: String, _ body: () throws(RunError) -> T) throws(RunError) -> T {
        let saved = save()
        return try ConflictRetry.run(
            what, logger: logger,
            rolledBack: {
                restore(saved)
                report.conflictRetries += 1
            }, body)
    }

    /// The session's counts and positions, as a retried transaction puts them back.
    struct Saved {
        let report: RunReport
        let jobs: [(position: Int, report: JobReport, fingerprint: String)]
        let ledger: FailureLedger.Saved
    }

    func save() -> Saved {
        Saved(
            report: report, jobs: jobs.map { ($0.position, $0.report, $0.checkpointFingerprint) },
            ledger: ledger.save())
    }

    func restore(_ saved: Saved) {
        let retries = report.conflictRetries
        report = saved.report
        report.conflictRetries = retries
        for (state, job) in zip(jobs, saved.jobs) {
            state.position = job.position
            state.report = job.report
            state.checkpointFingerprint = job.fingerprint
        }
        ledger.restore(saved.ledger)
    }
}
