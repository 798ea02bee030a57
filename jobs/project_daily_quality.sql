-- Daily quality summary per project, counted from the events themselves: test runs started
-- and results recorded per day, by status. An apply job: each event is counted exactly once
-- (the checkpoint commits with the counts), and counters commute, so the order across
-- projects does not matter.
--
-- on: TEST_RUN_CREATED           key: data.projectId
-- on: TEST_RUN_RESULT_CREATED    key: data.projectId

-- @setup
CREATE TABLE IF NOT EXISTS project_daily_quality(
    project_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    runs_started INTEGER NOT NULL DEFAULT 0,
    results INTEGER NOT NULL DEFAULT 0,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(project_id, day)
) WITHOUT ROWID;

-- @apply
-- The payload is parsed twice (status, duration) rather than once per column.
INSERT INTO project_daily_quality(project_id, day, runs_started, results, passed, failed, skipped, blocked,
    duration_ms)
SELECT :key, substr(coalesce(:occurred_at, ''), 1, 10), :type = 'TEST_RUN_CREATED', :type = 'TEST_RUN_RESULT_CREATED',
    status = 'passed', status = 'failed', status = 'skipped', status = 'blocked', duration
FROM (SELECT coalesce(json_extract(:data, '$.status'), '') AS status,
             coalesce(json_extract(:data, '$.durationMs'), 0) AS duration)
WHERE true
ON CONFLICT(project_id, day) DO UPDATE SET
    runs_started = runs_started + excluded.runs_started,
    results = results + excluded.results,
    passed = passed + excluded.passed,
    failed = failed + excluded.failed,
    skipped = skipped + excluded.skipped,
    blocked = blocked + excluded.blocked,
    duration_ms = duration_ms + excluded.duration_ms;
