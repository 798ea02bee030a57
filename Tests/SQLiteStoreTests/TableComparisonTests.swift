import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `verify`: the live read model against a recomputation, whole (a scratch database) or key by key.
@Suite struct TableComparisonTests {
    @Test func aWholeComparisonListsRowsMissingOrDifferentAndUnexpectedPerTableIgnoringProjectorsOwn() throws {
        let f = try OperatorStoreFixture()
        try f.store.db.execute(
            """
            CREATE TABLE scores(key TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO scores VALUES('a', 1), ('b', 2), ('x', 9);
            CREATE TABLE same(k TEXT);
            INSERT INTO same VALUES('s');
            """)
        let scratch = try Database(path: f.dir.file("scratch.db"))
        try scratch.execute(
            """
            CREATE TABLE scores(key TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO scores VALUES('a', 1), ('b', 3), ('c', 4);
            CREATE TABLE same(k TEXT);
            INSERT INTO same VALUES('s');
            CREATE TABLE projector_checkpoints(job TEXT);
            INSERT INTO projector_checkpoints VALUES('scores');
            """)
        let drifts = try f.store.compareTables(withScratchAt: f.dir.file("scratch.db"))
        #expect(
            drifts == [
                ReadModelDrift(
                    table: "same", missingOrDifferent: [], unexpected: [], missingCount: 0, unexpectedCount: 0),
                ReadModelDrift(
                    table: "scores", missingOrDifferent: ["(b, 3)", "(c, 4)"], unexpected: ["(b, 2)", "(x, 9)"],
                    missingCount: 2, unexpectedCount: 2),
            ])
        #expect(try f.store.db.rows("PRAGMA database_list").count == 1, "the scratch database is detached again")
    }

    @Test func aSampleRecomputesEachKeyAloneAndComparesItOneWay() throws {
        let dir = TemporaryDirectory("projector-sample")
        let live = try Database(path: dir.file("live.db"))
        try live.execute(
            """
            CREATE TABLE lengths(key TEXT PRIMARY KEY, n INTEGER);
            INSERT INTO lengths VALUES('a', 1), ('bb', 5), ('extra', 0);
            """)
        let app = try Database(path: dir.file("app.db"))
        try app.execute("CREATE TABLE words(w TEXT); INSERT INTO words VALUES('a'), ('bb'), ('ccc');")
        let job = try JobFileParser.parse(
            name: "lengths", file: "jobs/lengths.sql",
            text: """
                -- on: WORD key: aggregateId
                -- @setup
                CREATE TABLE IF NOT EXISTS lengths(key TEXT PRIMARY KEY, n INTEGER);
                -- @refresh
                INSERT INTO lengths SELECT w, length(w) FROM app.words WHERE w = :key;
                -- @keys
                SELECT w FROM app.words ORDER BY w
                """)
        let scratch = try SampleScratch(
            job,
            in: SampleScratch.open(
                livePath: dir.file("live.db"),
                attachments: [Attachment(name: "app", path: dir.file("app.db"), readOnly: true)]))
        #expect(try scratch.allKeys() == ["a", "bb", "ccc"])
        #expect(try scratch.recompute(key: "a").map(\.missingCount) == [0])
        let bb = try scratch.recompute(key: "bb")
        #expect(
            bb == [
                ReadModelDrift(
                    table: "lengths", missingOrDifferent: ["(bb, 2)"], unexpected: [], missingCount: 1,
                    unexpectedCount: 0)
            ])
        #expect(try scratch.recompute(key: "ccc").first?.missingOrDifferent == ["(ccc, 3)"])
        #expect(try live.rows("SELECT count(*) FROM lengths").first?.first?.int == 3, "the live database is untouched")
    }
}
