import Journal
import Logging
import ProjectorCore

/// Applies one batch in one transaction: its rejects, de-duplication, every job's keys and every
/// job's checkpoint, so that a batch is committed whole or not at all (SPEC §4).
struct BatchApplier {
    let session: Session
    private var jobs: [JobState] { session.jobs }
    private var execution: KeyExecution { KeyExecution(store: session.store, ledger: session.ledger) }

    init(session: Session) {
        self.session = session
    }

    /// Applies `batch`, doing it again whole when the database rolls it back for a concurrent
    /// transaction (`retryingConflicts`).
    func apply(_ batch: Batch) throws(RunError) {
        try session.retryingConflicts("batch") { () throws(RunError) in try applyOnce(batch) }
    }

    private func applyOnce(_ batch: Batch) throws(RunError) {
        let started = Monotonic.now()
        let anchor = try session.journalCall { () throws(JournalError) in try session.journal.anchor(at: batch.end) }
        var work = 0.0
        var grouping = 0.0
        try session.transaction { () throws(StoreError) in
            let begun = Monotonic.now()
            grouping = try process(batch, anchor: anchor)
            work = Monotonic.now() - begun
        }
        let elapsed = Monotonic.now() - started
        session.report.timings.group += grouping
        session.report.timings.sql += work - grouping
        session.report.timings.commit += elapsed - work
        session.report.batches += 1
        session.report.events += batch.events.count
        session.logger.debug(
            "batch committed",
            metadata: ["events": "\(batch.events.count)", "to": "\(batch.end)", "ms": "\(Int(elapsed * 1000))"])
    }

    /// Everything a batch writes, inside its transaction. Returns the seconds spent grouping.
    private func process(_ batch: Batch, anchor: CursorAnchor) throws(StoreError) -> Double {
        try recordRejects(batch)
        let active = jobs.indices.filter { jobs[$0].position < batch.end }
        let duplicates = try findDuplicates(batch, active: active)
        var groupStart = Monotonic.now()
        var perJob = [[Int]](repeating: [], count: jobs.count)
        for (index, keyed) in batch.keyed.enumerated() { perJob[Int(keyed.job)].append(index) }
        var grouping = Monotonic.now() - groupStart
        var taint = Taint()
        let now = session.clock.now()
        for job in active {
            let state = jobs[job]
            let position = state.position
            let failuresBefore = state.report.failures
            let duplicatesBefore = state.report.duplicates
            groupStart = Monotonic.now()
            let mine = perJob[job].filter { batch.events[Int(batch.keyed[$0].event)].position >= position }
            var worked: [String] = []
            switch state.definition.mode {
            case .refresh:
                let keys = refreshKeys(of: state, mine, batch: batch, taint: taint)
                grouping += Monotonic.now() - groupStart
                worked = try refresh(state, keys)
            case .apply:
                let groups = applyGroups(of: state, mine, batch: batch, duplicates: duplicates)
                grouping += Monotonic.now() - groupStart
                worked = try apply(state, groups, batch: batch, taint: taint)
            }
            if !session.ledger.isEmpty, jobs.contains(where: { $0.upstreams.contains(state.name) }) {
                taint.mark(state, indices: mine, batch: batch, ledger: session.ledger)
            }
            // Counted: the events this job matched (not every line read), and the keys it did work for.
            let matched = Self.distinctEvents(mine, in: batch)
            state.report.events += matched
            try session.store.saveCheckpoint(
                job: state.name, anchor: anchor, fingerprint: state.checkpointFingerprint,
                eventsAdded: matched - (state.report.duplicates - duplicatesBefore), now: now)
            if let work = state.work(
                from: max(position, batch.start), to: batch.end, events: matched, keys: worked,
                failures: state.report.failures - failuresBefore)
            {
                try session.store.accumulate(work)
            }
            state.position = batch.end
            state.report.toPosition = batch.end
        }
        return grouping
    }

    /// A reject is reported once: a line re-read for a new or lagging job was counted before.
    private func recordRejects(_ batch: Batch) throws(StoreError) {
        let jobRejects = batch.jobRejects.filter { $0.reject.position >= jobs[$0.job].position }
        let all = batch.rejects + jobRejects.map(\.reject)
        guard !all.isEmpty else { return }
        let new = try session.store.recordRejects(all, runID: session.runID, now: session.clock.now())
        for (index, reject) in all.enumerated() where new[index] {
            session.report.rejects += 1
            if index < batch.rejects.count {
                session.logger.warning(
                    "line rejected", metadata: ["position": "\(reject.position)", "reason": "\(reject.reason)"])
            } else {
                jobs[jobRejects[index - batch.rejects.count].job].report.rejects += 1
                session.logger.warning(
                    "event rejected by job", metadata: ["position": "\(reject.position)", "reason": "\(reject.reason)"])
            }
        }
    }

    /// A refresh job's keys in the batch, each with the positions of its first and last event and
    /// the upstream failures it waits for.
    private struct RefreshKey {
        var key: String
        var first: Int
        var last: Int
        var waits: Set<FailureKey>
    }

    private func refreshKeys(of state: JobState, _ mine: [Int], batch: Batch, taint: Taint) -> [RefreshKey] {
        var keys: [RefreshKey] = []
        for run in Self.keyRuns(mine, in: batch) {
            let first = batch.events[Int(batch.keyed[run.entries[run.entries.startIndex]].event)].position
            let last = batch.events[Int(batch.keyed[run.entries[run.entries.endIndex - 1]].event)].position
            var key = RefreshKey(key: run.key, first: first, last: last, waits: [])
            if !taint.isEmpty {
                for index in run.entries {
                    key.waits.formUnion(taint.waits(of: state, event: batch.keyed[index].event))
                }
            }
            keys.append(key)
        }
        return keys
    }

    /// Refreshes each key once, all together in one savepoint while none fails (`KeyExecution`);
    /// a key waiting for an upstream failure waits on. Returns the keys refreshed.
    private func refresh(_ state: JobState, _ keys: [RefreshKey]) throws(StoreError) -> [String] {
        var ready: [KeyExecution.RefreshRange] = []
        ready.reserveCapacity(keys.count)
        for entry in keys {
            let open =
                session.ledger.isEmpty ? [] : session.ledger.openWaits(state, key: entry.key, new: entry.waits)
            if !open.isEmpty {
                try session.ledger.recordWait(state, key: entry.key, first: entry.first, last: entry.last, waits: open)
                continue
            }
            ready.append(KeyExecution.RefreshRange(key: entry.key, first: entry.first, last: entry.last))
        }
        return try execution.refresh(state, ready)
    }

    /// Applies each key's events: keys that are failing (their events are held) or wait for an
    /// upstream failure one by one, the others all together in one savepoint while none fails
    /// (`KeyExecution`). Returns the keys whose events were applied, in key order.
    private func apply(
        _ state: JobState, _ groups: [(key: String, events: [Int32])], batch: Batch, taint: Taint
    ) throws(StoreError) -> [String] {
        var worked: [String] = []
        var clean: [(key: String, events: [Int32])] = []
        clean.reserveCapacity(groups.count)
        for (key, events) in groups {
            let alone =
                (!session.ledger.isEmpty && session.ledger[FailureKey(job: state.name, key: key)] != nil)
                || (!taint.isEmpty && events.contains { !taint.waits(of: state, event: $0).isEmpty })
            if !alone {
                clean.append((key, events))
            } else if try execution.apply(state, key: key, events: events, batch: batch, taint: taint) {
                worked.append(key)
            }
        }
        let applied = try execution.apply(state, clean, batch: batch)
        guard !worked.isEmpty else { return applied }
        let rank = Dictionary(groups.enumerated().map { ($1.key, $0) }, uniquingKeysWith: min)
        return (worked + applied).sorted { (rank[$0] ?? 0) < (rank[$1] ?? 0) }
    }

    /// An apply job's events in the batch grouped by key (keys in order), duplicates left out.
    private func applyGroups(
        of state: JobState, _ mine: [Int], batch: Batch, duplicates: Set<Int32>
    ) -> [(key: String, events: [Int32])] {
        var groups: [(key: String, events: [Int32])] = []
        for run in Self.keyRuns(mine, in: batch) {
            var events: [Int32] = []
            events.reserveCapacity(run.entries.count)
            for index in run.entries {
                let event = batch.keyed[index].event
                if !duplicates.isEmpty, duplicates.contains(event) {
                    state.report.duplicates += 1
                    continue
                }
                events.append(event)
            }
            if !events.isEmpty { groups.append((run.key, events)) }
        }
        return groups
    }

    /// The keyed entries `indices` (in batch order) as runs of one key each, keys in `KeyOrder`,
    /// each key's entries in journal order. One sort, where a dictionary would hash every
    /// event's key and then the keys would be sorted.
    static func keyRuns(_ indices: [Int], in batch: Batch) -> [(key: String, entries: ArraySlice<Int>)] {
        let numbers = indices.map { KeyOrder.canonicalInteger(batch.keyed[$0].key) }
        var order = Array(indices.indices)
        order.sort { a, b in
            let left = (number: numbers[a], key: batch.keyed[indices[a]].key)
            let right = (number: numbers[b], key: batch.keyed[indices[b]].key)
            // Entries of one key keep their journal order.
            return KeyOrder.precedes(left, right) || (!KeyOrder.precedes(right, left) && a < b)
        }
        let sorted = order.map { indices[$0] }
        var runs: [(key: String, entries: ArraySlice<Int>)] = []
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count,
                numbers[order[end]] == numbers[order[start]],
                numbers[order[start]] != nil || batch.keyed[sorted[end]].key == batch.keyed[sorted[start]].key
            {
                end += 1
            }
            runs.append((batch.keyed[sorted[start]].key, sorted[start..<end]))
            start = end
        }
        return runs
    }

    /// Events whose `id` appeared at an earlier position, within the duplicate window: apply jobs
    /// skip them (SPEC §3). Only the events an apply job handles (matched and keyed for an active
    /// apply job at or past its checkpoint) are recorded and looked up.
    private func findDuplicates(_ batch: Batch, active: [Int]) throws(StoreError) -> Set<Int32> {
        var applyFrom = [Int?](repeating: nil, count: jobs.count)
        for job in active where jobs[job].definition.mode == .apply { applyFrom[job] = jobs[job].position }
        guard applyFrom.contains(where: { $0 != nil }) else { return [] }
        var handled = [Bool](repeating: false, count: batch.events.count)
        for keyed in batch.keyed {
            guard let from = applyFrom[Int(keyed.job)], batch.events[Int(keyed.event)].position >= from else {
                continue
            }
            handled[Int(keyed.event)] = true
        }
        let hash = session.options.eventIDHash ?? { Fingerprint.fnv1a($0) }
        var ids = EventIDList()
        ids.end = batch.end
        var indices: [Int32] = []
        for (index, event) in batch.events.enumerated() where handled[index] {
            if let seconds = batch.occurredAt(of: event) { ids.noteOccurred(at: seconds) }
            guard let span = event.fields.id, event.fields.idKind != .null else { continue }
            batch.appendID(of: event, span: span, to: &ids, hash: hash)
            indices.append(Int32(index))
        }
        guard !ids.isEmpty else { return [] }
        let first = try session.store.firstPositions(of: ids, window: session.options.duplicateWindow)
        var duplicates: Set<Int32> = []
        for (k, index) in indices.enumerated() where first[k] < ids.positions[k] {
            // The same hash: a duplicate only when the ids are the same (else both are applied).
            guard let earlier = batch.id(at: first[k]) ?? journalID(at: first[k]),
                earlier.elementsEqual(ids.id(k))
            else {
                session.logger.debug(
                    "event id hash shared by another id", metadata: ["position": "\(ids.positions[k])"])
                continue
            }
            duplicates.insert(index)
        }
        return duplicates
    }

    /// The id of the event whose line starts at `position` in the journal (nil when that line is
    /// no longer there or has no id).
    private func journalID(at position: Int) -> [UInt8]? {
        guard let segment = session.journal.segment(containing: position) else { return nil }
        var length = 4096
        while true {
            let end = min(position + length, segment.end)
            guard let bytes = try? session.journal.read(from: position, to: end) else { return nil }
            if let newline = bytes.firstIndex(of: 0x0A) {
                guard case .success(let line) = EventScanner(maxDepth: session.options.maxDepth).scan(bytes[..<newline])
                else { return nil }
                return line.text(\.id).map { Array($0.utf8) }
            }
            guard end < segment.end, length < session.options.maxLineBytes * 2 else { return nil }
            length *= 2
        }
    }

    /// How many events the keyed entries `indices` (in batch order) come from: an event keyed
    /// twice for one job counts once.
    static func distinctEvents(_ indices: [Int], in batch: Batch) -> Int {
        var count = 0
        var last: Int32 = -1
        for index in indices where batch.keyed[index].event != last {
            count += 1
            last = batch.keyed[index].event
        }
        return count
    }
}
