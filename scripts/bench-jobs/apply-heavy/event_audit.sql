-- The benchmark's apply-heavy workload: an audit trail with one row per event, keyed by
-- aggregate. In the QaHub journal most aggregates have one event per batch (a result is created
-- once), so nearly every event is its own key.
--
-- on: *   key: aggregateId

-- @setup
CREATE TABLE IF NOT EXISTS event_audit(
    event_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    user_id TEXT
) WITHOUT ROWID;

-- @apply
INSERT INTO event_audit(event_id, type, aggregate_type, aggregate_id, occurred_at, user_id)
VALUES(:id, :type, :aggregate_type, :aggregate_id, :occurred_at, json_extract(:metadata, '$.userId'))
ON CONFLICT(event_id) DO NOTHING;
