import ProjectorCore
import Testing

/// `@refresh_batch`: a refresh job's optional statements for all of a batch's keys at once.
@Suite struct RefreshBatchSectionTests {
    func parse(_ text: String) throws(JobFileErrors) -> JobDefinition {
        try JobFileParser.parse(name: "job", file: "jobs/job.sql", text: text)
    }

    func errors(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    static let refresh = """
        -- on: PING
        -- @setup
        CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY, n INTEGER);
        -- @refresh
        DELETE FROM v WHERE id = :key;
        INSERT INTO v SELECT id, n FROM w WHERE id = :key;
        """

    static let keys = """
        -- @keys
        SELECT id FROM w
        """

    @Test func theSectionIsReadWithItsLine() throws {
        let job = try parse(
            Self.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);
                INSERT INTO v SELECT id, n FROM w WHERE id IN (SELECT key FROM Batch_Keys);

                """ + Self.keys)
        #expect(job.batchRefresh?.line == 8)
        #expect(job.batchRefresh?.text.hasPrefix("DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);") == true)
        #expect(job.body.text.contains("batch_keys") == false)
        #expect(try parse(Self.refresh + "\n" + Self.keys).batchRefresh == nil)
    }

    /// On PostgreSQL, `batch_keys.key` is text and is cast where it meets a number: `key::bigint`
    /// is a cast, not a parameter, while a parameter is still refused.
    @Test func aPostgresCastOfTheKeyIsNoParameter() throws {
        let job = try parse(
            "-- dialect: postgres\n" + Self.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key::bigint FROM batch_keys);
                INSERT INTO v SELECT id, n FROM w WHERE id IN (SELECT key :: bigint FROM batch_keys);

                """ + Self.keys)
        #expect(job.batchRefresh != nil)
        let refused = errors(
            "-- dialect: postgres\n" + Self.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key::bigint FROM batch_keys) OR id = :key;

                """ + Self.keys)
        #expect(refused.count == 1)
        #expect(refused.first?.contains("takes no parameter (':key')") == true, "\(refused)")
    }

    /// Both forms must leave the same rows, so the batch form changes how fast a job runs, not
    /// what its read model holds: adding or editing it asks for no rebuild.
    @Test func theFingerprintLeavesTheSectionOut() throws {
        let without = try parse(Self.refresh + "\n" + Self.keys)
        let with = try parse(
            Self.refresh + "\n-- @refresh_batch\nDELETE FROM v WHERE id IN (SELECT key FROM batch_keys);\n" + Self.keys)
        let edited = try parse(
            Self.refresh + "\n-- @refresh_batch\nDELETE FROM v WHERE id IN (SELECT key FROM temp.batch_keys);\n"
                + Self.keys)
        #expect(with.fingerprint == without.fingerprint)
        #expect(edited.fingerprint == without.fingerprint)
        #expect(with.textFingerprint != without.textFingerprint)
    }

    @Test(arguments: [
        (
            "a parameter",
            RefreshBatchSectionTests.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);
                -- one key only, by mistake:
                INSERT INTO v SELECT id, n FROM w WHERE id = :key;

                """ + RefreshBatchSectionTests.keys,
            [
                "jobs/job.sql:10: '@refresh_batch' takes no parameter (':key'): it runs once for all of a batch's "
                    + "keys, which it reads from the table batch_keys(key)"
            ]
        ),
        (
            "no keys table",
            RefreshBatchSectionTests.refresh + """

                -- @refresh_batch
                -- batch_keys in a comment is not a use, nor is 'batch_keys' in a string
                DELETE FROM v WHERE 'batch_keys' <> '';

                """ + RefreshBatchSectionTests.keys,
            [
                "jobs/job.sql:7: '@refresh_batch' never reads batch_keys, so it would refresh the same rows "
                    + "whichever keys a batch holds; select the batch's keys with '(SELECT key FROM batch_keys)'"
            ]
        ),
        (
            "no @keys",
            RefreshBatchSectionTests.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);
                """,
            [
                "jobs/job.sql:7: '@refresh_batch' needs a '@keys' section, so that 'projector verify' can check it "
                    + "against @refresh key by key"
            ]
        ),
        (
            "empty",
            RefreshBatchSectionTests.refresh + "\n-- @refresh_batch\n-- nothing yet\n" + RefreshBatchSectionTests.keys,
            ["jobs/job.sql:7: section '@refresh_batch' holds no SQL statement"]
        ),
        (
            "an apply job",
            """
            -- on: PING
            -- @apply
            INSERT INTO log VALUES(:key);
            -- @refresh_batch
            INSERT INTO log SELECT key FROM batch_keys;
            """,
            ["jobs/job.sql:4: '@refresh_batch' belongs to refresh jobs; an apply job applies each event in turn"]
        ),
        (
            "a whole refresh",
            """
            -- on: PING
            -- refresh: whole
            -- @refresh
            DELETE FROM total; INSERT INTO total SELECT count(*) FROM w;
            -- @refresh_batch
            DELETE FROM total WHERE 0 IN (SELECT key FROM batch_keys);
            -- @keys
            SELECT 1
            """,
            [
                "jobs/job.sql:5: '@refresh_batch' refreshes a batch's keys, but this job declares 'refresh: whole': "
                    + "its @refresh already recomputes the whole read model"
            ]
        ),
        (
            "twice",
            RefreshBatchSectionTests.refresh + """

                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);
                -- @refresh_batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);

                """ + RefreshBatchSectionTests.keys,
            ["jobs/job.sql:9: section '@refresh_batch' appears twice (first at line 7)"]
        ),
        (
            "spelt with a dash",
            RefreshBatchSectionTests.refresh + """

                -- @refresh-batch
                DELETE FROM v WHERE id IN (SELECT key FROM batch_keys);

                """ + RefreshBatchSectionTests.keys,
            [
                "jobs/job.sql:7: unknown section '@refresh-batch' (expected @setup, @refresh, @refresh_batch, @apply "
                    + "or @keys)",
                "jobs/job.sql:8: SQL outside a section: put it under '-- @setup', '-- @refresh', '-- @apply' or "
                    + "'-- @keys'",
            ]
        ),
    ])
    func mistakesAreReportedOnTheirLines(_ case: String, _ text: String, _ expected: [String]) {
        #expect(errors(text) == expected, "\(`case`)")
    }

    @Test func namesAreFoundAsWordsOrQuotedIdentifiersOnly() {
        #expect(SQLText.usesName("batch_keys", in: "SELECT key FROM batch_keys"))
        #expect(SQLText.usesName("batch_keys", in: "SELECT key FROM temp.BATCH_KEYS;"))
        #expect(SQLText.usesName("batch_keys", in: "SELECT key FROM \"batch_keys\""))
        #expect(!SQLText.usesName("batch_keys", in: "SELECT key FROM batch_keys2"))
        #expect(!SQLText.usesName("batch_keys", in: "SELECT 'batch_keys' -- batch_keys"))
        #expect(SQLText.firstParameter(in: "SELECT 1;\n-- :key\nSELECT ':a', @b") ?? ("", -1) == ("@b", 2))
        #expect(SQLText.firstParameter(in: "SELECT ':a'") == nil)
    }
}
