-- The benchmark's apply-heavy workload: one fact row per recorded test result, keyed by the
-- result, so every event is its own key.
--
-- on: TEST_RUN_RESULT_CREATED   key: data.testRunResultId

-- @setup
CREATE TABLE IF NOT EXISTS result_facts(
    result_id INTEGER PRIMARY KEY,
    test_run_id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    day TEXT NOT NULL
);

-- @apply
INSERT OR REPLACE INTO result_facts(result_id, test_run_id, project_id, status, duration_ms, day)
VALUES(:key, json_extract(:data, '$.testRunId'), json_extract(:data, '$.projectId'),
    json_extract(:data, '$.status'), json_extract(:data, '$.durationMs'), substr(:occurred_at, 1, 10));
