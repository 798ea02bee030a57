import Journal
import Logging
import ProjectorCore
import SQLiteStore

/// Jobs that read other jobs' tables (`after:`) must never keep a result computed from upstream
/// rows that are behind or that a failed key left stale.
extension ProjectionRun {
    /// A refresh job whose checkpoint is ahead of one of its upstream jobs (a new upstream job, or
    /// an upstream that ran less far) computed some keys from upstream rows that were not yet
    /// there: it goes back to the upstream's position and refreshes those keys again (idempotent).
    /// An apply job cannot be re-applied: it is named so that the operator rebuilds it.
    func alignDependentJobs() {
        let positions = Dictionary(states.map { ($0.definition.name, $0.position) }, uniquingKeysWith: min)
        for state in states where !state.upstreams.isEmpty {
            let behind = state.upstreams.compactMap { name in positions[name].map { (name, $0) } }
                .filter { $0.1 < state.position }.sorted { $0.1 < $1.1 }
            guard let (upstream, position) = behind.first else { continue }
            switch state.definition.mode {
            case .refresh:
                logger.notice(
                    "an upstream job is behind this one: refreshing its keys again from the upstream's position",
                    metadata: [
                        "job": "\(state.definition.name)", "upstream": "\(upstream)", "from": "\(position)",
                        "was": "\(state.position)",
                    ])
                state.position = max(position, journal.start)
                state.report.fromPosition = state.position
                state.report.toPosition = state.position
            case .apply:
                logger.warning(
                    """
                    an upstream job is behind this apply job: events it applied may have read upstream rows \
                    that were not there yet; rebuild it once the upstream has caught up
                    """,
                    metadata: [
                        "job": "\(state.definition.name)", "upstream": "\(upstream)",
                        "upstream_position": "\(position)", "position": "\(state.position)",
                    ])
            }
        }
    }

    /// After a job has run over a batch: the batch's events whose key of this job is failing
    /// (rolled back, parked, or itself waiting), so that the jobs after it hold those events back.
    func markFailingEvents(of state: JobState, indices: [Int], batch: Batch, into taint: inout [Int32: [FailureKey]]) {
        let name = state.definition.name
        guard !failures.isEmpty, states.contains(where: { $0.upstreams.contains(name) }) else { return }
        for index in indices {
            let keyed = batch.keyed[index]
            let failure = FailureKey(job: state.definition.name, key: keyed.key)
            if failures[failure] != nil { taint[keyed.event, default: []].append(failure) }
        }
    }

    /// The upstream failures that a key must still wait for: those its events in this batch came
    /// from, and those it already waited for that are not cleared yet.
    func openWaits(_ state: JobState, key: String, new: Set<FailureKey>) -> Set<FailureKey> {
        var waits = new
        if let existing = failures[FailureKey(job: state.definition.name, key: key)]?.waitsFor {
            waits.formUnion(existing.filter { failures[$0] != nil })
        }
        return waits
    }

    /// The upstream failures among an event's marks that concern this job.
    func waits(of state: JobState, event: Int32, taint: [Int32: [FailureKey]]) -> [FailureKey] {
        guard let marks = taint[event] else { return [] }
        return marks.filter { state.upstreams.contains($0.job) }
    }

    /// Records that a key is held back behind upstream failures. It is not a failed attempt: the
    /// key is redone (refreshed, or its held events applied) once every upstream failure is cleared.
    func recordWait(
        _ state: JobState, key: String, first: Int, last: Int, waits: Set<FailureKey>
    ) throws(SQLiteError) {
        let now = clock.now()
        let failureKey = FailureKey(job: state.definition.name, key: key)
        let existing = failures[failureKey]
        var record =
            existing
            ?? FailureRecord(
                job: state.definition.name, key: key, state: state.definition.mode == .refresh ? .retrying : .parked,
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
                metadata: ["job": "\(state.definition.name)", "key": "\(key)", "error": "\(record.error)"])
        }
    }

    /// When keys of a job failed, names objects of its tables that its `@setup` no longer creates
    /// (a trigger or CHECK removed from the file stays in the database and fails keys for ever).
    func warnAboutSetupDrift() {
        for state in states where state.report.failures > 0 {
            for finding in SetupDrift.findings(for: state.definition, in: db) {
                logger.warning(
                    "\(finding.message)", metadata: ["job": "\(finding.job)", "file": "\(finding.file)"])
            }
        }
    }

    /// Whether a failure still waits for an upstream failure that is not cleared.
    func isWaiting(_ failure: FailureRecord) -> Bool {
        failure.waitsFor.contains { failures[$0] != nil }
    }
}
