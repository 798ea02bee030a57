"""What scripts/multi-runner-fault and scripts/multi-runner-bench share: a throwaway PostgreSQL
server with the events table, the three jobs they run, psql as a client, and the query that says
whether every segment of every job reached the last row."""
import os, signal, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "scripts/postgres-cluster")

JOBS = {
    "ledger": """-- dialect: postgres
-- on: Deposited  key: aggregateId
-- @setup
CREATE TABLE IF NOT EXISTS ledger(
    event_id text PRIMARY KEY,
    aggregate_id text NOT NULL,
    version bigint NOT NULL,
    grp text NOT NULL,
    position bigint NOT NULL,
    applied bigserial NOT NULL
);
-- @apply
INSERT INTO ledger(event_id, aggregate_id, version, grp, position)
VALUES (:id::text, :key::text, (:data->>'version')::bigint, :data->>'group', :position::bigint);
""",
    "tally": """-- dialect: postgres
-- on: Deposited  key: aggregateId
-- @setup
CREATE TABLE IF NOT EXISTS tally(
    aggregate_id text PRIMARY KEY,
    events bigint NOT NULL,
    amount bigint NOT NULL,
    last_version bigint NOT NULL
);
-- @apply
INSERT INTO tally(aggregate_id, events, amount, last_version)
VALUES (:key::text, 1, (:data->>'amount')::bigint, (:data->>'version')::bigint)
ON CONFLICT (aggregate_id) DO UPDATE SET
    events = tally.events + 1, amount = tally.amount + excluded.amount, last_version = excluded.last_version;
""",
    "counts": """-- dialect: postgres
-- on: Deposited  key: data.group
-- after: ledger
-- @setup
CREATE TABLE IF NOT EXISTS counts(grp text PRIMARY KEY, events bigint NOT NULL);
-- @refresh
DELETE FROM counts WHERE grp = :key;
INSERT INTO counts(grp, events) SELECT grp, count(*) FROM ledger WHERE grp = :key GROUP BY grp;
-- @keys
SELECT DISTINCT grp FROM ledger
""",
}

# Job segments, and those behind the last committed row of the events table.
BEHIND = """
SELECT (SELECT count(*) FROM projector.segments),
       (SELECT count(*) FROM projector.segments s
        WHERE NOT coalesce((s.epoch, s.xid, s.seq) >= (last.epoch, last.xid, last.seq), false))
FROM (SELECT epoch, xid, seq FROM events ORDER BY epoch DESC, xid DESC, seq DESC LIMIT 1) AS last
"""


class Database:
    def __init__(self, env, psql):
        self.env, self.psql = env, psql

    def run(self, sql, check=True, timeout=120):
        outcome = subprocess.run([self.psql, "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                 env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and outcome.returncode != 0:
            raise RuntimeError(f"psql: {outcome.stderr.strip()} in: {sql.strip()[:200]}")
        return outcome

    def rows(self, sql, **kw):
        return [line.split("|") for line in self.run(sql, **kw).stdout.splitlines() if line]

    def value(self, sql, **kw):
        rows = self.rows(sql, **kw)
        return rows[0][0] if rows else None

    def wait_up(self, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.run("SELECT 1", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("the server did not come back")


class Cluster:
    """A server of scripts/postgres-cluster in `path` (a new directory), with the events table made
    by `projector events init`; `env` is the environment for psql, projector and the writers."""

    def __init__(self, path, projector, who):
        printed = subprocess.run([CLUSTER, "start", path], capture_output=True, text=True)
        if printed.returncode != 0:
            raise SystemExit(f"{who}: the PostgreSQL server did not start: {printed.stderr}")
        self.path = path
        self.env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
        for line in printed.stdout.splitlines():
            key, _, value = line.partition("=")
            self.env[key] = value
        self.url = f"postgres://projector@127.0.0.1:{self.env['PGPORT']}/projector"
        with open(os.path.join(path, "cluster.env")) as f:
            self.settings = dict(line.rstrip("\n").partition("=")[::2] for line in f if "=" in line)
        self.db = Database(self.env, os.path.join(self.settings["POSTGRES_BIN"], "psql"))
        init = subprocess.run([projector, "events", "init", "--database", self.url, "--journal", "postgres:events"],
                              env=self.env, capture_output=True, text=True)
        if init.returncode != 0:
            raise SystemExit(f"{who}: projector events init failed: {init.stderr}")

    def restart(self, mode="immediate"):
        subprocess.run([CLUSTER, "restart", self.path, mode], check=True, capture_output=True)

    def stop(self):
        subprocess.run([CLUSTER, "stop", self.path], capture_output=True)


def write_jobs(directory):
    os.makedirs(directory)
    for name, text in JOBS.items():
        with open(os.path.join(directory, f"{name}.sql"), "w") as f:
            f.write(text)


def signal_process(pid, number):
    try:
        os.kill(pid, number)
        return True
    except ProcessLookupError:
        return False
