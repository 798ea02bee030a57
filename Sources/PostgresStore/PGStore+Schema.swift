import PostgresClient
public import ProjectorCore

/// The runner's tables, created on first use in the store's schema.
extension PGStore {
    public func createSchema() throws(StoreError) {
        try execute(
            """
            CREATE SCHEMA IF NOT EXISTS \(schema);
            CREATE TABLE IF NOT EXISTS \(table("meta"))(key text PRIMARY KEY, value text);
            INSERT INTO \(table("meta"))(key, value) VALUES('schema_version', '\(Self.schemaVersion)')
                ON CONFLICT (key) DO NOTHING;
            CREATE TABLE IF NOT EXISTS \(table("checkpoints"))(
                job text PRIMARY KEY,
                position bigint NOT NULL,
                anchor_start bigint NOT NULL,
                anchor_hash text NOT NULL,
                anchor_segment text NOT NULL,
                fingerprint text NOT NULL,
                events_applied bigint NOT NULL DEFAULT 0,
                updated_at double precision NOT NULL
            );
            CREATE TABLE IF NOT EXISTS \(table("runs"))(
                id bigserial PRIMARY KEY,
                started_at double precision NOT NULL,
                finished_at double precision,
                from_position bigint,
                to_position bigint,
                events bigint NOT NULL DEFAULT 0,
                rejects bigint NOT NULL DEFAULT 0,
                failures bigint NOT NULL DEFAULT 0,
                outcome text NOT NULL DEFAULT 'running',
                exit_code integer
            );
            CREATE TABLE IF NOT EXISTS \(table("failures"))(
                job text NOT NULL,
                key text NOT NULL,
                state text NOT NULL CHECK (state IN ('retrying', 'parked', 'dead')),
                mode text NOT NULL,
                attempts integer NOT NULL,
                first_position bigint NOT NULL,
                last_position bigint NOT NULL,
                error text NOT NULL,
                first_failed_at double precision NOT NULL,
                last_failed_at double precision NOT NULL,
                next_attempt_at double precision NOT NULL,
                PRIMARY KEY(job, key)
            );
            CREATE TABLE IF NOT EXISTS \(table("held_events"))(
                job text NOT NULL,
                key text NOT NULL,
                position bigint NOT NULL,
                length bigint NOT NULL,
                PRIMARY KEY(job, key, position)
            );
            CREATE TABLE IF NOT EXISTS \(table("rejects"))(
                position bigint NOT NULL,
                job text NOT NULL DEFAULT '',
                length bigint NOT NULL,
                code text NOT NULL,
                reason text NOT NULL,
                excerpt bytea,
                recorded_at double precision NOT NULL,
                run_id bigint,
                PRIMARY KEY(position, job)
            );
            CREATE TABLE IF NOT EXISTS \(table("failure_waits"))(
                job text NOT NULL,
                key text NOT NULL,
                upstream_job text NOT NULL,
                upstream_key text NOT NULL,
                PRIMARY KEY(job, key, upstream_job, upstream_key)
            );
            CREATE TABLE IF NOT EXISTS \(table("event_window_chunks"))(
                chunk bigserial PRIMARY KEY,
                first_position bigint NOT NULL,
                last_position bigint NOT NULL,
                ids bigint NOT NULL,
                recorded bigint NOT NULL,
                occurred_from double precision,
                occurred_at double precision,
                pairs bytea NOT NULL
            );
            CREATE TABLE IF NOT EXISTS \(table("webhook_outbox"))(
                id bigserial PRIMARY KEY,
                message_id text NOT NULL,
                endpoint text NOT NULL,
                job text NOT NULL,
                run_id bigint,
                body bytea NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead', 'disabled')),
                attempts integer NOT NULL DEFAULT 0,
                created_at double precision NOT NULL,
                next_attempt_at double precision NOT NULL,
                last_attempt_at double precision,
                last_status integer,
                last_error text,
                delivered_at double precision
            );
            ALTER TABLE \(table("webhook_outbox")) ADD COLUMN IF NOT EXISTS claimed_until double precision;
            CREATE INDEX IF NOT EXISTS webhook_outbox_due ON \(table("webhook_outbox"))(state, next_attempt_at);
            CREATE INDEX IF NOT EXISTS webhook_outbox_delivered ON \(table("webhook_outbox"))(delivered_at)
                WHERE state = 'delivered';
            CREATE TABLE IF NOT EXISTS \(table("webhook_endpoints"))(
                name text PRIMARY KEY,
                disabled_at double precision,
                reason text
            );
            CREATE TABLE IF NOT EXISTS \(table("notification_state"))(
                job text PRIMARY KEY,
                from_position bigint NOT NULL,
                to_position bigint NOT NULL,
                events bigint NOT NULL,
                keys_total bigint NOT NULL,
                failures bigint NOT NULL,
                truncated integer NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS \(table("notification_keys"))(
                seq bigserial PRIMARY KEY,
                job text NOT NULL,
                key text NOT NULL,
                UNIQUE(job, key)
            );
            CREATE TABLE IF NOT EXISTS \(table("metrics"))(
                name text NOT NULL,
                labels text NOT NULL DEFAULT '',
                value double precision NOT NULL,
                PRIMARY KEY(name, labels)
            );
            """)
    }
}
