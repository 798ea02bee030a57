import PostgresClient
import PostgresStore
import ProjectorCore
import TestSupport
import Testing

/// An optimistic batch on PostgreSQL sends a job's statements in pipelines: a few round trips per
/// batch instead of one per statement, and a failing statement still rolls the whole savepoint back.
@Suite(.postgresServer) struct PostgresPipelineTests {
    static let job = """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS counts(key text PRIMARY KEY, n bigint NOT NULL CHECK (n < 1000));
        -- @refresh
        INSERT INTO counts(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = counts.n + 1;
        UPDATE counts SET n = n + 999 WHERE key = :key AND key LIKE 'poison%';
        """

    func prepared() throws -> (PGStore, any CompiledJobStatements, PostgresTestDatabase) {
        let database = try PostgresTestDatabase()
        let store = try PGStore(connection: try database.connect())
        let definition = try JobFileParser.parse(name: "counts", file: "jobs/counts.sql", text: Self.job)
        let compiled = try store.transaction { () throws(StoreError) in
            try store.createSchema()
            do throws(JobFileErrors) {
                try store.setUp(definition)
                return try store.compile(definition)
            } catch {
                throw StoreError(kind: .other, message: "\(error)", code: "", description: "\(error)")
            }
        }
        return (store, compiled, database)
    }

    @Test func aBatchOfKeysCostsARoundTripPerThousandStatements() throws {
        let (store, compiled, database) = try prepared()
        defer { withExtendedLifetime(database) {} }
        let keys = (0..<500).map { "k\($0)" }
        let before = store.connection.roundTrips
        try store.transaction { () throws(StoreError) in
            try store.pipelinedSavepoint { () throws(StoreError) in try compiled.refresh(keys: keys) }
        }
        // BEGIN, 1,000 statements with the SAVEPOINT and RELEASE in two pipelines, COMMIT.
        #expect(store.connection.roundTrips - before <= 4)
        #expect(try store.connection.query("SELECT count(*) FROM counts").first?.int(0) == 500)
    }

    @Test func aFailingStatementRollsTheWholeSavepointBackAndTheTransactionGoesOn() throws {
        let (store, compiled, database) = try prepared()
        defer { withExtendedLifetime(database) {} }
        let keys = ["a", "b", "poison", "c"]
        try store.transaction { () throws(StoreError) in
            do throws(StoreError) {
                try store.pipelinedSavepoint { () throws(StoreError) in try compiled.refresh(keys: keys) }
                Issue.record("the poisoned key did not fail")
            } catch {
                #expect(error.isKeyLocal, "\(error)")
                #expect(error.message.contains("counts_n_check"), "\(error)")
            }
            // As the runner does next: key by key, in plain savepoints.
            for key in keys {
                do throws(StoreError) {
                    try store.savepoint { () throws(StoreError) in try compiled.refresh(key: key) }
                } catch {
                    #expect(key == "poison")
                }
            }
        }
        #expect(
            try store.connection.query("SELECT key, n FROM counts ORDER BY key").map { [$0.string(0), $0.string(1)] }
                == [["a", "1"], ["b", "1"], ["c", "1"]])
    }
}
