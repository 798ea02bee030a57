public import PostgresClient
import SQLiteStore

/// The QaHub write model on PostgreSQL, in the schema `app` (where the PostgreSQL jobs of
/// `jobs/postgres/` read it): the tables of `WriteModel` with PostgreSQL's types, and a loader that
/// copies a write model the simulator wrote in SQLite into it.
public enum PostgresWriteModel {
    /// The tables in the order a load fills them (a table after those it references).
    public static let tables = [
        "projects", "repositories", "test_cases", "test_runs", "test_run_results", "bug_budgets",
    ]

    public static let schema = """
        CREATE SCHEMA IF NOT EXISTS app;
        CREATE TABLE IF NOT EXISTS app.projects(
            id bigint PRIMARY KEY,
            name text NOT NULL,
            created_at text NOT NULL,
            updated_at text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS app.repositories(
            id bigint PRIMARY KEY,
            project_id bigint NOT NULL REFERENCES app.projects(id),
            name text NOT NULL,
            created_at text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS app.test_cases(
            id bigint PRIMARY KEY,
            project_id bigint NOT NULL REFERENCES app.projects(id),
            repository_id bigint REFERENCES app.repositories(id),
            title text NOT NULL,
            created_at text NOT NULL,
            updated_at text NOT NULL
        );
        CREATE TABLE IF NOT EXISTS app.test_runs(
            id bigint PRIMARY KEY,
            project_id bigint NOT NULL REFERENCES app.projects(id),
            repository_id bigint REFERENCES app.repositories(id),
            title text NOT NULL,
            status text NOT NULL,
            created_at text NOT NULL,
            updated_at text NOT NULL
        );
        CREATE INDEX IF NOT EXISTS test_runs_project ON app.test_runs(project_id);
        CREATE TABLE IF NOT EXISTS app.test_run_results(
            id bigint PRIMARY KEY,
            test_run_id bigint NOT NULL REFERENCES app.test_runs(id) ON DELETE CASCADE,
            test_case_id bigint REFERENCES app.test_cases(id),
            status text NOT NULL CHECK (status IN ('passed', 'failed', 'skipped', 'blocked')),
            duration_ms bigint NOT NULL,
            created_at text NOT NULL
        );
        CREATE INDEX IF NOT EXISTS test_run_results_run ON app.test_run_results(test_run_id, status, created_at);
        CREATE TABLE IF NOT EXISTS app.bug_budgets(
            id bigint PRIMARY KEY,
            project_id bigint NOT NULL REFERENCES app.projects(id),
            name text NOT NULL,
            max_failures bigint NOT NULL,
            period_start text NOT NULL,
            updated_at text NOT NULL
        );
        CREATE INDEX IF NOT EXISTS bug_budgets_project ON app.bug_budgets(project_id);
        """

    /// Creates the schema `app` and its tables when missing.
    public static func create(on connection: PGConnection) throws {
        try connection.execute(schema)
    }

    /// Replaces the rows of `app`'s tables with those of the SQLite write model at `sqlitePath`, in
    /// one transaction (`COPY … FROM STDIN`), and returns how many rows each table received. The
    /// tables are created first when missing.
    @discardableResult
    public static func load(from sqlitePath: String, into connection: PGConnection) throws -> [String: Int] {
        try create(on: connection)
        let source = try Database(path: sqlitePath, options: .untuned)
        var copied: [String: Int] = [:]
        try connection.execute("BEGIN")
        do {
            try connection.execute("TRUNCATE " + tables.map { "app." + $0 }.joined(separator: ", "))
            for table in tables {
                let statement = try source.prepare("SELECT * FROM \(table) ORDER BY id")
                let columns = (0..<statement.columnCount).map { statement.columnName(at: $0) }
                var failure: (any Error)?
                copied[table] = try connection.copyIn(
                    "COPY app.\(table)(\(columns.joined(separator: ", "))) FROM STDIN"
                ) { (writer: PGCopyWriter) throws(PGError) in
                    do {
                        while try statement.step() {
                            try writer.row((0..<statement.columnCount).map { text(statement.value(at: $0)) })
                        }
                    } catch let error as PGError {
                        throw error
                    } catch {
                        failure = error
                        throw PGError(kind: .other, message: "reading \(table) from \(sqlitePath): \(error)")
                    }
                }
                if let failure { throw failure }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
        return copied
    }

    /// A SQLite value as COPY's text format takes it (nil is NULL).
    static func text(_ value: SQLValue) -> String? {
        switch value {
        case .null: return nil
        case .integer(let value): return String(value)
        case .real(let value): return String(value)
        case .text(let value): return value
        case .blob(let bytes): return PGBytea.text(bytes)
        }
    }
}
