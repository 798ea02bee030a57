import PostgresClient
import PostgresStore
import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `PGStore` as an `OperatorStore`: the same records written through the same ports give the same
/// answers as `RunnerStore` on SQLite (a real server from `scripts/test`).
@Suite(.postgresServer) struct PostgresOperatorStoreTests {
    /// Both stores, each with the runner's tables.
    final class Stores {
        let directory = TemporaryDirectory("projector-pg-operator")
        let database: PostgresTestDatabase
        let sqlite: RunnerStore
        let postgres: PGStore

        init() throws {
            database = try PostgresTestDatabase()
            sqlite = try RunnerStore.open(path: directory.file("p.db"), options: Database.Options())
            postgres = try PGStore(connection: try database.connect())
            for store in [sqlite, postgres] as [any OperatorStore] {
                try store.transaction { () throws(StoreError) in try store.createSchema() }
            }
            // Names compared as a database with a linguistic collation would ('a' < 'B'): the
            // answers must still come in SQLite's byte order.
            try postgres.connection.execute(
                """
                ALTER TABLE projector.failures ALTER COLUMN job TYPE text COLLATE "und-x-icu";
                ALTER TABLE projector.metrics ALTER COLUMN name TYPE text COLLATE "und-x-icu",
                    ALTER COLUMN labels TYPE text COLLATE "und-x-icu";
                """)
        }

        var both: [any OperatorStore] { [sqlite, postgres] }
    }

    /// Checkpoints, failures of three jobs (named so that byte order and a collation's order differ),
    /// held events, rejects, a finished run, notifications in every state and a disabled endpoint.
    static func populate(_ store: any OperatorStore) throws(StoreError) {
        try store.transaction { () throws(StoreError) in
            let run = try store.beginRun(now: 10, from: 0)
            try store.saveCheckpoint(
                job: "b", anchor: CursorAnchor(position: 100, start: 60, hash: 0xabc, segment: "s"),
                fingerprint: "v2:x", eventsAdded: 5, now: 11)
            let failures: [(String, String, FailureState, JobDefinition.Mode, Int)] = [
                ("b", "k1", .parked, .apply, 20), ("B", "k2", .dead, .refresh, 40),
                ("a", "k3", .retrying, .refresh, 30),
                ("b", "k0", .dead, .apply, 10),
            ]
            for (job, key, state, mode, first) in failures {
                try store.saveFailure(
                    FailureRecord(
                        job: job, key: key, state: state, attempts: 2, firstPosition: first, lastPosition: first + 5,
                        error: "boom \(key)", nextAttemptAt: 50.5),
                    mode: mode, now: 12.25)
            }
            try store.hold(
                FailureKey(job: "b", key: "k1"),
                events: [HeldEvent(position: 20, length: 5), HeldEvent(position: 25, length: 5)])
            try store.hold(FailureKey(job: "b", key: "k0"), events: [HeldEvent(position: 10, length: 5)])
            _ = try store.recordRejects(
                [
                    Reject(position: 3, length: 4, reason: .notAnObject, excerpt: Array("[1]\n".utf8)),
                    Reject(position: 7, length: 4, reason: .emptyLine, excerpt: [], job: "b"),
                ], runID: run, now: 13)
            let states: [(String, OutboxState)] = [
                ("e1", .pending), ("e2", .dead), ("e1", .delivered), ("e3", .disabled), ("e2", .pending),
            ]
            for (index, (endpoint, state)) in states.enumerated() {
                try store.enqueue(
                    messageID: "m\(index)", endpoint: endpoint, job: "b", runID: run, body: [1, 2, 3], now: 14,
                    state: state)
            }
            try store.disableEndpoint("e3", reason: "gone", now: 15)
            try store.finishRun(
                FinishedRun(
                    id: run, finishedAt: 16.5, toPosition: 100, events: 9, rejects: 2, failures: 4, outcome: "failures",
                    exitCode: 65))
        }
    }

    @Test func bothStoresGiveTheSameAnswers() throws {
        let s = try Stores()
        for store in s.both { try Self.populate(store) }
        func same<T: Equatable>(_ what: String, _ read: (any OperatorStore) throws -> T) throws {
            let answers = try s.both.map { try read($0) }
            #expect(answers[0] == answers[1], "\(what): SQLite \(answers[0]), PostgreSQL \(answers[1])")
        }
        try same("status") { try $0.status() }
        let status = try #require(try s.postgres.status())
        #expect(status.failures["b"] == FailureCounts(retrying: 0, parked: 1, dead: 1, held: 3))
        #expect(status.outbox == [.pending: 2, .dead: 1, .delivered: 1, .disabled: 1])
        #expect(status.lastRun?.exitCode == 65)

        let filters = [
            FailureFilter(), FailureFilter(job: "b"), FailureFilter(key: "k2"), FailureFilter(state: .dead),
            FailureFilter(job: "nope"),
        ]
        for filter in filters { try same("failures \(filter)") { try $0.failures(matching: filter) } }
        #expect(try s.postgres.failures(matching: FailureFilter()).map(\.failure.job) == ["B", "a", "b", "b"])
        try same("oldest held") { try $0.oldestHeldEventPosition() }

        let outboxFilters = [
            OutboxFilter(), OutboxFilter(states: [.dead, .disabled]), OutboxFilter(ids: [2, 4, 99]),
            OutboxFilter(limit: 2, order: .newestFirst), OutboxFilter(states: [.pending], ids: [1, 5], limit: 1),
            OutboxFilter(states: [], ids: []),
        ]
        for filter in outboxFilters { try same("outbox \(filter)") { try $0.outboxRows(matching: filter) } }

        try same("retry") { try $0.retryFailures(matching: FailureFilter(job: "b"), now: 99) }
        try same("failures after retry") { try $0.failures(matching: FailureFilter()) }
        try same("requeue") { try $0.requeue(matching: OutboxFilter(states: [.dead, .disabled]), now: 98) }
        try same("outbox after requeue") { try $0.outboxRows(matching: OutboxFilter()) }
        try same("status after requeue") { try $0.status() }
        #expect(try s.postgres.status()?.disabledEndpoints == [])

        try same("no metrics") { try $0.storedMetrics() }
        for store in s.both {
            try store.updateMetrics(
                adding: [MetricSample("b_total", 2), MetricSample("a_total", labels: #"r="x""#, 1)],
                setting: [MetricSample("Z_gauge", 1.5)])
            try store.updateMetrics(adding: [MetricSample("b_total", 3)], setting: [MetricSample("Z_gauge", 0.25)])
        }
        try same("metrics") { try $0.storedMetrics() }
        #expect(
            try s.postgres.storedMetrics() == [
                MetricSample("Z_gauge", 0.25), MetricSample("a_total", labels: #"r="x""#, 1),
                MetricSample("b_total", 5),
            ])
    }

    @Test func statusIsOneRoundTripAndNilBeforeAnyRun() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let store = try PGStore(connection: connection)
        var before = connection.roundTrips
        #expect(try store.status() == nil)
        #expect(connection.roundTrips - before == 1)
        #expect(try store.hasRunnerTables() == false)
        #expect(try store.storedMetrics() == [])
        #expect(try store.outboxRows(matching: OutboxFilter()) == [])
        try store.transaction { () throws(StoreError) in try store.createSchema() }
        try Self.populate(store)
        before = connection.roundTrips
        #expect(try store.status()?.checkpoints["b"]?.anchor.hash == 0xabc)
        #expect(connection.roundTrips - before == 1)
    }
}
