import Foundation
import ProjectorCore
import Testing

@Suite struct JobFileParserTests {
    func parse(_ text: String, name: String = "job") throws(JobFileErrors) -> JobDefinition {
        try JobFileParser.parse(name: name, file: "jobs/\(name).sql", text: text)
    }

    func errors(_ text: String, name: String = "job") -> [String] {
        do {
            _ = try parse(text, name: name)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func parsesAnnotationsAndSections() throws {
        let job = try parse(
            """
            -- The test runs list. Note: free comments are fine.
            -- on: TEST_RUN_CREATED, TEST_RUN_UPDATED   key: aggregateId
            -- on: TEST_RUN_RESULT_*                   key: data.testRunId
            -- after: other
            -- webhooks: qa-dashboard, cache
            -- @setup create the table
            CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY);
            -- @refresh
            DELETE FROM v WHERE id = :key;
            INSERT INTO v SELECT :key;
            -- @keys
            SELECT id FROM w
            """
        )
        #expect(job.mode == .refresh)
        #expect(job.subscriptions.count == 2)
        #expect(job.subscriptions[0].patterns.map(\.text) == ["TEST_RUN_CREATED", "TEST_RUN_UPDATED"])
        #expect(job.subscriptions[0].key == .aggregateId)
        #expect(job.subscriptions[1].key == .data(["testRunId"]))
        #expect(job.subscriptions[1].line == 3)
        #expect(job.after == ["other"])
        #expect(job.webhooks == ["qa-dashboard", "cache"])
        #expect(job.setup?.line == 7)
        #expect(job.body.line == 9)
        #expect(job.body.text.contains("INSERT INTO v SELECT :key;"))
        #expect(job.keys?.text == "SELECT id FROM w")
        #expect(job.fingerprint.hasPrefix("v2:") && job.fingerprint.count == 19)
    }

    @Test func aDialectLineSaysWhichDatabaseTheSQLIsFor() throws {
        let body = "-- on: A  key: aggregateId\n-- @refresh\nDELETE FROM v WHERE id = :key;"
        #expect(try parse(body).dialect == .sqlite)
        let postgres = try parse("-- dialect: postgres\n" + body)
        #expect(postgres.dialect == .postgres)
        #expect(postgres.dialectLine == 1)
        #expect(try parse("-- dialect: PostgreSQL\n" + body).dialect == .postgres)
        #expect(try parse("-- dialect: sqlite\n" + body).dialect == .sqlite)
        #expect(
            errors("-- dialect: mysql\n" + body) == [
                "jobs/job.sql:1: 'dialect:' takes 'sqlite' or 'postgres' (the database the SQL is written for)"
            ])
    }

    @Test func aPostgresRefreshThatCastsItsKeyUsesTheKey() throws {
        let job = "-- dialect: postgres\n-- on: A  key: aggregateId\n-- @refresh\nDELETE FROM v WHERE id = :key::text;"
        #expect(try parse(job).mode == .refresh)
        // On SQLite `:key::text` is one parameter named `key::text`: the key is never used.
        #expect(
            errors(String(job.dropFirst("-- dialect: postgres\n".count))).first?.contains("never uses :key") == true)
    }

    @Test func fingerprintFollowsTheSQL() throws {
        let a = try parse("-- on: A\n-- @apply\nSELECT 1;")
        let b = try parse("-- on: A\n-- @apply\nSELECT 2;")
        #expect(a.mode == .apply)
        #expect(a.fingerprint != b.fingerprint)
        #expect(a.fingerprint == (try parse("-- on: A\n-- @apply\nSELECT 1;")).fingerprint)
    }

    @Test(arguments: [
        (
            "-- on: A\n-- @refresh\nSELECT 1;\n-- @apply\nSELECT 2;",
            "jobs/job.sql:4: a job has either '@refresh' or '@apply', not both"
        ),
        (
            "-- on: A\n-- @setup\nSELECT 1;",
            "jobs/job.sql:1: no '-- @refresh' or '-- @apply' section: the job would do nothing"
        ),
        ("-- @refresh\nSELECT 1;", "jobs/job.sql:1: no '-- on:' line: the job listens to no event type"),
        (
            "-- on: A\n-- @refresh\nSELECT 1;\n-- @refresh\nSELECT 2;",
            "jobs/job.sql:4: section '@refresh' appears twice (first at line 2)"
        ),
        (
            "-- on: A\n-- @refreshh\nSELECT 1;",
            "jobs/job.sql:2: unknown section '@refreshh' (expected @setup, @refresh, @refresh_batch, @apply or @keys)"
        ),
        (
            "-- onn: A\n-- @refresh\nSELECT 1;",
            "jobs/job.sql:1: unknown annotation 'onn:' (expected on:, after:, webhooks:, apply:, refresh: or dialect:)"
        ),
        (
            "-- on: A key: id\n-- @refresh\nSELECT 1;",
            "jobs/job.sql:1: unknown key 'id' (expected 'aggregateId' or a path such as 'data.testRunId')"
        ),
        ("-- on: A key: data.\n-- @refresh\nSELECT 1;", "jobs/job.sql:1: invalid key path 'data.'"),
        ("-- on:    key: aggregateId\n-- @refresh\nSELECT 1;", "jobs/job.sql:1: 'on:' lists no event type"),
        ("-- on: A(B)\n-- @refresh\nSELECT 1;", "jobs/job.sql:1: invalid event type 'A(B)'"),
        (
            "-- on: A\nSELECT 1;\n-- @refresh\nSELECT 1;",
            "jobs/job.sql:2: SQL outside a section: put it under '-- @setup', '-- @refresh', '-- @apply' or '-- @keys'"
        ),
        (
            "-- on: A\n-- @apply\nSELECT 1;\n-- @keys\nSELECT 1",
            "jobs/job.sql:4: '@keys' belongs to refresh jobs; an apply job replays events instead"
        ),
        ("-- on: A\n-- @refresh\n-- nothing here\n", "jobs/job.sql:2: section '@refresh' holds no SQL statement"),
        (
            "-- on: A\n-- @refresh\nSELECT 1;\n-- on: B",
            "jobs/job.sql:4: annotation 'on:' must come before the first section"
        ),
    ])
    func reportsErrorsWithLines(text: String, expected: String) {
        #expect(errors(text).contains(expected), "\(errors(text))")
    }

    /// Both sections: one error on the second marker, and no bogus `:0:` about an empty section.
    @Test func bothBodiesGiveOneErrorOnTheSecondMarker() {
        #expect(
            errors("-- on: A\n-- @refresh\nSELECT :key;\n-- @apply\nSELECT 2;") == [
                "jobs/job.sql:4: a job has either '@refresh' or '@apply', not both"
            ])
    }

    @Test func afterAndWebhooksEntriesRememberTheirLines() throws {
        let job = try parse("-- on: A\n-- after: x, y\n-- webhooks: hook\n-- after: z\n-- @apply\nSELECT 1;")
        #expect(job.line(ofAfter: "y") == 2)
        #expect(job.line(ofAfter: "z") == 4)
        #expect(job.line(ofWebhook: "hook") == 3)
        #expect(
            errors("-- on: A\n-- after: other\n-- after: job\n-- @apply\nSELECT 1;") == [
                "jobs/job.sql:3: job 'job' lists itself under 'after:'"
            ])
    }

    // MARK: A refresh must use :key

    /// A `@refresh` without `:key` rewrites the same rows for every key: an error on the
    /// `@refresh` line, whatever the comments and strings in it say.
    @Test(arguments: [
        "DELETE FROM v; INSERT INTO v SELECT count(*) FROM w;",
        "-- WHERE id = :key\nDELETE FROM v;",
        "/* :key */ DELETE FROM v;",
        "DELETE FROM v WHERE note = ':key';",
        "DELETE FROM v WHERE \":key\" = 1;",
        "DELETE FROM v WHERE [:key] = 1;",
        "DELETE FROM v WHERE id = :keyword;",
        "DELETE FROM v WHERE id = a$key;",
        "UPDATE v SET n = 1 WHERE id = 7;",
    ])
    func aRefreshThatNeverUsesKeyIsAnError(body: String) {
        let found = errors("-- on: A\n\n-- @refresh\n\(body)")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.hasPrefix("jobs/job.sql:3: '@refresh' never uses :key") == true, "\(found)")
    }

    @Test(arguments: [
        "DELETE FROM v WHERE id = :key;",
        "DELETE FROM v WHERE id=@key;",
        "DELETE FROM v WHERE id = $key;",
        "/* first */ DELETE FROM v WHERE id = (:key);",
        "DELETE FROM v WHERE note = 'it''s' AND id = :key;",
        "DELETE FROM v;\nINSERT INTO v SELECT * FROM w WHERE w.id = :key",
    ])
    func aRefreshUsingKeyIsAccepted(body: String) {
        #expect(errors("-- on: A\n-- @refresh\n\(body)") == [])
    }

    @Test func refreshWholeDeclaresAWholeTableRefresh() throws {
        let job = try parse("-- on: A\n-- refresh: whole\n-- @refresh\nDELETE FROM v; INSERT INTO v SELECT 1;")
        #expect(job.refreshesWhole)
        #expect(try parse("-- on: A\n-- @refresh\nSELECT :key;").refreshesWhole == false)
        #expect(
            errors("-- on: A\n-- refresh: all\n-- @refresh\nSELECT :key;") == [
                "jobs/job.sql:2: 'refresh:' takes one value, 'whole' (each refresh recomputes the whole read model)"
            ])
        #expect(
            errors("-- on: A\n-- refresh: whole\n-- @apply\nSELECT 1;") == [
                "jobs/job.sql:2: 'refresh: whole' is for @refresh jobs; an @apply job need not use :key"
            ])
    }

    // MARK: Fingerprints follow meaning

    static let base = """
        -- The view.
        -- on: A, B   key: aggregateId
        -- webhooks: dash
        -- @setup
        CREATE TABLE IF NOT EXISTS v(id TEXT PRIMARY KEY, note TEXT);
        -- @refresh
        DELETE FROM v WHERE id = :key;
        INSERT INTO v VALUES(:key, 'a  b -- c');
        """

    /// Comments, blank lines, indentation, line breaks and `webhooks:` do not touch the read model.
    @Test(arguments: [
        base.replacingOccurrences(of: "-- The view.", with: "-- The view, reworded."),
        base + "\n-- a trailing comment\n",
        base.replacingOccurrences(
            of: "DELETE FROM v WHERE id = :key;", with: "DELETE  FROM v\n    WHERE id = :key; -- gone"),
        base.replacingOccurrences(of: "INSERT INTO v", with: "/* upsert */ INSERT INTO v"),
        base.replacingOccurrences(of: "id = :key;", with: "id=:key ;").replacingOccurrences(of: "v(", with: "v ("),
        base.replacingOccurrences(of: "-- @refresh", with: "-- @refresh   one key at a time\n"),
        base.replacingOccurrences(of: "A, B   key", with: "A,B key"),
        base.replacingOccurrences(of: "-- webhooks: dash", with: "-- webhooks: dash, cache"),
        base.replacingOccurrences(of: "\n", with: "\r\n"),
    ])
    func aCommentOrLayoutChangeKeepsTheFingerprint(edited: String) throws {
        #expect(try parse(edited).fingerprint == (try parse(Self.base)).fingerprint)
    }

    @Test(arguments: [
        base.replacingOccurrences(of: "'a  b -- c'", with: "'a b -- c'"),
        base.replacingOccurrences(of: "id = :key;", with: "id = :key OR 1;"),
        base.replacingOccurrences(of: "key: aggregateId", with: "key: data.id"),
        base.replacingOccurrences(of: "A, B", with: "A, C"),
        base.replacingOccurrences(of: "note TEXT", with: "note TEXT NOT NULL"),
        base.replacingOccurrences(of: "-- webhooks: dash", with: "-- after: other"),
        base + "\n-- @keys\nSELECT id FROM w",
    ])
    func aChangeInMeaningChangesTheFingerprint(edited: String) throws {
        #expect(try parse(edited).fingerprint != (try parse(Self.base)).fingerprint)
    }

    /// A checkpoint stored before fingerprints were versioned holds the hash of the whole text: it
    /// still matches the same file, and only that.
    @Test func aFingerprintStoredBeforeVersioningStillMatchesTheSameFile() throws {
        let job = try parse(Self.base)
        #expect(job.matchesFingerprint(job.fingerprint))
        #expect(job.matchesFingerprint(Fingerprint.hex(Fingerprint.fnv1a(Self.base))))
        #expect(!job.matchesFingerprint(Fingerprint.hex(Fingerprint.fnv1a(Self.base + "\n"))))
        #expect(!job.matchesFingerprint("v2:0000000000000000"))
    }

    @Test(arguments: [
        ("SELECT  1 ;\n", "SELECT 1;"),
        ("SELECT * FROM v WHERE id = :key AND n IN ( 1 , 2 )", "SELECT*FROM v WHERE id=:key AND n IN(1,2)"),
        ("SELECT a.b, count (*) AS n", "SELECT a.b,count(*)AS n"),
        ("SELECT $key, x 'a', X'0A'", "SELECT $key,x 'a',X'0A'"),
        ("  SELECT\t1 -- one\nFROM t", "SELECT 1 FROM t"),
        ("SELECT/* x */1", "SELECT 1"),
        ("SELECT 'a  -- b /* c */'", "SELECT 'a  -- b /* c */'"),
        ("SELECT \"a  b\", [c  d], `e  f`", "SELECT \"a  b\",[c  d],`e  f`"),
        ("SELECT 'it''s  x'", "SELECT 'it''s  x'"),
        ("SELECT 1 /* unterminated", "SELECT 1"),
        ("SELECT 'unterminated  ", "SELECT 'unterminated  "),
        ("-- only a comment", ""),
    ])
    func normalizesSQL(text: String, expected: String) {
        #expect(SQLText.normalized(text) == expected)
    }

    @Test func reportsEveryErrorAtOnce() {
        let found = errors("-- onn: A\n-- bogus: x\n-- @refreshh\n")
        #expect(found.count >= 3)
    }

    @Test func rejectsBadJobNames() {
        #expect(errors("-- on: A\n-- @refresh\nSELECT 1;", name: "bad name").first?.contains("job name") == true)
    }

    @Test(arguments: [
        ("TEST_RUN_*", "TEST_RUN_CREATED", true),
        ("TEST_RUN_*", "TEST_RUN_RESULT_CREATED", true),
        ("TEST_RUN_*", "TEST_CASE_CREATED", false),
        ("*_DELETED", "BUG_BUDGET_DELETED", true),
        ("*", "ANYTHING", true),
        ("A*B*C", "AxxBxxC", true),
        ("A*B*C", "AxxBxx", false),
        ("EXACT", "EXACT", true),
        ("EXACT", "EXACTLY", false),
    ])
    func globsMatch(pattern: String, type: String, expected: Bool) {
        #expect(EventPattern(pattern).matches(type) == expected)
    }
}

@Suite struct JobCatalogTests {
    func job(_ name: String, after: [String] = []) throws(JobFileErrors) -> JobDefinition {
        let afterLine = after.isEmpty ? "" : "-- after: \(after.joined(separator: ", "))\n"
        return try JobFileParser.parse(
            name: name, file: "jobs/\(name).sql", text: "-- on: A\n\(afterLine)-- @apply\nSELECT 1;")
    }

    @Test func ordersByDependencies() throws {
        let catalog = try JobCatalog([job("c", after: ["b"]), job("b", after: ["a"]), job("a"), job("d")])
        #expect(catalog.jobs.map(\.name) == ["a", "b", "c", "d"])
    }

    @Test func rejectsCycles() throws {
        let jobs = [try job("a", after: ["c"]), try job("b", after: ["a"]), try job("c", after: ["b"])]
        var message = ""
        do {
            _ = try JobCatalog(jobs)
        } catch {
            message = error.description
        }
        #expect(message.contains("'after:' forms a cycle"))
    }

    /// The cycle is reported on the `after:` line that closes it, not on line 1.
    @Test func aCycleIsReportedOnItsAfterLine() throws {
        let a = try JobFileParser.parse(
            name: "a", file: "jobs/a.sql", text: "-- Reads b.\n-- on: A\n-- after: b\n-- @apply\nSELECT 1;")
        let b = try JobFileParser.parse(
            name: "b", file: "jobs/b.sql", text: "-- on: A\n-- webhooks: x\n-- after: a\n-- @apply\nSELECT 1;")
        do {
            _ = try JobCatalog([a, b])
            Issue.record("accepted a cycle")
        } catch {
            #expect(error.errors.map(\.description) == ["jobs/a.sql:3: 'after:' forms a cycle: a → b → a"])
        }
    }

    @Test func rejectsUnknownDependencies() throws {
        do {
            _ = try JobCatalog([try job("a", after: ["ghost"])])
            Issue.record("accepted an unknown dependency")
        } catch {
            #expect(error.errors.map(\.description) == ["jobs/a.sql:2: 'after:' names 'ghost', which is not a job"])
        }
    }

    @Test func routesEventTypesToJobsWithAllMatchingKeys() throws {
        let job = try JobFileParser.parse(
            name: "v", file: "v.sql",
            text: "-- on: A, B key: aggregateId\n-- on: A key: data.x\n-- @refresh\nSELECT :key;"
        )
        var router = EventRouter(jobs: [job])
        #expect(router.routes(for: "A").first?.keys == [.aggregateId, .data(["x"])])
        #expect(router.routes(for: "B").first?.keys == [.aggregateId])
        #expect(router.routes(for: "C").isEmpty)
    }

    @Test func retryDelaysDoubleUpToTheCap() {
        let policy = RetryPolicy(baseDelay: 10, maxDelay: 60, maxAttempts: 3)
        #expect(policy.delay(afterAttempt: 1) == 10)
        #expect(policy.delay(afterAttempt: 2) == 20)
        #expect(policy.delay(afterAttempt: 3) == 40)
        #expect(policy.delay(afterAttempt: 4) == 60)
        #expect(!policy.isDead(attempts: 2))
        #expect(policy.isDead(attempts: 3))
    }
}

@Suite struct BatchSizerTests {
    @Test func growsTowardTheTargetWhenBatchesAreCheap() {
        var sizer = BatchSizer(maxEvents: 20_000, target: 0.25, initial: 1000)
        sizer.record(events: 1000, seconds: 0.01)
        #expect(sizer.size == 20_000)
    }

    @Test func growsAtMostTwentyfoldInOneStep() {
        var sizer = BatchSizer(maxEvents: 1_000_000, target: 0.25, initial: 1000)
        sizer.record(events: 1000, seconds: 0.001)
        #expect(sizer.size == 20_000)
    }

    @Test func shrinksWhenPerEventCostDominates() {
        var sizer = BatchSizer(maxEvents: 20_000, target: 0.25, initial: 10_000)
        sizer.record(events: 10_000, seconds: 1.0)  // 100 µs an event
        #expect(sizer.size == 2250)
        sizer.record(events: 2250, seconds: 0.225)
        #expect((2000...2300).contains(sizer.size))
    }

    @Test func takesTheLargestBatchWhenAFixedCostAloneExceedsTheTarget() {
        // Each batch costs 0.4 s whatever its size (refreshing the same few expensive keys).
        var sizer = BatchSizer(maxEvents: 20_000, target: 0.25, initial: 1000)
        sizer.record(events: 1000, seconds: 0.41)
        sizer.record(events: Int(sizer.size), seconds: 0.40 + Double(sizer.size) * 0.000_001)
        sizer.record(events: Int(sizer.size), seconds: 0.40 + Double(sizer.size) * 0.000_001)
        #expect(sizer.size == 20_000)
    }

    @Test func keepsTheLargestBatchWhileItsFixedCostStays() {
        // A batch as large as the one before says nothing new about the fixed part: taking its
        // whole time as per-event cost would halve the next batch and repeat the fixed cost more.
        var sizer = BatchSizer(maxEvents: 20_000, target: 0.25, initial: 1000)
        for _ in 0..<3 { sizer.record(events: sizer.size, seconds: 0.4 + Double(sizer.size) * 0.000_001) }
        #expect(sizer.size == 20_000)
        for seconds in [0.45, 0.43, 0.6, 0.44] {
            sizer.record(events: 20_000, seconds: seconds)
            #expect(sizer.size == 20_000)
        }
    }

    @Test func shrinksWhenPerEventCostOutgrowsAKnownFixedCost() {
        var sizer = BatchSizer(maxEvents: 20_000, target: 0.25, initial: 1000)
        for _ in 0..<3 { sizer.record(events: sizer.size, seconds: 0.4 + Double(sizer.size) * 0.000_001) }
        sizer.record(events: 20_000, seconds: 0.42)
        #expect(sizer.size == 20_000)
        // The events got 250 times dearer: the per-event part is kept within the fixed part.
        sizer.record(events: 20_000, seconds: 5.4)
        #expect((1500...1700).contains(sizer.size))
        sizer.record(events: sizer.size, seconds: 0.4 + Double(sizer.size) * 0.00025)
        #expect((1400...1800).contains(sizer.size))
    }
}

@Suite struct GlobRegressionTests {
    /// Found by fuzzing the job-file parser: many stars made matching exponential. Exponential
    /// matching of these never ends, so the guard only stops a hang.
    @Test func manyStarsMatchInLinearTime() {
        final class Results: @unchecked Sendable { var values: [Bool] = [] }
        let results = Results()
        let done = DispatchSemaphore(value: 0)
        Thread {
            let type = String(repeating: "A", count: 200)
            results.values = [
                EventPattern(String(repeating: "A*", count: 40) + "B").matches(type),
                EventPattern(String(repeating: "A*", count: 40)).matches(type),
            ]
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 60) == .success, "matching many stars does not end")
        #expect(results.values == [false, true])
    }
}
