import Logging
import PostgresStore
import ProjectorCore
import Webhooks

/// One transaction of a segmented run: lock this runner's segments that are free, read the
/// window of events past the lowest of their checkpoints, apply each job's events of each locked
/// segment past that segment's checkpoint (in reading order; per-aggregate versions in order),
/// move the checkpoints, commit.
///
/// A key whose SQL fails stops its segment just before the event (rolled back to its savepoint):
/// the segment's checkpoint stays there, the failure is on the segment's row, and the segment is
/// tried again after a backoff, while the job's other segments go on. Nothing is skipped, and
/// nothing is applied twice, since every event before a segment's checkpoint was applied with it.
final class SegmentedBatch {
    let store: PGStore
    let table: PGEventsTable
    let jobs: [JobState]
    let runner: String
    let runID: Int
    let retry: RetryPolicy
    let logger: Logger
    private var builder: BatchBuilder
    private let batch = Batch(capacity: 1 << 20)
    private let heldBatch = Batch(capacity: 1 << 16)
    /// Per job: whether its events obey per-aggregate versions (keyed by `aggregateId` only).
    private let versioned: [Bool]
    private let jobIndex: [String: Int]

    struct Outcome {
        var rows = 0
        /// Segments this runner committed on for the first time, without events to apply.
        var takenOver = 0
        /// Segments whose checkpoint (or failure) this batch moved.
        var moved = 0
        /// The `seq` of the last row read.
        var lastSeq = 0
        var notifications = 0
        var events = 0
        var eventsPerJob: [Int]
        var rejects = 0
        var failures = 0
        var conflicts = 0
    }

    init(
        store: PGStore, table: PGEventsTable, jobs: [JobState], runner: String, runID: Int, retry: RetryPolicy,
        maxDepth: Int, logger: Logger
    ) {
        self.store = store
        self.table = table
        self.jobs = jobs
        self.runner = runner
        self.runID = runID
        self.retry = retry
        self.logger = logger
        builder = BatchBuilder(jobs: jobs.map(\.definition), maxDepth: maxDepth)
        versioned = jobs.map { job in
            job.definition.mode == .apply && job.definition.subscriptions.allSatisfy { $0.key == .aggregateId }
        }
        jobIndex = Dictionary(jobs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// One transaction over the free segments of `units`, done again whole when the server rolls
    /// it back for a concurrent one.
    func run(_ units: [(job: String, segment: Int)], windowRows: Int = 5_000) throws(RunError) -> Outcome {
        var conflicts = 0
        var outcome = try ConflictRetry.run("batch", logger: logger, rolledBack: { conflicts += 1 }) {
            () throws(RunError) -> Outcome in
            do throws(StoreError) {
                return try store.transaction { () throws(StoreError) in
                    try process(units, windowRows: windowRows)
                }
            } catch {
                throw .from(error)
            }
        }
        outcome.conflicts = conflicts
        return outcome
    }

    /// A locked segment and what its transaction does to it.
    private struct Unit {
        var locked: PGStore.LockedSegment
        var job: Int
        /// Indexes into `batch.keyed` of its events past its checkpoint, in reading order.
        var entries: [Int] = []
        /// How many of `entries` were done (all unless the segment stopped at a failing key).
        var done = 0
        var stoppedAt: EventsTablePosition?
        var error: String?
        var events = 0
    }

    private func process(_ wanted: [(job: String, segment: Int)], windowRows: Int) throws(StoreError) -> Outcome {
        var outcome = Outcome(eventsPerJob: Array(repeating: 0, count: jobs.count))
        let locked = try store.lockSegments(wanted)
        // A segment of a job after others that is already at what they allow (their lowest
        // checkpoint, or just before an event of theirs held for an earlier version) has nothing
        // to do now: it sits this batch out, so that it does not pin the window's start while
        // the segments it waits for need the rows after it.
        var caps: [String: EventsTablePosition?] = [:]
        for job in jobs where !job.upstreams.isEmpty {
            caps[job.name] = try store.lowestPosition(of: Array(job.upstreams))
        }
        let active = locked.filter { segment in
            guard let cap = caps[segment.job] else { return true }
            return cap.map { $0 > segment.position } ?? true
        }
        guard let from = (active.isEmpty ? locked : active).map(\.position).min() else { return outcome }
        let rows = try store.readWindow(table, from: from, limit: windowRows)
        guard let windowEnd = rows.last?.position else {
            // Nothing to read (or the horizon is held back): still take over, at once and
            // visibly, the segments another runner committed on last.
            let taken = locked.filter { $0.owner != runner && $0.attempts == 0 }
            try store.advanceSegments(
                taken.map {
                    PGStore.SegmentAdvance(
                        job: $0.job, segment: $0.segment, position: $0.position, events: 0, error: nil, retryIn: nil)
                }, runner: runner)
            outcome.takenOver = taken.count
            return outcome
        }
        outcome.rows = rows.count
        outcome.lastSeq = windowEnd.seq

        // The rows as a batch: scanned, rejected or routed and keyed, as journal lines are.
        batch.reset(at: 0)
        var eventRow: [Int] = []
        for (index, row) in rows.enumerated() {
            var line = row.line
            let before = batch.events.count
            line.withUTF8 { bytes in
                builder.add(row: UnsafeRawBufferPointer(bytes), position: row.position.seq, to: batch)
            }
            if batch.events.count > before { eventRow.append(index) }
        }
        outcome.rejects = try recordRejects()

        // Each locked segment's events past its checkpoint, and the cap of jobs that come after others.
        var units: [Unit] = []
        var unitIndex: [Int: Int] = [:]
        for segment in active {
            guard let job = jobIndex[segment.job] else { continue }
            unitIndex[job * PGStore.segmentCount + segment.segment] = units.count
            units.append(Unit(locked: segment, job: job))
        }
        var perUnit: [[Int]] = Array(repeating: [], count: units.count)
        for (index, keyed) in batch.keyed.enumerated() {
            let job = Int(keyed.job)
            guard
                let unit = unitIndex[job * PGStore.segmentCount + SegmentPlacement.segment(of: keyed.key)]
            else { continue }
            if rows[eventRow[Int(keyed.event)]].position <= units[unit].locked.position { continue }
            perUnit[unit].append(index)
        }

        // Jobs in dependency order; each job's segments optimistically in one savepoint, then
        // moved at once, so that a job after it is capped by where this transaction took it (the
        // rows of other runners' segments as they committed them).
        for job in jobs.indices {
            let mine = units.indices.filter { units[$0].job == job }
            guard !mine.isEmpty else { continue }
            let cap = jobs[job].upstreams.isEmpty ? nil : try store.lowestPosition(of: Array(jobs[job].upstreams))
            for unit in mine {
                units[unit].entries = perUnit[unit].filter { entry in
                    cap.map { rows[eventRow[Int(batch.keyed[entry].event)]].position <= $0 } ?? true
                }
            }
            try apply(job: job, units: &units, indexes: mine, rows: rows, eventRow: eventRow)
            var advances: [PGStore.SegmentAdvance] = []
            for unit in mine.map({ units[$0] }) {
                var position = unit.stoppedAt ?? windowEnd
                if let cap, unit.stoppedAt == nil { position = min(position, max(cap, unit.locked.position)) }
                position = max(position, unit.locked.position)
                guard
                    position != unit.locked.position || unit.error != nil || unit.locked.attempts > 0
                        || unit.locked.owner != runner
                else { continue }
                advances.append(
                    PGStore.SegmentAdvance(
                        job: unit.locked.job, segment: unit.locked.segment, position: position, events: unit.events,
                        error: unit.error,
                        retryIn: unit.error == nil ? nil : retry.delay(afterAttempt: unit.locked.attempts + 1)))
                outcome.events += unit.events
                outcome.eventsPerJob[unit.job] += unit.events
                if unit.error != nil { outcome.failures += 1 }
            }
            try store.advanceSegments(advances, runner: runner)
            outcome.moved += advances.count
        }
        outcome.notifications = try notify(units, from: from, to: windowEnd)
        return outcome
    }

    /// Queues, in the batch's transaction, one notification per endpoint of each job that did
    /// work here (its keys, events and failing segments): committed with the work it reports, so
    /// none is lost and none reports work rolled back. Positions are the events table's `seq`.
    private func notify(_ units: [Unit], from: EventsTablePosition, to: EventsTablePosition) throws(StoreError)
        -> Int
    {
        guard jobs.contains(where: { !$0.endpoints.isEmpty }) else { return 0 }
        var disabled: Set<String>?
        var written = 0
        for (index, job) in jobs.enumerated() where !job.endpoints.isEmpty {
            let mine = units.filter { $0.job == index }
            let keys = distinctKeys(mine.flatMap { $0.entries.prefix($0.done) })
            let failures = mine.filter { $0.error != nil }.count
            guard !keys.isEmpty || failures > 0 else { continue }
            let now = SystemClock().now()
            let notification = Notification(
                job: job.name, runID: runID, fromPosition: from.seq, toPosition: to.seq,
                events: mine.reduce(0) { $0 + $1.events }, keys: Array(keys.prefix(Notification.keysCap)),
                keysTotal: keys.count, failures: failures, timestamp: now)
            let body = notification.body
            let id = Notification.newID()
            if disabled == nil { disabled = try store.disabledEndpoints() }
            for endpoint in job.endpoints {
                try store.enqueue(
                    messageID: id, endpoint: endpoint, job: job.name, runID: runID, body: body, now: now,
                    state: disabled?.contains(endpoint) == true ? .disabled : .pending)
                written += 1
            }
        }
        return written
    }

    private func recordRejects() throws(StoreError) -> Int {
        let all = batch.rejects + batch.jobRejects.map(\.reject)
        guard !all.isEmpty else { return 0 }
        let new = try store.recordRejects(all, runID: runID, now: SystemClock().now())
        for (reject, isNew) in zip(all, new) where isNew {
            logger.warning("event rejected", metadata: ["seq": "\(reject.position)", "reason": "\(reject.reason)"])
        }
        return new.filter { $0 }.count
    }

    // MARK: Applying a job's segments

    /// Per-aggregate versions of a job's keys in this transaction: the last applied, and the
    /// events held for a later version.
    private struct Versions {
        var last: [String: Int] = [:]
        var held: [String: [PGStore.HeldVersion]] = [:]
        var changed: Set<String> = []
    }

    private func apply(
        job index: Int, units: inout [Unit], indexes: [Int], rows: [PGStore.EventRow], eventRow: [Int]
    ) throws(StoreError) {
        let job = jobs[index]
        var versions = Versions()
        if versioned[index] {
            let keys = Set(indexes.flatMap { units[$0].entries.map { batch.keyed[$0].key } })
            let pairs = keys.map { (job: job.name, key: $0) }
            versions.last = try store.appliedVersions(pairs)[job.name] ?? [:]
            for held in try store.heldVersions(pairs) { versions.held[held.key, default: []].append(held) }
        }
        let saved = versions
        // Optimistic: every segment of the job in one savepoint.
        do throws(StoreError) {
            try store.pipelinedSavepoint { () throws(StoreError) in
                for unit in indexes {
                    try perform(job: index, entries: units[unit].entries, rows: rows, eventRow: eventRow, &versions)
                }
            }
            for unit in indexes {
                units[unit].events = distinctEvents(units[unit].entries)
                units[unit].done = units[unit].entries.count
            }
        } catch  where error.isKeyLocal {
            versions = saved
            for unit in indexes {
                try applyOneByOne(job: index, unit: &units[unit], rows: rows, eventRow: eventRow, &versions)
            }
        }
        for key in versions.changed.sorted() {
            if let last = versions.last[key] { try store.saveVersion(job: job.name, key: key, version: last) }
        }
    }

    /// A segment whose job's savepoint failed: each event (each key for a refresh job) in its own
    /// savepoint, stopping the segment at the first that fails.
    private func applyOneByOne(
        job index: Int, unit: inout Unit, rows: [PGStore.EventRow], eventRow: [Int], _ versions: inout Versions
    ) throws(StoreError) {
        let job = jobs[index]
        let steps: [[Int]]
        if job.definition.mode == .refresh {
            // Keys in the order of their first event.
            var seen: [String: Int] = [:]
            var grouped: [[Int]] = []
            for entry in unit.entries {
                let key = batch.keyed[entry].key
                if let at = seen[key] {
                    grouped[at].append(entry)
                } else {
                    seen[key] = grouped.count
                    grouped.append([entry])
                }
            }
            steps = grouped
        } else {
            steps = unit.entries.map { [$0] }
        }
        var done: [Int] = []
        for step in steps {
            let saved = versions
            do throws(StoreError) {
                try store.savepoint { () throws(StoreError) in
                    try perform(job: index, entries: step, rows: rows, eventRow: eventRow, &versions)
                }
                done += step
            } catch  where error.isKeyLocal {
                versions = saved
                // The segment stops just before the first event not done.
                let first = step.min() ?? step[0]
                let before = unit.entries.filter { $0 < first }.last
                unit.stoppedAt =
                    before.map { rows[eventRow[Int(batch.keyed[$0].event)]].position } ?? unit.locked.position
                unit.error = error.description
                unit.events = distinctEvents(done.filter { $0 < first })
                unit.done = unit.entries.filter { $0 < first }.count
                logger.error(
                    "key failed; its segment waits",
                    metadata: [
                        "job": "\(job.name)", "key": "\(batch.keyed[first].key)", "segment": "\(unit.locked.segment)",
                        "error": "\(error.description)",
                    ])
                return
            }
        }
        unit.events = distinctEvents(unit.entries)
        unit.done = unit.entries.count
    }

    /// The keys of `entries` (indexes into `batch.keyed`), each once, in the order of their first.
    private func distinctKeys(_ entries: [Int]) -> [String] {
        var seen = Set<String>()
        return entries.map { batch.keyed[$0].key }.filter { seen.insert($0).inserted }
    }

    private func distinctEvents(_ entries: [Int]) -> Int {
        var count = 0
        var last: Int32 = -1
        for entry in entries where batch.keyed[entry].event != last {
            count += 1
            last = batch.keyed[entry].event
        }
        return count
    }

    /// Runs the job's SQL for `entries` (keyed events of one segment, in reading order): a refresh
    /// job refreshes each key once; an apply job applies each event, holding one whose version
    /// comes too early and applying the held ones whose turn came.
    private func perform(
        job index: Int, entries: [Int], rows: [PGStore.EventRow], eventRow: [Int], _ versions: inout Versions
    ) throws(StoreError) {
        let job = jobs[index]
        if job.definition.mode == .refresh {
            let keys = distinctKeys(entries)
            try job.compiled.refresh(keys: keys)
            job.report.executions += keys.count
            return
        }
        for entry in entries {
            let keyed = batch.keyed[entry]
            let row = rows[eventRow[Int(keyed.event)]]
            guard versioned[index], let version = row.version else {
                try job.compiled.apply(batch.eventLine(Int(keyed.event)), key: keyed.key)
                job.report.executions += 1
                continue
            }
            let last = versions.last[keyed.key] ?? 0
            if version <= last { continue }  // applied already (held, then its turn came)
            if version > last + 1 {
                let held = PGStore.HeldVersion(
                    job: job.name, key: keyed.key, version: version, position: row.position, line: row.line)
                try store.hold(held)
                versions.held[keyed.key, default: []].append(held)
                continue
            }
            try job.compiled.apply(batch.eventLine(Int(keyed.event)), key: keyed.key)
            job.report.executions += 1
            versions.last[keyed.key] = version
            versions.changed.insert(keyed.key)
            try applyHeld(job: job, key: keyed.key, &versions)
        }
    }

    /// Applies the events held for `key` whose version now comes next.
    private func applyHeld(job: JobState, key: String, _ versions: inout Versions) throws(StoreError) {
        guard var held = versions.held[key], !held.isEmpty else { return }
        held.sort { $0.version < $1.version }
        heldBatch.reset(at: 0)
        while let next = held.first, next.version <= (versions.last[key] ?? 0) + 1 {
            held.removeFirst()
            guard next.version == (versions.last[key] ?? 0) + 1 else { continue }
            var line = next.line
            let before = heldBatch.events.count
            line.withUTF8 { bytes in
                builder.add(row: UnsafeRawBufferPointer(bytes), position: next.seq, to: heldBatch)
            }
            guard heldBatch.events.count > before else { continue }
            try job.compiled.apply(heldBatch.eventLine(before), key: key)
            job.report.executions += 1
            versions.last[key] = next.version
        }
        versions.held[key] = held
    }
}
