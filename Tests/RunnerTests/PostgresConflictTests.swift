import Foundation
import PostgresClient
import ProjectorCore
import Runner
import TestSupport
import Testing

/// A batch the server rolls back for a concurrent transaction's sake (a deadlock, a serialization
/// failure) is done again whole, and counted once.
@Suite(.postgresServer) struct PostgresConflictTests {
    static let hotJob = """
        -- dialect: postgres
        -- on: PING           key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS hot(id int PRIMARY KEY, n bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS seen(id text PRIMARY KEY, key text NOT NULL);
        -- @apply
        INSERT INTO seen(id, key) VALUES(:id, :key);
        UPDATE hot SET n = n + 1 WHERE id = 1;
        UPDATE hot SET n = n + 1 WHERE id = 2;
        """

    @Test func aBatchTheServerRollsBackForADeadlockIsDoneAgainWholeAndCountedOnce() throws {
        let f = try PostgresFixture(jobs: ["hot": Self.hotJob])
        try f.connection.execute("CREATE TABLE hot(id int PRIMARY KEY, n bigint NOT NULL)")
        try f.connection.execute("INSERT INTO hot VALUES (1, 0), (2, 0)")
        try f.append(f.ping("a", id: "e1"), f.ping("b", id: "e2"), f.ping("c", id: "e3"))

        // Another session (an API's transaction) locks row 2, waits until the run's batch waits for
        // it, then asks for row 1, which the batch holds: a deadlock. The batch waited first, so
        // the server's deadlock check picks it as the one to roll back.
        let conninfo = f.database.conninfo
        let locked = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let problem = Atomic<String?>(nil)
        let other = Thread {
            defer { finished.signal() }
            do {
                let api = try PGConnection(conninfo: conninfo)
                // pg_stat_activity stays as first read within a transaction: watch from outside it.
                let watcher = try PGConnection(conninfo: conninfo)
                try api.execute("BEGIN")
                try api.execute("UPDATE hot SET n = n + 100 WHERE id = 2")
                locked.signal()
                let deadline = Date().addingTimeInterval(30)
                while try watcher.query(
                    """
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> \(api.backendPID)
                    """
                ).first?.int(0) == 0 {
                    guard Date() < deadline else { throw PGError(kind: .other, message: "the run never waited") }
                    usleep(20_000)
                }
                try api.execute("UPDATE hot SET n = n + 100 WHERE id = 1")
                try api.execute("COMMIT")
            } catch {
                problem.value = "\(error)"
                locked.signal()
            }
        }
        other.start()
        locked.wait()

        let report = try f.run()
        finished.wait()

        #expect(problem.value == nil, "\(problem.value ?? "")")
        #expect(report.conflictRetries >= 1)
        #expect(report.events == 3)
        #expect(report.failures == 0)
        #expect(report.jobs.first?.events == 3)
        // Each event applied once, on top of the other transaction's committed work.
        #expect(try f.rows("SELECT id, n FROM hot ORDER BY id") == [["1", "103"], ["2", "103"]])
        #expect(try f.rows("SELECT id FROM seen ORDER BY id") == [["e1"], ["e2"], ["e3"]])
        #expect(try f.scalar("SELECT sum(events_applied) FROM projector.checkpoints") == 3)
    }

}
