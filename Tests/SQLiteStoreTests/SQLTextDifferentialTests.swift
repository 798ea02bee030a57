import ProjectorCore
import QaHubDemo
import SQLiteStore
import Testing

/// `SQLText.usesParameter` against SQLite's own tokenizer: on generated statements that SQLite
/// prepares, it finds `:key` exactly when SQLite binds a parameter named key.
@Suite struct SQLTextDifferentialTests {
    static let fragments = [
        ":key", "@key", "$key", ":keyword", ":key2", ":KEY", "':key'", "'it''s :key'", "\":key\"", "[:key]", "`:key`",
        "-- :key\n", "/* :key */", "/* a */", "x'0a'", "1", "'x'", "a", "a$key", "(:key)", "(1)", "?", ":id", "@x",
        "'--'", "'/*'", "#key", "$key::x", ":key::x(1)", "@key(a)", "$a(:key)", "\"a\"\"b\"", "1e5",
        "coalesce(1, :key)", "'['", "[a]", "-", "+", "*",
    ]
    static let separators = [" ", ", ", " + ", "\n", "", " || ", "/**/"]

    @Test func findsKeyExactlyWhereSQLiteBindsIt() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t(a, b)")
        var rng = SplitMix64(seed: 20_261_127)
        var prepared = 0
        var withKey = 0
        for _ in 0..<6000 {
            var sql = "SELECT "
            for index in 0...(rng.next() % 5) {
                if index > 0 { sql += Self.separators[Int(rng.next() % UInt64(Self.separators.count))] }
                sql += Self.fragments[Int(rng.next() % UInt64(Self.fragments.count))]
            }
            if rng.next() % 3 == 0 { sql += " FROM t" }
            guard let statements = try? db.prepareAll(sql) else { continue }
            prepared += 1
            let sqliteBindsKey = statements.contains { statement, _ in
                (1...max(1, statement.parameterCount)).contains { index in
                    guard index <= statement.parameterCount, let name = statement.parameterName(at: index) else {
                        return false
                    }
                    return name.dropFirst() == "key"
                }
            }
            if sqliteBindsKey { withKey += 1 }
            #expect(SQLText.usesParameter("key", in: sql) == sqliteBindsKey, "\(sql)")
        }
        // The generator must exercise both answers often.
        #expect(prepared > 1000 && withKey > 300 && prepared - withKey > 300, "\(prepared) \(withKey)")
    }
}
