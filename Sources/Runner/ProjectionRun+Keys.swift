import Journal
import Logging
import ProjectorCore
import SQLiteStore

extension ProjectionRun {
    /// Refreshes one key inside a savepoint; a failure is rolled back alone and recorded.
    /// Returns whether the key was refreshed (its consumers are told).
    @discardableResult
    func refresh(_ state: JobState, key: String, firstPosition: Int, lastPosition: Int) throws(SQLiteError) -> Bool {
        let failureKey = FailureKey(job: state.definition.name, key: key)
        do {
            try savepoint { () throws(SQLiteError) in try EventBinder.refresh(state.compiled.body, key: key) }
        } catch  where Self.isKeyLocal(error) {
            try recordFailure(state, key: key, first: firstPosition, last: lastPosition, error: error)
            return false
        }
        state.report.executions += 1
        state.report.touch(key)
        if failures[failureKey] != nil { try clear(failureKey) }
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
        _ state: JobState, key: String, events: [Int32], batch: Batch, taint: [Int32: [FailureKey]] = [:]
    ) throws(SQLiteError) -> Bool {
        let job = state.definition.name
        var waits: Set<FailureKey> = []
        var firstWaiting: Int?
        if !taint.isEmpty {
            for (k, index) in events.enumerated() {
                let marks = self.waits(of: state, event: index, taint: taint)
                if !marks.isEmpty {
                    firstWaiting = firstWaiting ?? k
                    waits.formUnion(marks)
                }
            }
        }
        if failures[FailureKey(job: job, key: key)] != nil {
            for index in events {
                let event = batch.events[Int(index)]
                try store.hold(job: job, key: key, position: event.position, length: event.length)
            }
            state.report.held += events.count
            if !waits.isEmpty, let first = events.first, let last = events.last {
                try recordWait(
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
            let held = events[firstWaiting...]
            for index in held {
                let event = batch.events[Int(index)]
                try store.hold(job: job, key: key, position: event.position, length: event.length)
            }
            state.report.held += held.count
            try recordWait(
                state, key: key, first: batch.events[Int(events[firstWaiting])].position,
                last: batch.events[Int(last)].position, waits: waits)
            return applied
        }
        var failedAt = 0
        do {
            try savepoint { () throws(SQLiteError) in
                for (k, index) in events.enumerated() {
                    failedAt = k
                    let event = batch.events[Int(index)]
                    try EventBinder.apply(
                        state.compiled.body, fields: event.fields, line: batch.line(event), position: event.position,
                        key: key
                    )
                }
            }
        } catch  where Self.isKeyLocal(error) {
            if failedAt > 0 {
                // Replay the events that had succeeded (deterministic: same statements, same state).
                try savepoint { () throws(SQLiteError) in
                    for index in events[..<failedAt] {
                        let event = batch.events[Int(index)]
                        try EventBinder.apply(
                            state.compiled.body, fields: event.fields, line: batch.line(event),
                            position: event.position, key: key
                        )
                    }
                }
                state.report.executions += failedAt
            }
            for index in events[failedAt...] {
                let event = batch.events[Int(index)]
                try store.hold(job: job, key: key, position: event.position, length: event.length)
            }
            state.report.held += events.count - failedAt
            let first = batch.events[Int(events[failedAt])].position
            let last = batch.events[Int(events[events.count - 1])].position
            try recordFailure(state, key: key, first: first, last: last, error: error)
            return failedAt > 0
        }
        state.report.executions += events.count
        state.report.touch(key)
        return true
    }

    func savepoint(_ body: () throws(SQLiteError) -> Void) throws(SQLiteError) {
        try db.savepoint { () throws(SQLiteError) in try body() }
    }

    /// Errors that belong to one key's SQL (a constraint, a failing expression, a missing row),
    /// as opposed to the database as a whole (disk full, I/O, busy), which abort the batch.
    static func isKeyLocal(_ error: SQLiteError) -> Bool {
        switch error.code {
        case .error, .toobig, .constraint, .mismatch, .range: return true
        default: return false
        }
    }

    func recordFailure(_ state: JobState, key: String, first: Int, last: Int, error: SQLiteError) throws(SQLiteError) {
        let now = clock.now()
        let failureKey = FailureKey(job: state.definition.name, key: key)
        var record =
            failures[failureKey]
            ?? FailureRecord(
                job: state.definition.name, key: key, state: .retrying, attempts: 0, firstPosition: first,
                lastPosition: last, error: "", nextAttemptAt: now
            )
        record.attempts += 1
        // Its own SQL failed: it waits only for upstream failures still open, and backs off.
        record.waitsFor = record.waitsFor.filter { failures[$0] != nil }
        record.lastPosition = max(record.lastPosition, last)
        record.firstPosition = state.definition.mode == .apply ? first : min(record.firstPosition, first)
        record.error = error.description
        if options.retry.isDead(attempts: record.attempts) {
            record.state = .dead
        } else {
            record.state = state.definition.mode == .refresh ? .retrying : .parked
        }
        record.nextAttemptAt = now + options.retry.delay(afterAttempt: record.attempts)
        try store.saveFailure(record, mode: state.definition.mode, now: now)
        failures[failureKey] = record
        report.failures += 1
        state.report.failures += 1
        logger.error(
            "key failed",
            metadata: [
                "job": "\(record.job)", "key": "\(key)", "attempts": "\(record.attempts)",
                "state": "\(record.state.rawValue)", "error": "\(error.message)",
            ]
        )
    }

    func clear(_ failureKey: FailureKey) throws(SQLiteError) {
        try store.clearFailure(job: failureKey.job, key: failureKey.key)
        failures[failureKey] = nil
        report.recovered += 1
        logger.info("failure recovered", metadata: ["job": "\(failureKey.job)", "key": "\(failureKey.key)"])
    }

    // MARK: Retries

    /// Tries again every failure whose backoff has passed (dead ones wait for an operator).
    ///
    /// Jobs go in dependency order, so a key that waited for an upstream failure is redone right
    /// after that failure cleared (whatever its own backoff); it keeps waiting while it is open.
    /// `onlyWaiting` limits the pass to such keys (after the stream, for upstream keys that a new
    /// event fixed).
    func retryDueFailures(onlyWaiting: Bool = false) throws(RunError) {
        let now = clock.now()
        let order = Dictionary(states.enumerated().map { ($1.definition.name, $0) }, uniquingKeysWith: min)
        let due = failures.values.filter {
            $0.state != .dead && (!$0.waitsFor.isEmpty || (!onlyWaiting && $0.nextAttemptAt <= now))
        }
        .sorted { (order[$0.job] ?? 0, $0.key) < (order[$1.job] ?? 0, $1.key) }
        var index = 0
        var problem: RunError?
        while index < due.count {
            let chunk = due[index..<min(due.count, index + 500)]
            try transaction { () throws(SQLiteError) in
                // Keys whose rows a retry changed, per job: their consumers are told like a batch's.
                var changed: [Int: [String]] = [:]
                for listed in chunk {
                    guard let failure = failures[FailureKey(job: listed.job, key: listed.key)], !isWaiting(failure)
                    else { continue }
                    guard let job = order[failure.job] else { continue }
                    let state = states[job]
                    let executions = state.report.executions
                    switch state.definition.mode {
                    case .refresh:
                        try refresh(
                            state, key: failure.key, firstPosition: failure.firstPosition,
                            lastPosition: failure.lastPosition)
                    case .apply:
                        if let lost = try retryHeld(state, failure) { problem = problem ?? lost }
                    }
                    // A retry that ran any of the key's SQL changed its rows.
                    if state.report.executions > executions { changed[job, default: []].append(failure.key) }
                }
                for (job, keys) in changed where !states[job].endpoints.isEmpty {
                    let state = states[job]
                    try store.accumulate(
                        job: state.definition.name, from: state.position, to: state.position, events: 0, keys: keys,
                        failures: 0)
                }
            }
            index += chunk.count
        }
        // The other keys' retries are committed; a held event the journal lost stops the run.
        if let problem { throw problem }
    }

    /// Re-reads a parked key's held events from the journal and applies them in order. Returns
    /// the journal problem, and touches nothing, when a held event can no longer be read back.
    func retryHeld(_ state: JobState, _ failure: FailureRecord) throws(SQLiteError) -> RunError? {
        let job = state.definition.name
        let held: [HeldEvent]
        switch readHeld(state, key: failure.key, try store.heldEvents(job: job, key: failure.key)) {
        case .success(let events): held = events
        case .failure(let problem): return problem
        }
        var applied = 0
        var failedError: SQLiteError?
        do {
            try savepoint { () throws(SQLiteError) in
                for event in held {
                    try applyHeld(state, key: failure.key, event)
                    applied += 1
                }
            }
        } catch  where Self.isKeyLocal(error) {
            failedError = error
        }
        guard let failedError else {
            state.report.executions += held.count
            state.report.touch(failure.key)
            try clear(FailureKey(job: job, key: failure.key))
            return nil
        }
        // Keep what succeeded before the failing event, in order, then stay parked from there.
        if applied > 0 {
            try savepoint { () throws(SQLiteError) in
                for event in held[..<applied] {
                    try applyHeld(state, key: failure.key, event)
                    try store.release(job: job, key: failure.key, position: event.position)
                }
            }
            state.report.executions += applied
        }
        let remaining = held[applied...]
        try recordFailure(
            state, key: failure.key, first: remaining.first?.position ?? failure.firstPosition,
            last: remaining.last?.position ?? failure.lastPosition, error: failedError
        )
        return nil
    }

    /// A held event read back from the journal: its line (without the newline) and its fields.
    struct HeldEvent {
        var position: Int
        var line: [UInt8]
        var fields: EventFields
    }

    /// Reads a key's held events back from the journal, or says which one is gone or changed.
    func readHeld(
        _ state: JobState, key: String, _ held: [(position: Int, length: Int)]
    ) -> Result<[HeldEvent], RunError> {
        let scanner = EventScanner(maxDepth: options.maxDepth)
        var events: [HeldEvent] = []
        for (position, length) in held {
            let lost = { (reason: String) in
                RunError.heldEventLost(job: state.definition.name, key: key, position: position, reason: reason)
            }
            let bytes: [UInt8]?
            do throws(JournalError) {
                bytes = try journal.read(from: position, to: position + length)
            } catch {
                return .failure(.journal(error))
            }
            guard var line = bytes else { return .failure(lost("it is no longer in the journal")) }
            if line.last == 0x0A { line.removeLast() }
            if line.last == 0x0D { line.removeLast() }
            let scanned = line.withUnsafeBytes { scanner.scan($0) }
            guard case .success(let fields) = scanned else {
                return .failure(lost("the bytes there no longer read as an event"))
            }
            events.append(HeldEvent(position: position, line: line, fields: fields))
        }
        return .success(events)
    }

    /// Applies one held event read back from the journal.
    func applyHeld(_ state: JobState, key: String, _ event: HeldEvent) throws(SQLiteError) {
        let result: Result<Void, SQLiteError> = event.line.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return .success(()) }
            do throws(SQLiteError) {
                try EventBinder.apply(
                    state.compiled.body, fields: event.fields, line: base, position: event.position, key: key)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
