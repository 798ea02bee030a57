import ProjectorCore
import Testing

@Suite struct PostgresTextTests {
    @Test func namedParametersBecomePositionalOnesEachNameOnce() {
        let statements = PostgresText.statements(
            "INSERT INTO t(k, d, k2) VALUES(:key, :data::jsonb, :key) ON CONFLICT (k) DO NOTHING")
        #expect(statements.count == 1)
        #expect(statements[0].sql == "INSERT INTO t(k, d, k2) VALUES($1, $2::jsonb, $1) ON CONFLICT (k) DO NOTHING")
        #expect(statements[0].parameters == ["key", "data"])
    }

    @Test func statementsSplitAtTheirSemicolonsWithTheirLines() {
        let text = """
            -- a comment; not a statement
            DELETE FROM v WHERE id = :key;

            INSERT INTO v SELECT * FROM w WHERE id = :key
              AND note = ';';
            -- trailing comment only
            """
        let statements = PostgresText.statements(text)
        #expect(
            statements.map(\.sql) == [
                "-- a comment; not a statement\nDELETE FROM v WHERE id = $1",
                "INSERT INTO v SELECT * FROM w WHERE id = $1\n  AND note = ';'",
            ])
        #expect(statements.map(\.line) == [1, 3])
        #expect(statements.allSatisfy { $0.parameters == ["key"] })
    }

    @Test func quotedTextCommentsAndCastsAreNotParameters() {
        let text = """
            SELECT ':key', "col:key", E'it\\'s :key', $$ :key; $$, $fn$ :data $fn$, /* :key /* nested */ :x */
                x::text, arr[1:2], :position -- :metadata
            """
        let statements = PostgresText.statements(text)
        #expect(statements.count == 1)
        #expect(statements[0].parameters == ["position"])
        #expect(statements[0].sql.contains("x::text, arr[1:2], $1 -- :metadata"))
        #expect(statements[0].sql.hasPrefix(#"SELECT ':key', "col:key", E'it\'s :key', $$ :key; $$, $fn$ :data $fn$,"#))
    }

    @Test func aTypedParameterIsCastWhereverItStands() {
        let statements = PostgresText.statements(
            "SELECT :data->>'status', :data::jsonb, :key", types: ["data": "jsonb"])
        #expect(statements[0].sql == "SELECT ($1::jsonb)->>'status', ($1::jsonb)::jsonb, $2")
    }

    @Test func positionalParametersAndWordsEndingInAColonAreLeftAlone() {
        let statements = PostgresText.statements("SELECT $1, a:b FROM t")
        #expect(statements[0].sql == "SELECT $1, a:b FROM t")
        #expect(statements[0].parameters.isEmpty)
    }
}
