-- The test runs list of QaHub on PostgreSQL: one row per test run with its result counts, pass
-- rate and durations, recomputed from the write model in the schema `app`. The same rows as
-- jobs/test_runs_view.sql leaves on SQLite for the same events.
--
-- dialect: postgres
-- on: TEST_RUN_CREATED, TEST_RUN_UPDATED, TEST_RUN_DELETED   key: aggregateId
-- on: TEST_RUN_RESULT_*                                       key: data.testRunId
-- webhooks: qa-dashboard

-- @setup
CREATE TABLE IF NOT EXISTS test_runs_view(
    id bigint PRIMARY KEY,
    project_id bigint NOT NULL,
    title text NOT NULL,
    status text NOT NULL,
    total_results bigint NOT NULL,
    passed bigint NOT NULL,
    failed bigint NOT NULL,
    skipped bigint NOT NULL,
    blocked bigint NOT NULL,
    pass_rate double precision,
    total_duration_ms bigint NOT NULL,
    mean_duration_ms double precision,
    last_result_at text,
    updated_at text NOT NULL
);
CREATE INDEX IF NOT EXISTS test_runs_view_project ON test_runs_view(project_id);

-- @refresh
-- A run that no longer exists leaves no row: the DELETE stands and the INSERT selects nothing.
-- The rate and the mean are computed in double precision, as SQLite computes them.
DELETE FROM test_runs_view WHERE id = :key;
INSERT INTO test_runs_view(id, project_id, title, status, total_results, passed, failed, skipped, blocked,
    pass_rate, total_duration_ms, mean_duration_ms, last_result_at, updated_at)
SELECT r.id, r.project_id, r.title, r.status,
    count(x.id),
    count(x.id) FILTER (WHERE x.status = 'passed'),
    count(x.id) FILTER (WHERE x.status = 'failed'),
    count(x.id) FILTER (WHERE x.status = 'skipped'),
    count(x.id) FILTER (WHERE x.status = 'blocked'),
    CASE WHEN count(x.id) > 0
        THEN round((100.0::double precision * count(x.id) FILTER (WHERE x.status = 'passed')
            / count(x.id))::numeric, 2)::double precision END,
    coalesce(sum(x.duration_ms), 0),
    avg(x.duration_ms::double precision),
    max(x.created_at),
    r.updated_at
FROM app.test_runs r
LEFT JOIN app.test_run_results x ON x.test_run_id = r.id
WHERE r.id = :key
GROUP BY r.id;

-- @refresh_batch
-- The same for all of a batch's test runs in one pass (their ids are in batch_keys, as text).
DELETE FROM test_runs_view WHERE id IN (SELECT key::bigint FROM batch_keys);
INSERT INTO test_runs_view(id, project_id, title, status, total_results, passed, failed, skipped, blocked,
    pass_rate, total_duration_ms, mean_duration_ms, last_result_at, updated_at)
SELECT r.id, r.project_id, r.title, r.status,
    count(x.id),
    count(x.id) FILTER (WHERE x.status = 'passed'),
    count(x.id) FILTER (WHERE x.status = 'failed'),
    count(x.id) FILTER (WHERE x.status = 'skipped'),
    count(x.id) FILTER (WHERE x.status = 'blocked'),
    CASE WHEN count(x.id) > 0
        THEN round((100.0::double precision * count(x.id) FILTER (WHERE x.status = 'passed')
            / count(x.id))::numeric, 2)::double precision END,
    coalesce(sum(x.duration_ms), 0),
    avg(x.duration_ms::double precision),
    max(x.created_at),
    r.updated_at
FROM app.test_runs r
LEFT JOIN app.test_run_results x ON x.test_run_id = r.id
WHERE r.id IN (SELECT key::bigint FROM batch_keys)
GROUP BY r.id;

-- @keys
SELECT id FROM app.test_runs
