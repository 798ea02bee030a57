import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// The store's side of retention: idle runs sharing a row, and pruning a bounded number of rows.
@Suite struct HistoryRetentionTests {
    static func finished(_ id: Int, at time: Double, events: Int = 0) -> FinishedRun {
        FinishedRun(
            id: id, finishedAt: time, toPosition: 10, events: events, rejects: 0, failures: 0, outcome: "ok",
            exitCode: 0)
    }

    @Test func idleRunsInARowShareOneRowThatTakesTheLatestTimes() throws {
        let f = try OperatorStoreFixture()
        let work = try f.store.beginRun(now: 1, from: 0)
        try f.store.finishRun(Self.finished(work, at: 2, events: 3))
        for time in [10.0, 20, 30] {
            let run = try f.store.beginRun(now: time, from: 10)
            try f.store.finishIdleRun(Self.finished(run, at: time + 1))
        }
        #expect(
            try f.store.db.rows("SELECT started_at, finished_at, events, outcome FROM projector_runs ORDER BY id")
                .map { $0.map(\.description) }
                == [["1.0", "2.0", "3", "ok"], ["30.0", "31.0", "0", "idle"]])
        // A run that did work starts a new row; the next idle run starts a new idle row.
        let next = try f.store.beginRun(now: 40, from: 10)
        try f.store.finishRun(Self.finished(next, at: 41, events: 1))
        let idle = try f.store.beginRun(now: 50, from: 10)
        try f.store.finishIdleRun(Self.finished(idle, at: 51))
        #expect(
            try f.store.db.rows("SELECT outcome FROM projector_runs ORDER BY id").map { $0[0].string }
                == ["ok", "idle", "ok", "idle"])
    }

    @Test func rejectsOfLinesBeforeTheJournalsStartArePrunedAndTheRestKept() throws {
        let f = try OperatorStoreFixture()
        let run = try f.store.beginRun(now: 1, from: 0)
        try f.store.transaction { () throws(StoreError) in
            _ = try f.store.recordRejects(
                [10, 20, 30, 40].map { Reject(position: $0, length: 3, reason: .notAnObject, excerpt: []) }
                    + [Reject(position: 15, length: 3, reason: .notAnObject, excerpt: [], job: "totals")],
                runID: run, now: 1)
        }
        let pruned = try f.store.prune(HistoryPruning(before: 0, currentRun: run, journalStart: 30, limit: 2))
        #expect(pruned == PrunedHistory(rejects: 2))
        #expect(
            try f.store.db.rows("SELECT position FROM projector_rejects ORDER BY position").map { $0[0].int } == [
                20, 30, 40,
            ])
        #expect(try f.store.prune(HistoryPruning(before: 0, currentRun: run, journalStart: 30, limit: 2)).rejects == 1)
        #expect(
            try f.store.db.rows("SELECT position FROM projector_rejects ORDER BY position").map { $0[0].int } == [
                30, 40,
            ])
        #expect(
            try f.store.prune(HistoryPruning(before: 0, currentRun: run, journalStart: 30, limit: 2)) == PrunedHistory()
        )
    }
}
