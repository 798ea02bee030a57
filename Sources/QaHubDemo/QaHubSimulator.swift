public import Journal
import ProjectorCore
public import SQLiteStore

/// Simulates the QaHub API: each operation writes the write model, and once its transaction has
/// committed, the matching domain events are appended to the journal (the API's contract, SPEC §2).
/// Deterministic for a given seed.
public final class QaHubSimulator {
    public let db: Database
    let journal: JournalWriter
    var rng: SplitMix64
    /// Simulated time, epoch milliseconds.
    var now: Int64 = 1_793_491_200_000  // 2026-11-01T00:00:00Z
    var eventNumber = 0
    var ids: [String: Int64] = [:]
    var projects: [Int64] = []
    var runs: [(id: Int64, project: Int64)] = []
    var results: [(id: Int64, run: Int64, project: Int64)] = []
    var budgets: [(id: Int64, project: Int64)] = []
    var testCases: [(id: Int64, project: Int64)] = []
    var pending: [UInt8] = []
    var statements: [String: Statement] = [:]
    public private(set) var eventsByType: [String: Int] = [:]
    public private(set) var events = 0

    static let statuses = ["passed", "passed", "passed", "passed", "failed", "skipped", "blocked"]

    public init(writeModelPath: String, journal: JournalWriter, seed: UInt64 = 42) throws {
        db = try Database(path: writeModelPath)
        self.journal = journal
        rng = SplitMix64(seed: seed)
        try db.execute(WriteModel.schema)
        // Event ids stay unique across simulator instances (a later process resumes the count).
        try db.execute("CREATE TABLE IF NOT EXISTS simulator_state(name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        eventNumber = try db.rows("SELECT value FROM simulator_state WHERE name = 'events'").first?.first?.int ?? 0
        for table in ["projects", "repositories", "test_cases", "test_runs", "test_run_results", "bug_budgets"] {
            ids[table] = Int64(try db.rows("SELECT coalesce(max(id), 0) FROM \(table)").first?.first?.int ?? 0)
        }
        projects = try db.rows("SELECT id FROM projects").compactMap { $0[0].int.map(Int64.init) }
        runs = try db.rows("SELECT id, project_id FROM test_runs ORDER BY id").map {
            (Int64($0[0].int ?? 0), Int64($0[1].int ?? 0))
        }
        results = try db.rows(
            "SELECT x.id, x.test_run_id, r.project_id FROM test_run_results x JOIN test_runs r ON r.id = x.test_run_id ORDER BY x.id DESC LIMIT 5000"
        ).map { (Int64($0[0].int ?? 0), Int64($0[1].int ?? 0), Int64($0[2].int ?? 0)) }
        budgets = try db.rows("SELECT id, project_id FROM bug_budgets").map {
            (Int64($0[0].int ?? 0), Int64($0[1].int ?? 0))
        }
        testCases = try db.rows("SELECT id, project_id FROM test_cases").map {
            (Int64($0[0].int ?? 0), Int64($0[1].int ?? 0))
        }
        if let last = try db.rows("SELECT max(updated_at) FROM test_runs").first?.first?.string, last.count >= 10 {
            now += Int64(runs.count) * 1000  // resume later than the existing data
        }
    }

    /// Creates projects, repositories, test cases and bug budgets (with their events).
    public func bootstrap(projects count: Int) throws {
        try db.execute("BEGIN")
        for p in 0..<count {
            let project = try insert(
                "projects", "INSERT INTO projects(id, name, created_at, updated_at) VALUES(?1, ?2, ?3, ?3)",
                [.text("Project \(p + 1)"), .text(time)]
            )
            projects.append(project)
            emit(
                "PROJECT_CREATED", "project", .int(project), #"{"projectId":"\#(project)","name":"Project \#(p + 1)"}"#)
            for r in 0..<2 {
                let repository = try insert(
                    "repositories", "INSERT INTO repositories(id, project_id, name, created_at) VALUES(?1, ?2, ?3, ?4)",
                    [.integer(project), .text("repo-\(p + 1)-\(r + 1)"), .text(time)]
                )
                emit(
                    "REPOSITORY_CREATED", "repository", .int(repository),
                    #"{"repositoryId":"\#(repository)","projectId":"\#(project)"}"#)
            }
            for _ in 0..<10 { try createTestCase(project) }
            try createBudget(project)
        }
        try commitAndFlush()
    }

    /// Performs operations until `count` more events were appended; commits every `chunk` operations.
    public func simulate(events count: Int, chunk: Int = 1000) throws {
        let target = events + count
        while events < target {
            try db.execute("BEGIN")
            var inChunk = 0
            while inChunk < chunk && events + pendingEvents < target {
                try step()
                inChunk += 1
            }
            try commitAndFlush()
        }
    }

    /// Appends one line as the API would never write it, to show how rejects are recorded.
    public func appendMalformed(_ line: String) throws {
        try journal.append(lines: Array((line + "\n").utf8))
    }

    var pendingEvents = 0

    /// Commits the write model's transaction (with the event counter), then appends its events:
    /// the API's order, database first, journal second.
    func commitAndFlush() throws {
        try db.run(
            "INSERT INTO simulator_state(name, value) VALUES('events', ?1) ON CONFLICT(name) DO UPDATE SET value = ?1",
            [.integer(Int64(eventNumber))])
        try db.execute("COMMIT")
        try journal.append(lines: pending)
        pending.removeAll(keepingCapacity: true)
        events += pendingEvents
        pendingEvents = 0
    }

    func step() throws {
        now += Int64(rng.below(60_000))
        let roll = rng.below(100)
        switch roll {
        case 0..<8 where !projects.isEmpty: try createRun()
        case 8..<68 where !runs.isEmpty: try createResult()
        case 68..<78 where !results.isEmpty: try updateResult()
        case 78..<80 where !results.isEmpty: try deleteResult()
        case 80..<88 where !runs.isEmpty: try updateRun()
        case 88..<89 where runs.count > 50: try deleteRun()
        case 89..<92 where !budgets.isEmpty: try updateBudget()
        case 92..<96 where !projects.isEmpty:
            if testCases.isEmpty || rng.below(2) == 0 {
                try createTestCase(projects[rng.below(projects.count)])
            } else {
                try updateTestCase()
            }
        default:
            if projects.isEmpty { try bootstrap(projects: 5) } else { try createRun() }
        }
    }

    var time: String { RFC3339.format(Double(now) / 1000) }

    func createRun() throws {
        let project = projects[rng.below(projects.count)]
        let run = try insert(
            "test_runs",
            "INSERT INTO test_runs(id, project_id, title, status, created_at, updated_at) VALUES(?1, ?2, ?3, 'running', ?4, ?4)",
            [.integer(project), .text("Nightly run \(ids["test_runs", default: 0] + 1)"), .text(time)]
        )
        runs.append((run, project))
        emit("TEST_RUN_CREATED", "test_run", .int(run), #"{"testRunId":"\#(run)","projectId":"\#(project)"}"#)
    }

    func recentRun() -> (id: Int64, project: Int64) {
        runs[max(0, runs.count - 200) + rng.below(min(runs.count, 200))]
    }

    func createResult() throws {
        let run = recentRun()
        let status = Self.statuses[rng.below(Self.statuses.count)]
        let duration = 50 + rng.below(5000)
        let testCase = testCases.isEmpty ? SQLValue.null : .integer(testCases[rng.below(testCases.count)].id)
        let result = try insert(
            "test_run_results",
            "INSERT INTO test_run_results(id, test_run_id, test_case_id, status, duration_ms, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
            [.integer(run.id), testCase, .text(status), .integer(Int64(duration)), .text(time)]
        )
        results.append((result, run.id, run.project))
        if results.count > 5000 { results.removeFirst(1000) }
        emit(
            "TEST_RUN_RESULT_CREATED", "test_run_result", .string(result),
            #"{"testRunResultId":"\#(result)","testRunId":"\#(run.id)","projectId":"\#(run.project)","status":"\#(status)","durationMs":\#(duration)}"#
        )
    }

    func updateResult() throws {
        let result = results[rng.below(results.count)]
        let status = Self.statuses[rng.below(Self.statuses.count)]
        try execute("UPDATE test_run_results SET status = ?2 WHERE id = ?1", [.integer(result.id), .text(status)])
        guard db.changes > 0 else { return }
        emit(
            "TEST_RUN_RESULT_UPDATED", "test_run_result", .string(result.id),
            #"{"testRunResultId":"\#(result.id)","testRunId":"\#(result.run)","projectId":"\#(result.project)","status":"\#(status)"}"#
        )
    }

    func deleteResult() throws {
        let index = rng.below(results.count)
        let result = results.remove(at: index)
        try execute("DELETE FROM test_run_results WHERE id = ?1", [.integer(result.id)])
        guard db.changes > 0 else { return }
        emit(
            "TEST_RUN_RESULT_DELETED", "test_run_result", .string(result.id),
            #"{"testRunResultId":"\#(result.id)","testRunId":"\#(result.run)","projectId":"\#(result.project)"}"#
        )
    }

    func updateRun() throws {
        let run = recentRun()
        let status = ["running", "completed", "completed", "failed"][rng.below(4)]
        try execute(
            "UPDATE test_runs SET status = ?2, updated_at = ?3 WHERE id = ?1",
            [.integer(run.id), .text(status), .text(time)])
        guard db.changes > 0 else { return }
        emit(
            "TEST_RUN_UPDATED", "test_run", .int(run.id),
            #"{"testRunId":"\#(run.id)","projectId":"\#(run.project)","status":"\#(status)"}"#
        )
    }

    func deleteRun() throws {
        let index = rng.below(runs.count - 50)
        let run = runs.remove(at: index)
        try execute("DELETE FROM test_run_results WHERE test_run_id = ?1", [.integer(run.id)])
        try execute("DELETE FROM test_runs WHERE id = ?1", [.integer(run.id)])
        results.removeAll { $0.run == run.id }
        emit("TEST_RUN_DELETED", "test_run", .int(run.id), #"{"testRunId":"\#(run.id)","projectId":"\#(run.project)"}"#)
    }

    func createBudget(_ project: Int64) throws {
        let maxFailures = 20 + rng.below(200)
        let budget = try insert(
            "bug_budgets",
            "INSERT INTO bug_budgets(id, project_id, name, max_failures, period_start, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?5)",
            [.integer(project), .text("Release budget"), .integer(Int64(maxFailures)), .text(time)]
        )
        budgets.append((budget, project))
        emit(
            "BUG_BUDGET_CREATED", "bug_budget", .int(budget),
            #"{"bugBudgetId":"\#(budget)","projectId":"\#(project)","maxFailures":\#(maxFailures)}"#
        )
    }

    func updateBudget() throws {
        let budget = budgets[rng.below(budgets.count)]
        let maxFailures = 20 + rng.below(400)
        try execute(
            "UPDATE bug_budgets SET max_failures = ?2, updated_at = ?3 WHERE id = ?1",
            [.integer(budget.id), .integer(Int64(maxFailures)), .text(time)]
        )
        emit(
            "BUG_BUDGET_UPDATED", "bug_budget", .int(budget.id),
            #"{"bugBudgetId":"\#(budget.id)","projectId":"\#(budget.project)","maxFailures":\#(maxFailures)}"#
        )
    }

    func createTestCase(_ project: Int64) throws {
        let testCase = try insert(
            "test_cases",
            "INSERT INTO test_cases(id, project_id, title, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?4)",
            [.integer(project), .text("checks \"login\" flow #\(ids["test_cases", default: 0] + 1)"), .text(time)]
        )
        testCases.append((testCase, project))
        emit(
            "TEST_CASE_CREATED", "test_case", .int(testCase),
            #"{"testCaseId":"\#(testCase)","projectId":"\#(project)","title":"checks \"login\" flow"}"#
        )
    }

    func updateTestCase() throws {
        let testCase = testCases[rng.below(testCases.count)]
        try execute("UPDATE test_cases SET updated_at = ?2 WHERE id = ?1", [.integer(testCase.id), .text(time)])
        emit(
            "TEST_CASE_UPDATED", "test_case", .int(testCase.id),
            #"{"testCaseId":"\#(testCase.id)","projectId":"\#(testCase.project)"}"#)
    }

    enum AggregateID {
        case int(Int64)
        case string(Int64)
    }

    func emit(_ type: String, _ aggregateType: String, _ aggregateID: AggregateID, _ data: String) {
        eventNumber += 1
        let id: String
        switch aggregateID {
        case .int(let value): id = String(value)
        case .string(let value): id = "\"\(value)\""
        }
        let user = rng.below(40) + 1
        let line =
            #"{"id":"evt-\#(eventNumber)-\#(now)","type":"\#(type)","aggregateType":"\#(aggregateType)","aggregateId":\#(id),"occurredAt":"\#(time)","data":\#(data),"metadata":{"userId":"user-\#(user)","source":"qahub-api"}}"#
        pending.append(contentsOf: line.utf8)
        pending.append(0x0A)
        pendingEvents += 1
        eventsByType[type, default: 0] += 1
    }

    /// Inserts a row with the next id of `table` as ?1 and returns that id.
    func insert(_ table: String, _ sql: String, _ arguments: [SQLValue]) throws -> Int64 {
        let id = ids[table, default: 0] + 1
        ids[table] = id
        try execute(sql, [.integer(id)] + arguments)
        return id
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        let statement: Statement
        if let cached = statements[sql] {
            statement = cached
        } else {
            statement = try db.prepare(sql)
            statements[sql] = statement
        }
        for (index, argument) in arguments.enumerated() { try statement.bind(argument, at: Int32(index + 1)) }
        try statement.run()
    }
}
