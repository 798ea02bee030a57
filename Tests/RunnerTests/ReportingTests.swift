import Foundation
import Logging
import ProjectorCore
import Runner
import SQLiteStore
import TestSupport
import Testing
import Webhooks

/// The numbers a run reports (summary, status, notifications) say the same thing everywhere.
@Suite struct ReportingTests {
    static let otherJob = """
        -- on: OTHER          key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS others(key TEXT PRIMARY KEY);
        -- @refresh
        INSERT OR IGNORE INTO others(key) VALUES(:key);
        """

    /// A fixture whose jobs all notify one endpoint; the outbox is filled, nothing is sent.
    static func notifyingFixture(_ jobs: [String: String]) throws -> Fixture {
        let f = try Fixture(jobs: jobs)
        f.options.endpoints = [
            WebhookEndpoint(
                name: "dash", url: "http://127.0.0.1:9/hooks", secrets: [try WebhookSecret(WebhookSecret.generate())],
                jobs: ["*"], allowHTTP: true)
        ]
        f.options.deliverWebhooks = false
        return f
    }

    /// The `data` of every queued notification, oldest first.
    static func notifications(_ f: Fixture) throws -> [[String: Any]] {
        try f.db().rows("SELECT body FROM projector_webhook_outbox ORDER BY id").map { row in
            guard case .blob(let body) = row[0] else { return [:] }
            let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            return json?["data"] as? [String: Any] ?? [:]
        }
    }

    @Test func aRejectIsReportedOnceEvenWhenANewJobReadsItsLineAgain() throws {
        // Given a run that recorded a malformed line
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob])
        try f.append(f.ping("a", id: "1"), "garbage", f.ping("b", id: "2"))
        let first = try f.run()
        #expect(first.rejects == 1)
        #expect(first.outcome.isClean == false)

        // When a new apply job is added, which reads the journal from the start
        try f.dir.write("jobs/log.sql", Fixture.applyJob)
        let dry = try f.run { $0.dryRun = true }
        let second = try f.run()

        // Then the old reject is not reported again and the run succeeds
        #expect(dry.rejects == 0)
        #expect(second.rejects == 0)
        #expect(second.outcome.isClean)
        #expect(second.jobs.first { $0.name == "log" }?.executions == 2)
        #expect(try f.scalar("SELECT count(*) FROM projector_rejects") == 1)
        #expect(try f.scalar("SELECT rejects FROM projector_runs ORDER BY id DESC LIMIT 1") == 0)
    }

    @Test func onlyJobsThatDidWorkAreNotifiedAndEventsCountWhatEachJobMatched() throws {
        // Given two jobs, one of which listens to a type the journal does not have yet
        let f = try Self.notifyingFixture(["counter": Fixture.refreshJob, "other": Self.otherJob])
        try f.append(f.ping("a"), f.ping("b"), f.ping("a"), f.ping("c", type: "UNKNOWN"))

        // When a run processes them
        let report = try f.run()

        // Then only the job that refreshed keys is notified, with the events it matched
        let first = try Self.notifications(f)
        #expect(first.map { $0["job"] as? String } == ["counter"])
        #expect(first.first?["events"] as? Int == 3)
        #expect(first.first?["keys"] as? [String] == ["a", "b"])
        #expect(report.jobs.first { $0.name == "counter" }?.events == 3)
        #expect(report.jobs.first { $0.name == "other" }?.events == 0)
        let status = try StatusReport.load(options: f.options)
        #expect(status.jobs.first { $0.name == "counter" }?.eventsApplied == 3)
        #expect(status.jobs.first { $0.name == "other" }?.eventsApplied == 0)

        // And when the other job does work later, its notification covers the positions since
        // it last notified, with no gap
        try f.append(f.ping("x", type: "OTHER"))
        try f.run()
        let second = try Self.notifications(f).dropFirst()
        #expect(second.map { $0["job"] as? String } == ["other"])
        #expect(second.first?["fromPosition"] as? Int == 0)
        #expect(second.first?["events"] as? Int == 1)
    }

    @Test func keysTotalCountsDistinctKeysAcrossBatches() throws {
        // Given more keys than a notification lists, each touched in two batches
        let f = try Self.notifyingFixture(["counter": Fixture.refreshJob])
        for _ in 0..<2 {
            for i in 0..<1200 { try f.append(f.ping("k\(i)")) }
        }
        let report = try f.run { $0.batchEvents = 1200 }
        #expect(report.batches >= 2)
        #expect((report.jobs.first?.executions ?? 0) >= 2400)

        // Then the notification counts each key once, and lists the first 1000
        let data = try #require(try Self.notifications(f).first)
        #expect(data["keysTotal"] as? Int == 1200)
        #expect((data["keys"] as? [String])?.count == 1000)
        #expect(data["truncated"] as? Bool == true)
        #expect(data["events"] as? Int == 2400)
    }

    @Test func heldInTheSummaryCountsWhatFailuresListShows() throws {
        // Given an apply key whose second event fails
        let f = try Fixture(jobs: ["log": Fixture.applyJob])
        try f.run()
        try f.execute("INSERT INTO poison_events VALUES('a2')")
        try f.append(f.ping("A", id: "a1"), f.ping("A", id: "a2"), f.ping("A", id: "a3"))

        // When a run parks the key
        let report = try f.run()

        // Then the run and `failures list` count the same held events
        let listed = try FailureAdmin(databasePath: f.options.databasePath).list()
        #expect(listed.map(\.heldEvents) == [2])
        #expect(report.jobs.first?.held == 2)
    }

    @Test func aDryRunShowsANewRefreshJobStartsFromAllKeys() throws {
        // Given a new refresh job with @keys and a journal with history
        let f = try Fixture(jobs: [
            "things": """
            -- on: PING key: aggregateId
            -- @setup
            CREATE TABLE IF NOT EXISTS refreshes(key TEXT PRIMARY KEY, n INTEGER NOT NULL);
            -- @refresh
            INSERT INTO refreshes(key, n) VALUES(:key, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1;
            -- @keys
            SELECT id FROM source
            """
        ])
        for i in 0..<20 { try f.append(f.ping(String(i % 5))) }
        try f.execute("CREATE TABLE source(id INTEGER PRIMARY KEY); INSERT INTO source VALUES(1), (2), (3);")

        // When a dry run and then a real run look at it
        let dry = try f.run { $0.dryRun = true }
        let real = try f.run()

        // Then both say it initializes from every key instead of replaying history
        for report in [dry, real] {
            let job = try #require(report.jobs.first)
            #expect(job.initialized)
            #expect(job.executions == 3)
            #expect(job.events == 0)
        }
    }

    @Test func aRebuildReportsTheEventsOfItsJobNotEveryLineRead() throws {
        // Given a job that listens to one event of five
        let f = try Fixture(jobs: ["counter": Fixture.refreshJob, "other": Self.otherJob])
        try f.append(f.ping("a"), f.ping("b"), f.ping("x", type: "OTHER"), f.ping("c"), f.ping("d"))
        try f.run()

        // When it is rebuilt
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let reports = try Rebuild(options: f.options, logger: logger, clock: f.clock).execute(jobs: ["other"])

        // Then its report counts the one event it matched
        #expect(reports.first?.events == 1)
        #expect(reports.first?.keys == 1)
    }

    @Test func aDryRunReportsThePositionARunWouldReach() throws {
        let f = try Fixture()
        for i in 0..<10 { try f.append(f.ping("k\(i % 3)", id: "e\(i)")) }
        let dry = try f.run { $0.dryRun = true }
        let real = try f.run()
        #expect(dry.toPosition == real.toPosition)
        #expect(dry.caughtUp)
        #expect(dry.jobs.map(\.toPosition) == real.jobs.map(\.toPosition))
    }
}
