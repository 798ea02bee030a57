/// The QaHub write model the demo's API simulator writes: the tables the seed's Prisma schema names.
public enum WriteModel {
    public static let schema = """
        CREATE TABLE IF NOT EXISTS projects(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS repositories(
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS test_cases(
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            repository_id INTEGER REFERENCES repositories(id),
            title TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS test_runs(
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            repository_id INTEGER REFERENCES repositories(id),
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS test_runs_project ON test_runs(project_id);
        CREATE TABLE IF NOT EXISTS test_run_results(
            id INTEGER PRIMARY KEY,
            test_run_id INTEGER NOT NULL REFERENCES test_runs(id) ON DELETE CASCADE,
            test_case_id INTEGER REFERENCES test_cases(id),
            status TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'skipped', 'blocked')),
            duration_ms INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS test_run_results_run ON test_run_results(test_run_id, status, created_at);
        CREATE TABLE IF NOT EXISTS bug_budgets(
            id INTEGER PRIMARY KEY,
            project_id INTEGER NOT NULL REFERENCES projects(id),
            name TEXT NOT NULL,
            max_failures INTEGER NOT NULL,
            period_start TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS bug_budgets_project ON bug_budgets(project_id);
        """
}
