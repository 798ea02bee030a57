import Journal
import ProjectorCore

/// Tries failed keys again: a refresh key is refreshed, a parked key's held events are read back
/// from the journal and applied in order.
struct Retries {
    let session: Session
    private var execution: KeyExecution { KeyExecution(store: session.store, ledger: session.ledger) }

    /// Tries again every failure whose backoff has passed (dead ones wait for an operator).
    ///
    /// Jobs go in dependency order, so a key that waited for an upstream failure is redone right
    /// after that failure cleared (whatever its own backoff); it keeps waiting while it is open.
    /// `onlyWaiting` limits the pass to such keys (after the stream, for upstream keys that a new
    /// event fixed).
    func retryDue(onlyWaiting: Bool = false) throws(RunError) {
        let jobs = session.jobs
        let order = Dictionary(jobs.enumerated().map { ($1.name, $0) }, uniquingKeysWith: min)
        let due = session.ledger.due(order: order, onlyWaiting: onlyWaiting)
        var index = 0
        var problem: RunError?
        while index < due.count {
            let chunk = due[index..<min(due.count, index + 500)]
            try session.retryingConflicts("retry of failed keys") { () throws(RunError) in
                try retry(chunk, order: order, problem: &problem)
            }
            index += chunk.count
        }
        // The other keys' retries are committed; a held event the journal lost stops the run.
        if let problem { throw problem }
    }

    /// One chunk of due failures in one transaction; a held event the journal lost is noted in
    /// `problem` (after the transaction, so a rolled-back attempt leaves nothing behind).
    private func retry(_ chunk: ArraySlice<FailureRecord>, order: [String: Int], problem: inout RunError?)
        throws(RunError)
    {
        let jobs = session.jobs
        var found: RunError?
        try session.transaction { () throws(StoreError) in
            found = nil
            // Keys whose rows a retry changed, per job: their consumers are told like a batch's.
            var changed: [Int: [String]] = [:]
            for listed in chunk {
                guard let failure = session.ledger[FailureKey(job: listed.job, key: listed.key)],
                    !session.ledger.isWaiting(failure), let job = order[failure.job]
                else { continue }
                let state = jobs[job]
                let executions = state.report.executions
                switch state.definition.mode {
                case .refresh:
                    try execution.refresh(
                        state, key: failure.key, firstPosition: failure.firstPosition,
                        lastPosition: failure.lastPosition)
                case .apply:
                    if let lost = try retryHeld(state, failure) { found = found ?? lost }
                }
                // A retry that ran any of the key's SQL changed its rows.
                if state.report.executions > executions { changed[job, default: []].append(failure.key) }
            }
            for (job, keys) in changed {
                let state = jobs[job]
                if let work = state.work(
                    from: state.position, to: state.position, events: 0, keys: keys, failures: 0)
                {
                    try session.store.accumulate(work)
                }
            }
        }
        // The other keys' retries are committed; a held event the journal lost stops the run.
        problem = problem ?? found
    }

    /// Re-reads a parked key's held events from the journal and applies them in order. Returns
    /// the journal problem, and touches nothing, when a held event can no longer be read back.
    private func retryHeld(_ state: JobState, _ failure: FailureRecord) throws(StoreError) -> RunError? {
        let key = FailureKey(job: state.name, key: failure.key)
        let held: [ReadBack]
        switch readHeld(state, key: failure.key, try session.store.heldEvents(of: key)) {
        case .success(let events): held = events
        case .failure(let problem): return problem
        }
        var applied = 0
        var failedError: StoreError?
        do {
            try session.store.savepoint { () throws(StoreError) in
                for event in held {
                    try event.apply(state, key: failure.key)
                    applied += 1
                }
            }
        } catch  where error.isKeyLocal {
            failedError = error
        }
        guard let failedError else {
            state.report.executions += held.count
            state.report.touch(failure.key)
            try session.ledger.clear(key)
            return nil
        }
        // Keep what succeeded before the failing event, in order, then stay parked from there.
        if applied > 0 {
            try session.store.savepoint { () throws(StoreError) in
                for event in held[..<applied] {
                    try event.apply(state, key: failure.key)
                    try session.store.release(key, position: event.position)
                }
            }
            state.report.executions += applied
        }
        let remaining = held[applied...]
        try session.ledger.recordFailure(
            state, key: failure.key, first: remaining.first?.position ?? failure.firstPosition,
            last: remaining.last?.position ?? failure.lastPosition, error: failedError
        )
        return nil
    }

    /// A held event read back from the journal: its line (without the newline) and its fields.
    private struct ReadBack {
        var position: Int
        var line: [UInt8]
        var fields: EventFields

        func apply(_ state: JobState, key: String) throws(StoreError) {
            let result: Result<Void, StoreError> = line.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return .success(()) }
                do throws(StoreError) {
                    try state.compiled.apply(EventLine(position: position, fields: fields, base: base), key: key)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        }
    }

    /// Reads a key's held events back from the journal, or says which one is gone or changed.
    private func readHeld(_ state: JobState, key: String, _ held: [HeldEvent]) -> Result<[ReadBack], RunError> {
        let scanner = EventScanner(maxDepth: session.options.maxDepth)
        var events: [ReadBack] = []
        for event in held {
            let lost = { (reason: String) in
                RunError.heldEventLost(job: state.name, key: key, position: event.position, reason: reason)
            }
            let bytes: [UInt8]?
            do throws(JournalError) {
                bytes = try session.journal.read(from: event.position, to: event.position + event.length)
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
            events.append(ReadBack(position: event.position, line: line, fields: fields))
        }
        return .success(events)
    }
}
