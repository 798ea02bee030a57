import Foundation
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing

/// Apply jobs skip an event appended twice while its id is in the window; ids are recorded only
/// for events an apply job handles, keyed by a 64-bit hash, and pruned as the window moves.
@Suite struct DuplicateWindowTests {
    static let remembered = "SELECT coalesce(sum(ids), 0) FROM projector_event_window_chunks"

    func event(_ f: Fixture, _ id: String, minute: Int, type: String = "PING") -> String {
        Events.line(
            type: type, aggregateId: "a", id: id, data: #"{"n":1,"target":"a"}"#,
            occurredAt: "2026-11-26T10:\(minute < 10 ? "0" : "")\(minute):00.000Z")
    }

    @Test func aDuplicateWithinTheWindowIsSkippedInALaterRun() throws {
        let f = try Fixture()
        try f.append(event(f, "e1", minute: 0), event(f, "e2", minute: 1))
        try f.run()
        try f.append(event(f, "e1", minute: 2))
        let report = try f.run()
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 1)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["e1"], ["e2"]])
    }

    @Test func aDuplicateOlderThanTheWindowIsAppliedAgain() throws {
        let f = try Fixture()
        let window = DuplicateWindow(seconds: 60, events: 2)
        for minute in 0..<6 {
            try f.append(event(f, "e\(minute)", minute: minute))
            try f.run { $0.duplicateWindow = window }
        }
        // e0 is 5 minutes and 5 ids behind: forgotten. e5 is the latest: remembered.
        try f.append(event(f, "e0", minute: 6), event(f, "e5", minute: 6))
        let report = try f.run { $0.duplicateWindow = window }
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 1)
        #expect(try f.scalar("SELECT count(*) FROM applied WHERE id = 'e0'") == 2)
        #expect(try f.scalar("SELECT count(*) FROM applied WHERE id = 'e5'") == 1)
        #expect(try f.scalar(Self.remembered) <= 4)
    }

    @Test func eventsOnlyARefreshJobHandlesAreNotRecorded() throws {
        // An apply job is active, but no event here is of its type.
        let others = Fixture.applyJob.replacingOccurrences(of: "-- on: PING, PONG", with: "-- on: OTHER")
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob, "others": others])
        try f.append(event(f, "e1", minute: 0), event(f, "e1", minute: 1), event(f, "e2", minute: 2))
        try f.run()
        #expect(try f.scalar("SELECT n FROM refreshes WHERE key = 'a'") == 1)
        #expect(try f.scalar(Self.remembered) == 0)
    }

    @Test func onlyTheEventsAnApplyJobHandlesAreRecorded() throws {
        let f = try Fixture()
        // The apply job "log" handles PING and PONG; the refresh job also takes PONG; OTHER is no one's.
        try f.append(
            event(f, "p1", minute: 0), event(f, "o1", minute: 1, type: "OTHER"), event(f, "q1", minute: 2, type: "PONG")
        )
        try f.run()
        #expect(try f.scalar(Self.remembered) == 2)
    }

    @Test func twoIdsWithTheSameHashAreBothApplied() throws {
        let f = try Fixture()
        let collide: @Sendable (UnsafeRawBufferPointer) -> UInt64 = { _ in 42 }
        try f.append(event(f, "a", minute: 0), event(f, "b", minute: 1), event(f, "a", minute: 2))
        let first = try f.run { $0.eventIDHash = collide }
        #expect(first.jobs.first { $0.name == "log" }?.duplicates == 1)
        // Across runs the earlier id is read back from the journal.
        try f.append(event(f, "c", minute: 3), event(f, "a", minute: 4))
        let second = try f.run { $0.eventIDHash = collide }
        #expect(second.jobs.first { $0.name == "log" }?.duplicates == 1)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["a"], ["b"], ["c"]])
    }

    @Test func pruningKeepsTheTableNearTheWindowRunAfterRun() throws {
        let f = try Fixture()
        let window = DuplicateWindow(seconds: 0, events: 10)
        for batch in 0..<30 {
            try f.workspace.append(lines: (0..<5).map { event(f, "e\(batch)-\($0)", minute: batch % 60) })
            try f.run { $0.duplicateWindow = window }
            #expect(try f.scalar(Self.remembered) <= 20)
        }
        #expect(try f.scalar("SELECT count(*) FROM applied") == 150)
        #expect(try f.scalar("SELECT count(*) FROM projector_event_window_chunks") <= 12)
    }

    @Test func anOldDatabaseKeepsItsRecentIdsThroughTheUpgrade() throws {
        let f = try Fixture()
        try f.append(event(f, "before", minute: 0))
        try f.run()
        // The table of earlier versions, holding the id appended before the upgrade.
        try f.execute(
            """
            DROP TABLE projector_event_window_chunks;
            CREATE TABLE projector_event_ids(id TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
            INSERT INTO projector_event_ids VALUES('before', 0);
            """
        )
        try f.append(event(f, "before", minute: 1), event(f, "after", minute: 2), event(f, "after", minute: 3))
        let report = try f.run()
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 2)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["before"], ["after"]])
        #expect(try f.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'projector_event_ids'") == 0)
        #expect(try f.scalar(Self.remembered) == 2)
    }

    @Test func aDatabaseWithAHashPerRowKeepsItsIdsThroughTheUpgrade() throws {
        let f = try Fixture()
        try f.append(event(f, "e1", minute: 0), event(f, "e2", minute: 1))
        try f.run()
        // The layout of the version before: a B-tree row per hash and marks of how far it goes.
        let hash = { (id: String) in Int64(bitPattern: Fingerprint.fnv1a(id)) }
        let second = try f.scalar("SELECT position FROM applied WHERE id = 'e2'")
        try f.execute(
            """
            DROP TABLE projector_event_window_chunks;
            CREATE TABLE projector_event_window(hash INTEGER PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE projector_event_window_marks(position INTEGER PRIMARY KEY, occurred_at REAL, recorded INTEGER NOT NULL);
            INSERT INTO projector_event_window VALUES(\(hash("e1")), 0), (\(hash("e2")), \(second));
            INSERT INTO projector_event_window_marks VALUES(\(second + 1), NULL, 2);
            INSERT INTO projector_meta VALUES('event_window_sweep', 0);
            """
        )
        try f.append(event(f, "e2", minute: 2), event(f, "e1", minute: 3), event(f, "e3", minute: 4))
        let report = try f.run()
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 2)
        #expect(try f.rows("SELECT id FROM applied ORDER BY seq") == [["e1"], ["e2"], ["e3"]])
        #expect(
            try f.scalar(
                """
                SELECT count(*) FROM sqlite_master
                WHERE name IN ('projector_event_window', 'projector_event_window_marks')
                """) == 0)
        #expect(try f.scalar(Self.remembered) == 3)
        #expect(try f.scalar("SELECT max(recorded) FROM projector_event_window_chunks") == 3)
    }

    @Test func smallBatchesShareARowOfTheWindow() throws {
        // A watch appends a few events at a time: each batch must not leave a row of its own, or
        // every batch would read thousands of rows.
        let f = try Fixture()
        let window = DuplicateWindow(seconds: 86_400, events: 160)
        for batch in 0..<40 {
            try f.workspace.append(lines: (0..<3).map { event(f, "e\(batch)-\($0)", minute: batch % 60) })
            try f.run { $0.duplicateWindow = window }
        }
        #expect(try f.scalar(Self.remembered) == 120)
        // At most ten ids (a sixteenth of the window) a row.
        #expect(try f.scalar("SELECT max(ids) FROM projector_event_window_chunks") <= 10)
        #expect(try f.scalar("SELECT count(*) FROM projector_event_window_chunks") <= 15)
        // Every id is still found, in the row it was merged into.
        try f.workspace.append(lines: [event(f, "e0-0", minute: 59), event(f, "e39-2", minute: 59)])
        let report = try f.run { $0.duplicateWindow = window }
        #expect(report.jobs.first { $0.name == "log" }?.duplicates == 2)
    }

    @Test func occurredAtParsesAsRFC3339() {
        #expect(RFC3339.parse("2026-11-26T10:00:00.250Z") == 1_795_687_200.25)
        #expect(RFC3339.parse("2026-11-26T12:00:00+02:00") == 1_795_687_200)
        #expect(RFC3339.parse("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.parse("2024-02-29T00:00:00Z").map { RFC3339.format($0) } == "2024-02-29T00:00:00.000Z")
        #expect(RFC3339.parse("2026-11-26") == nil)
        #expect(RFC3339.parse("2026-11-26T10:00:00") == nil)
        #expect(RFC3339.parse("yesterday") == nil)
    }

    @Test func statusShowsTheWindow() throws {
        let f = try Fixture()
        let window = DuplicateWindow(seconds: 0, events: 1)
        for minute in 0..<4 {
            try f.append(event(f, "e\(minute)", minute: minute))
            try f.run { $0.duplicateWindow = window }
        }
        var options = f.options
        options.duplicateWindow = window
        let status = try StatusReport.load(options: options)
        let ids = try #require(status.duplicateIDs)
        #expect(ids.windowEvents == 1)
        #expect(ids.windowSeconds == 0)
        #expect(ids.fromPosition > 0)
        #expect(ids.remembered < 4)
        #expect(ids.since == RFC3339.parse("2026-11-26T10:02:00Z"))
    }
}
