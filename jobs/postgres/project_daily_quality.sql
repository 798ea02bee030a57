-- Daily quality summary per project on PostgreSQL, counted from the events themselves: test
-- runs started and results recorded per day, by status. An apply job: each event is counted
-- exactly once (the checkpoint commits with the counts), and counters commute, so the order
-- across projects does not matter. The same rows as jobs/project_daily_quality.sql leaves on
-- SQLite for the same events.
--
-- dialect: postgres
-- on: TEST_RUN_CREATED           key: data.projectId
-- on: TEST_RUN_RESULT_CREATED    key: data.projectId

-- @setup
CREATE TABLE IF NOT EXISTS project_daily_quality(
    project_id bigint NOT NULL,
    day text NOT NULL,
    runs_started bigint NOT NULL DEFAULT 0,
    results bigint NOT NULL DEFAULT 0,
    passed bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    blocked bigint NOT NULL DEFAULT 0,
    duration_ms bigint NOT NULL DEFAULT 0,
    PRIMARY KEY(project_id, day)
);

-- @apply
INSERT INTO project_daily_quality(project_id, day, runs_started, results, passed, failed, skipped, blocked,
    duration_ms)
SELECT :key::bigint, substr(coalesce(:occurred_at::text, ''), 1, 10),
    (:type::text = 'TEST_RUN_CREATED')::integer, (:type::text = 'TEST_RUN_RESULT_CREATED')::integer,
    (status = 'passed')::integer, (status = 'failed')::integer, (status = 'skipped')::integer,
    (status = 'blocked')::integer, duration
FROM (SELECT coalesce(:data->>'status', '') AS status,
             coalesce((:data->>'durationMs')::bigint, 0) AS duration) AS payload
ON CONFLICT (project_id, day) DO UPDATE SET
    runs_started = project_daily_quality.runs_started + excluded.runs_started,
    results = project_daily_quality.results + excluded.results,
    passed = project_daily_quality.passed + excluded.passed,
    failed = project_daily_quality.failed + excluded.failed,
    skipped = project_daily_quality.skipped + excluded.skipped,
    blocked = project_daily_quality.blocked + excluded.blocked,
    duration_ms = project_daily_quality.duration_ms + excluded.duration_ms;
