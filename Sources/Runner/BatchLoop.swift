import Journal
import Logging
import ProjectorCore

/// Streams the journal between two positions in batches and hands each to a strategy (apply and
/// commit, count for a dry run, re-apply for a replay). The one place batches are read.
struct BatchLoop {
    /// When the loop stops before the end.
    struct Stops {
        /// SIGTERM/SIGINT (`options.shouldStop`): after the batch in flight.
        var signals = false
        var maxSeconds: Double?
        var maxEvents: Int?
    }

    enum Sizing {
        /// Batches of at most `maxEvents`, sized so a transaction takes about `milliseconds`.
        case adaptive(maxEvents: Int, milliseconds: Double)
        case fixed(events: Int)
    }

    let session: Session
    let jobs: [JobDefinition]
    var sizing: Sizing
    var stops = Stops()

    /// Reads `from..<to`; returns whether a stop left work before `to`.
    func run(from: Int, to: Int, started: Double, _ handle: (Batch) throws(RunError) -> Void) throws(RunError) -> Bool {
        guard from < to else { return false }
        let options = session.options
        let cursor = try session.journalCall { () throws(JournalError) in
            try session.journal.cursor(from: from, limit: to, maxLineBytes: options.maxLineBytes)
        }
        var builder = BatchBuilder(jobs: jobs, maxDepth: options.maxDepth)
        let batch = Batch(capacity: min(options.batchBytes, 1 << 20))
        var sizer: BatchSizer?
        var fixedSize = 0
        switch sizing {
        case .adaptive(let maxEvents, let milliseconds):
            sizer = BatchSizer(maxEvents: maxEvents, target: milliseconds / 1000)
        case .fixed(let events):
            fixedSize = events
        }
        var read = 0
        while true {
            if stops.signals, options.shouldStop?() == true {
                session.logger.notice(
                    "stopping after the batch in flight, as asked", metadata: ["position": "\(cursor.position)"])
                return cursor.position < to
            }
            if let maxSeconds = stops.maxSeconds, Monotonic.now() - started >= maxSeconds {
                return cursor.position < to
            }
            var limit = sizer?.size ?? fixedSize
            if let maxEvents = stops.maxEvents {
                guard maxEvents - read > 0 else { return cursor.position < to }
                limit = min(limit, maxEvents - read)
            }
            let readStart = Monotonic.now()
            let more = try session.journalCall { () throws(JournalError) in
                try builder.fill(batch, from: cursor, maxEvents: limit, maxBytes: options.batchBytes)
            }
            session.report.timings.readDecode += Monotonic.now() - readStart
            if batch.isEmpty { return false }
            let handled = Monotonic.now()
            try handle(batch)
            sizer?.record(events: batch.events.count, seconds: Monotonic.now() - handled)
            read += batch.events.count
            if !more { return false }
        }
    }
}
