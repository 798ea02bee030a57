import Logging
import ProjectorCore

/// The open failures of the session's jobs, in memory and in the store: keys whose SQL failed
/// (retrying, parked, dead) and keys held back behind an upstream key that failed (`after:`).
final class FailureLedger {
    private(set) var failures: [FailureKey: FailureRecord]
    let store: any ProjectionStore
    let retry: RetryPolicy
    let clock: any WallClock
    /// The session's logger (with the run's `run_id` once the run is recorded).
    var logger: Logger
    /// Failed attempts recorded, and failures cleared, by this session.
    private(set) var failedAttempts = 0
    private(set) var recovered = 0

    init(
        failures: [FailureKey: FailureRecord], store: any ProjectionStore, retry: RetryPolicy, clock: any WallClock,
        logger: Logger
    ) {
        self.failures = failures
        self.store = store
        self.retry = retry
        self.clock = clock
        self.logger = logger
    }

    var isEmpty: Bool { failures.isEmpty }

    /// What the ledger holds in memory, to put back when the transaction that changed it is
    /// rolled back and done again (`restore`).
    struct Saved {
        fileprivate let failures: [FailureKey: FailureRecord]
        fileprivate let failedAttempts: Int
        fileprivate let recovered: Int
    }

    func save() -> Saved { Saved(failures: failures, failedAttempts: failedAttempts, recovered: recovered) }

    func restore(_ saved: Saved) {
        failures = saved.failures
        failedAttempts = saved.failedAttempts
        recovered = saved.recovered
    }

    subscript(_ key: FailureKey) -> FailureRecord? { failures[key] }

    /// Records a failed attempt of a key's own SQL: it backs off (or is dead when out of
    /// attempts), and waits only for upstream failures still open.
    func recordFailure(_ state: JobState, key: String, first: Int, last: Int, error: StoreError) throws(StoreError) {
        let now = clock.now()
        let failureKey = FailureKey(job: state.name, key: key)
        var record =
            failures[failureKey]
            ?? FailureRecord(
                job: state.name, key: key, state: .retrying, attempts: 0, firstPosition: first, lastPosition: last,
                error: "", nextAttemptAt: now
            )
        record.attempts += 1
        record.waitsFor = record.waitsFor.filter { failures[$0] != nil }
        record.lastPosition = max(record.lastPosition, last)
        record.firstPosition = state.definition.mode == .apply ? first : min(record.firstPosition, first)
        record.error = error.description
        if retry.isDead(attempts: record.attempts) {
            record.state = .dead
        } else {
            record.state = state.definition.mode == .refresh ? .retrying : .parked
        }
        record.nextAttemptAt = now + retry.delay(afterAttempt: record.attempts)
        try store.saveFailure(record, mode: state.definition.mode, now: now)
        failures[failureKey] = record
        failedAttempts += 1
        state.report.failures += 1
        logger.error(
            "key failed",
            metadata: [
                "job": "\(record.job)", "key": "\(key)", "attempts": "\(record.attempts)",
                "state": "\(record.state.rawValue)", "error": "\(error.message)",
            ]
        )
    }

    /// Records that a key is held back behind upstream failures. It is not a failed attempt: the
    /// key is redone (refreshed, or its held events applied) once every upstream failure is cleared.
    func recordWait(_ state: JobState, key: String, first: Int, last: Int, waits: Set<FailureKey>) throws(StoreError) {
        let now = clock.now()
        let failureKey = FailureKey(job: state.name, key: key)
        let existing = failures[failureKey]
        var record =
            existing
            ?? FailureRecord(
                job: state.name, key: key, state: state.definition.mode == .refresh ? .retrying : .parked,
                attempts: 0, firstPosition: first, lastPosition: last, error: "", nextAttemptAt: now)
        record.firstPosition = min(record.firstPosition, first)
        record.lastPosition = max(record.lastPosition, last)
        record.waitsFor.formUnion(waits)
        if record.attempts == 0 {
            let names = record.waitsFor.sorted { ($0.job, $0.key) < ($1.job, $1.key) }
                .map { "\($0.job) key \($0.key)" }
            record.error = "waits for upstream " + names.joined(separator: ", ") + ", which failed"
        }
        try store.saveFailure(record, mode: state.definition.mode, now: now)
        failures[failureKey] = record
        state.report.waiting += 1
        if existing == nil {
            logger.warning(
                "key held back: an upstream key it reads failed",
                metadata: ["job": "\(state.name)", "key": "\(key)", "error": "\(record.error)"])
        }
    }

    /// Forgets a key's failure: its SQL succeeded.
    func clear(_ failureKey: FailureKey) throws(StoreError) {
        try store.clearFailure(failureKey)
        failures[failureKey] = nil
        recovered += 1
        logger.info("failure recovered", metadata: ["job": "\(failureKey.job)", "key": "\(failureKey.key)"])
    }

    /// Whether a failure still waits for an upstream failure that is not cleared.
    func isWaiting(_ failure: FailureRecord) -> Bool {
        failure.waitsFor.contains { failures[$0] != nil }
    }

    /// The upstream failures that a key must still wait for: those its events in this batch came
    /// from, and those it already waited for that are not cleared yet.
    func openWaits(_ state: JobState, key: String, new: Set<FailureKey>) -> Set<FailureKey> {
        var waits = new
        if let existing = failures[FailureKey(job: state.name, key: key)]?.waitsFor {
            waits.formUnion(existing.filter { failures[$0] != nil })
        }
        return waits
    }

    /// Failures due for another attempt, in job order then key order: every one whose backoff
    /// has passed, or (`onlyWaiting`) only keys that waited for an upstream failure.
    func due(order: [String: Int], onlyWaiting: Bool) -> [FailureRecord] {
        let now = clock.now()
        return failures.values.filter {
            $0.state != .dead && (!$0.waitsFor.isEmpty || (!onlyWaiting && $0.nextAttemptAt <= now))
        }
        .sorted { (order[$0.job] ?? 0, $0.key) < (order[$1.job] ?? 0, $1.key) }
    }
}
