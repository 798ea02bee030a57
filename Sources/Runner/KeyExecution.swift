import ProjectorCore

/// Runs one key of one job inside a savepoint: a key whose SQL fails is rolled back alone and
/// recorded in the ledger, everything else in the batch goes on (SPEC §4).
struct KeyExecution {
    let store: any ProjectionStore
    let ledger: FailureLedger

    /// Refreshes one key. Returns whether it was refreshed (its consumers are told).
    @discardableResult
    func refresh(_ state: JobState, key: String, firstPosition: Int, lastPosition: Int) throws(StoreError) -> Bool {
        do {
            try store.savepoint { () throws(StoreError) in try state.compiled.refresh(key: key) }
        } catch  where error.isKeyLocal {
            try ledger.recordFailure(state, key: key, first: firstPosition, last: lastPosition, error: error)
            return false
        }
        try succeeded(state, key: key, executions: 1)
        return true
    }

    /// Applies one key's events in journal order. When event k fails, the events before it are kept,
    /// k and everything after it are held back and the key is parked, so order is never broken.
    ///
    /// An event whose key failed in a job this one runs after (`taint`) is held back the same way,
    /// with everything after it, until that upstream failure is cleared. Returns whether any of
    /// the events was applied.
    @discardableResult
    func apply(
        _ state: JobState, key: String, events: [Int32], batch: Batch, taint: Taint = Taint()
    ) throws(StoreError) -> Bool {
        var waits: Set<FailureKey> = []
        var firstWaiting: Int?
        if !taint.isEmpty {
            for (k, index) in events.enumerated() {
                let marks = taint.waits(of: state, event: index)
                if !marks.isEmpty {
                    firstWaiting = firstWaiting ?? k
                    waits.formUnion(marks)
                }
            }
        }
        if ledger[FailureKey(job: state.name, key: key)] != nil {
            try hold(state, key: key, events[...], batch: batch)
            if !waits.isEmpty, let first = events.first, let last = events.last {
                try ledger.recordWait(
                    state, key: key, first: batch.events[Int(first)].position,
                    last: batch.events[Int(last)].position, waits: waits)
            }
            return false
        }
        if let firstWaiting, let last = events.last {
            var applied = false
            if firstWaiting > 0 {
                applied = try apply(state, key: key, events: Array(events[..<firstWaiting]), batch: batch)
            }
            try hold(state, key: key, events[firstWaiting...], batch: batch)
            try ledger.recordWait(
                state, key: key, first: batch.events[Int(events[firstWaiting])].position,
                last: batch.events[Int(last)].position, waits: waits)
            return applied
        }
        var failedAt = 0
        do {
            try store.savepoint { () throws(StoreError) in
                for (k, index) in events.enumerated() {
                    failedAt = k
                    try state.compiled.apply(batch.eventLine(Int(index)), key: key)
                }
            }
        } catch  where error.isKeyLocal {
            if failedAt > 0 {
                // Replay the events that had succeeded (deterministic: same statements, same state).
                try store.savepoint { () throws(StoreError) in
                    for index in events[..<failedAt] {
                        try state.compiled.apply(batch.eventLine(Int(index)), key: key)
                    }
                }
                state.report.executions += failedAt
            }
            try hold(state, key: key, events[failedAt...], batch: batch)
            let first = batch.events[Int(events[failedAt])].position
            let last = batch.events[Int(events[events.count - 1])].position
            try ledger.recordFailure(state, key: key, first: first, last: last, error: error)
            return failedAt > 0
        }
        state.report.executions += events.count
        state.report.touch(key)
        return true
    }

    // MARK: Optimistic batches

    /// A key to refresh with the positions of its first and last event in the batch.
    struct RefreshRange {
        var key: String
        var first: Int
        var last: Int
    }

    /// Refreshes keys optimistically: all of them in one savepoint (in one pass of the job's
    /// `@refresh_batch` when it has one). When any key's SQL fails, that
    /// savepoint is rolled back and each key is refreshed alone in a savepoint of its own, so the
    /// outcome is the per-key one: the failing key rolled back and recorded, the others kept.
    /// Returns the keys refreshed.
    func refresh(_ state: JobState, _ keys: [RefreshRange]) throws(StoreError) -> [String] {
        guard keys.count > 1 else { return try refreshEach(state, keys) }
        do {
            try store.pipelinedSavepoint { () throws(StoreError) in
                if state.compiled.refreshesInBatches {
                    try state.compiled.refresh(keys: keys.map(\.key))
                } else {
                    for range in keys { try state.compiled.refresh(key: range.key) }
                }
            }
        } catch  where error.isKeyLocal {
            return try refreshEach(state, keys)
        }
        for range in keys { try succeeded(state, key: range.key, executions: 1) }
        return keys.map(\.key)
    }

    private func refreshEach(_ state: JobState, _ keys: [RefreshRange]) throws(StoreError) -> [String] {
        var refreshed: [String] = []
        for range in keys
        where try refresh(state, key: range.key, firstPosition: range.first, lastPosition: range.last) {
            refreshed.append(range.key)
        }
        return refreshed
    }

    /// Applies several keys' events (each key's in journal order) optimistically: all in one
    /// savepoint; when an event fails, that savepoint is rolled back and each key is applied alone
    /// (`apply`), so the failing key is parked from its failing event and the others are kept.
    /// The keys must not be failing or waiting. Returns the keys whose events were applied.
    func apply(_ state: JobState, _ groups: [(key: String, events: [Int32])], batch: Batch) throws(StoreError)
        -> [String]
    {
        guard groups.count > 1 else { return try applyEach(state, groups, batch: batch) }
        do {
            try store.pipelinedSavepoint { () throws(StoreError) in
                for group in groups {
                    for index in group.events { try state.compiled.apply(batch.eventLine(Int(index)), key: group.key) }
                }
            }
        } catch  where error.isKeyLocal {
            return try applyEach(state, groups, batch: batch)
        }
        for group in groups { try succeeded(state, key: group.key, executions: group.events.count) }
        return groups.map(\.key)
    }

    private func applyEach(
        _ state: JobState, _ groups: [(key: String, events: [Int32])], batch: Batch
    ) throws(StoreError) -> [String] {
        var applied: [String] = []
        for group in groups where try apply(state, key: group.key, events: group.events, batch: batch) {
            applied.append(group.key)
        }
        return applied
    }

    /// Counts a key's SQL that ran, and clears its failure if it had one.
    private func succeeded(_ state: JobState, key: String, executions: Int) throws(StoreError) {
        state.report.executions += executions
        state.report.touch(key)
        guard !ledger.isEmpty else { return }
        let failureKey = FailureKey(job: state.name, key: key)
        if ledger[failureKey] != nil { try ledger.clear(failureKey) }
    }

    private func hold(_ state: JobState, key: String, _ events: ArraySlice<Int32>, batch: Batch) throws(StoreError) {
        let held = events.map { batch.events[Int($0)] }.map { HeldEvent(position: $0.position, length: $0.length) }
        try store.hold(FailureKey(job: state.name, key: key), events: held)
        state.report.held += held.count
    }
}

/// A batch's events whose key failed in a job that later jobs read from (`after:`): those jobs
/// hold the events back instead of computing from stale upstream rows.
struct Taint {
    private var marks: [Int32: [FailureKey]] = [:]

    var isEmpty: Bool { marks.isEmpty }

    /// Marks the events of `indices` (keyed entries of `state`'s job) whose key is failing.
    mutating func mark(_ state: JobState, indices: [Int], batch: Batch, ledger: FailureLedger) {
        for index in indices {
            let keyed = batch.keyed[index]
            let failure = FailureKey(job: state.name, key: keyed.key)
            if ledger[failure] != nil { marks[keyed.event, default: []].append(failure) }
        }
    }

    /// The upstream failures among an event's marks that concern this job.
    func waits(of state: JobState, event: Int32) -> [FailureKey] {
        guard let marks = marks[event] else { return [] }
        return marks.filter { state.upstreams.contains($0.job) }
    }
}
