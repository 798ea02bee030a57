-- Bug budgets per project on PostgreSQL: how many failed results each budget allows since its
-- period started, how many were used, and whether it is exhausted (1 or 0, as on SQLite). Keyed
-- by project, so a new result refreshes every budget of its project. The same rows as
-- jobs/bug_budget_view.sql leaves on SQLite for the same events.
--
-- dialect: postgres
-- on: BUG_BUDGET_CREATED, BUG_BUDGET_UPDATED, BUG_BUDGET_DELETED   key: data.projectId
-- on: TEST_RUN_RESULT_*, TEST_RUN_DELETED                          key: data.projectId
-- webhooks: qa-dashboard

-- @setup
CREATE TABLE IF NOT EXISTS bug_budget_view(
    budget_id bigint PRIMARY KEY,
    project_id bigint NOT NULL,
    name text NOT NULL,
    max_failures bigint NOT NULL,
    failures_used bigint NOT NULL,
    remaining bigint NOT NULL,
    exhausted integer NOT NULL,
    period_start text NOT NULL
);
CREATE INDEX IF NOT EXISTS bug_budget_view_project ON bug_budget_view(project_id);

-- @refresh
DELETE FROM bug_budget_view WHERE project_id = :key;
INSERT INTO bug_budget_view(budget_id, project_id, name, max_failures, failures_used, remaining, exhausted,
    period_start)
SELECT id, project_id, name, max_failures, used, greatest(max_failures - used, 0), (used >= max_failures)::integer,
    period_start
FROM (
    SELECT b.id, b.project_id, b.name, b.max_failures, b.period_start,
        (SELECT count(*)
         FROM app.test_runs r
         JOIN app.test_run_results x ON x.test_run_id = r.id
         WHERE r.project_id = b.project_id AND x.status = 'failed' AND x.created_at >= b.period_start) AS used
    FROM app.bug_budgets b
    WHERE b.project_id = :key
) AS budgets;

-- @refresh_batch
-- The same for all of a batch's projects in one pass (their ids are in batch_keys, as text).
DELETE FROM bug_budget_view WHERE project_id IN (SELECT key::bigint FROM batch_keys);
INSERT INTO bug_budget_view(budget_id, project_id, name, max_failures, failures_used, remaining, exhausted,
    period_start)
SELECT id, project_id, name, max_failures, used, greatest(max_failures - used, 0), (used >= max_failures)::integer,
    period_start
FROM (
    SELECT b.id, b.project_id, b.name, b.max_failures, b.period_start,
        (SELECT count(*)
         FROM app.test_runs r
         JOIN app.test_run_results x ON x.test_run_id = r.id
         WHERE r.project_id = b.project_id AND x.status = 'failed' AND x.created_at >= b.period_start) AS used
    FROM app.bug_budgets b
    WHERE b.project_id IN (SELECT key::bigint FROM batch_keys)
) AS budgets;

-- @keys
SELECT id FROM app.projects
