import PostgresClient
public import ProjectorCore

/// A job's work split in segments for several runners (SPEC §10): one checkpoint row per (job,
/// segment), locked by the transaction that processes the segment (`FOR UPDATE SKIP LOCKED`), so
/// ownership lasts one transaction; the runners' heartbeats, which only balance the load; and
/// per-aggregate versions with the events held until the version before them came.
extension PGStore {
    /// How many segments a job's keys are spread over.
    public static let segmentCount = 256

    /// Creates the tables of segmented runs when missing.
    public func createSegmentTables() throws(StoreError) {
        try execute(
            """
            CREATE TABLE IF NOT EXISTS \(table("segments"))(
                job text NOT NULL,
                segment integer NOT NULL,
                epoch integer NOT NULL DEFAULT 0,
                xid xid8 NOT NULL DEFAULT '0',
                seq bigint NOT NULL DEFAULT 0,
                events_applied bigint NOT NULL DEFAULT 0,
                owner text,
                committed_at timestamptz,
                error text,
                attempts integer NOT NULL DEFAULT 0,
                retry_at timestamptz,
                fingerprint text,
                PRIMARY KEY (job, segment)
            );
            CREATE TABLE IF NOT EXISTS \(table("runners"))(
                name text PRIMARY KEY,
                backend_pid integer NOT NULL,
                backend_start timestamptz,
                host text NOT NULL,
                started_at timestamptz NOT NULL,
                heartbeat_at timestamptz NOT NULL
            );
            CREATE TABLE IF NOT EXISTS \(table("key_versions"))(
                job text NOT NULL, key text NOT NULL, version bigint NOT NULL, PRIMARY KEY (job, key)
            );
            CREATE TABLE IF NOT EXISTS \(table("version_holds"))(
                job text NOT NULL, key text NOT NULL, version bigint NOT NULL, seq bigint NOT NULL,
                line text NOT NULL, held_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (job, key, version)
            );
            ALTER TABLE \(table("version_holds")) ADD COLUMN IF NOT EXISTS epoch integer;
            ALTER TABLE \(table("version_holds")) ADD COLUMN IF NOT EXISTS xid xid8;
            """)
    }

    /// Adds the segment rows of `jobs` that are missing (a new job starts at the beginning).
    public func ensureSegments(of jobs: [String], fingerprints: [String]) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("segments"))(job, segment, fingerprint)
            SELECT j.job, s, j.fingerprint FROM unnest($1::text[], $2::text[]) AS j(job, fingerprint)
            CROSS JOIN generate_series(0, \(Self.segmentCount - 1)) AS s
            ON CONFLICT (job, segment) DO NOTHING
            """, [Self.textArray(jobs), Self.textArray(fingerprints)])
    }

    // MARK: Runners

    /// Records that runner `name` is alive on this connection (database clock). Returns false when
    /// another live connection already runs under that name.
    public func heartbeat(runner name: String, host: String) throws(StoreError) -> Bool {
        let taken = try run(
            """
            SELECT 1 FROM \(table("runners")) r JOIN pg_stat_activity a ON a.pid = r.backend_pid
            WHERE r.name = $1 AND r.backend_pid <> pg_backend_pid()
                AND (a.backend_start IS NULL OR a.backend_start = r.backend_start)
            """, [name])
        guard taken.isEmpty else { return false }
        try run(
            """
            INSERT INTO \(table("runners"))(name, backend_pid, backend_start, host, started_at, heartbeat_at)
            VALUES($1, pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
                $2, clock_timestamp(), clock_timestamp())
            ON CONFLICT (name) DO UPDATE SET
                started_at = CASE WHEN runners.backend_pid = EXCLUDED.backend_pid THEN runners.started_at
                    ELSE EXCLUDED.started_at END,
                backend_pid = EXCLUDED.backend_pid, backend_start = EXCLUDED.backend_start, host = EXCLUDED.host,
                heartbeat_at = EXCLUDED.heartbeat_at
            """, [name, host])
        return true
    }

    /// The runners alive now, by name: their connection is still there (a runner killed or cut
    /// off is dead at once) and they heartbeat within `timeout` seconds (a frozen one is dead
    /// after it).
    public func liveRunners(timeout: Double) throws(StoreError) -> [String] {
        try run(
            """
            SELECT r.name FROM \(table("runners")) r
            WHERE r.heartbeat_at > clock_timestamp() - make_interval(secs => $1::double precision)
                AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid
                    AND (a.backend_start IS NULL OR a.backend_start = r.backend_start))
            ORDER BY r.name
            """, [timeout.parameter]
        ).compactMap { $0.string(0) }
    }

    /// Forgets runners dead for more than a day, and this runner's row when it stops.
    public func forgetRunners(named name: String?) throws(StoreError) {
        try run(
            """
            DELETE FROM \(table("runners"))
            WHERE name = $1 OR heartbeat_at < clock_timestamp() - interval '1 day'
            """, [name])
    }

    // MARK: Segments in a transaction

    /// A segment's checkpoint as its transaction locked it.
    public struct LockedSegment: Sendable {
        public var job: String
        public var segment: Int
        public var position: EventsTablePosition
        public var attempts: Int
        /// The runner that committed on it last.
        public var owner: String?
    }

    /// Locks the segments of `units` (job, segment) that no other transaction holds and that are
    /// not waiting for a retry, and reads their checkpoints after locking.
    public func lockSegments(_ units: [(job: String, segment: Int)]) throws(StoreError) -> [LockedSegment] {
        try run(
            """
            SELECT s.job, s.segment, s.epoch, s.xid::text, s.seq, s.attempts, s.owner FROM \(table("segments")) s
            JOIN unnest($1::text[], $2::integer[]) AS u(job, segment) ON s.job = u.job AND s.segment = u.segment
            WHERE s.retry_at IS NULL OR s.retry_at <= clock_timestamp()
            ORDER BY s.job, s.segment
            FOR UPDATE OF s SKIP LOCKED
            """, [Self.textArray(units.map(\.job)), Self.intArray(units.map(\.segment))]
        ).compactMap { row in
            guard let job = row.string(0), let segment = row.int(1), let epoch = row.int(2),
                let xid = row.string(3).flatMap({ UInt64($0) }), let seq = row.int(4)
            else { return nil }
            return LockedSegment(
                job: job, segment: segment, position: EventsTablePosition(epoch: epoch, xid: xid, seq: seq),
                attempts: row.int(5) ?? 0, owner: row.string(6))
        }
    }

    /// What a job after `jobs` may not pass: the lowest checkpoint of their segments, and just
    /// before the first of their events held for an earlier version (past their checkpoints, but
    /// not applied yet).
    public func lowestPosition(of jobs: [String]) throws(StoreError) -> EventsTablePosition? {
        guard
            let row = try run(
                """
                SELECT epoch, xid::text AS xid_text, seq FROM (
                    SELECT epoch, xid, seq FROM \(table("segments")) WHERE job = ANY($1::text[])
                    UNION ALL
                    SELECT coalesce(epoch, 0), coalesce(xid, '0'::xid8),
                        CASE WHEN xid IS NULL THEN 0 ELSE seq - 1 END
                    FROM \(table("version_holds")) WHERE job = ANY($1::text[])
                ) AS positions
                ORDER BY epoch, xid, seq LIMIT 1
                """, [Self.textArray(jobs)]
            ).first, let epoch = row.int(0), let xid = row.string(1).flatMap({ UInt64($0) }), let seq = row.int(2)
        else { return nil }
        return EventsTablePosition(epoch: epoch, xid: xid, seq: seq)
    }

    /// What a segment's transaction leaves on its row.
    public struct SegmentAdvance: Sendable {
        public var job: String
        public var segment: Int
        public var position: EventsTablePosition
        public var events: Int
        /// The failure that stopped the segment, nil when it went through.
        public var error: String?
        /// When a failing segment is tried again, in seconds from now.
        public var retryIn: Double?

        public init(
            job: String, segment: Int, position: EventsTablePosition, events: Int, error: String?, retryIn: Double?
        ) {
            self.job = job
            self.segment = segment
            self.position = position
            self.events = events
            self.error = error
            self.retryIn = retryIn
        }
    }

    /// Moves the segments' checkpoints, in the transaction that locked them.
    public func advanceSegments(_ advances: [SegmentAdvance], runner: String) throws(StoreError) {
        guard !advances.isEmpty else { return }
        try run(
            """
            UPDATE \(table("segments")) s SET epoch = u.epoch, xid = u.xid::xid8, seq = u.seq,
                events_applied = s.events_applied + u.events, owner = $9, committed_at = clock_timestamp(),
                error = u.error, attempts = CASE WHEN u.error IS NULL THEN 0 ELSE s.attempts + 1 END,
                retry_at = CASE WHEN u.error IS NULL THEN NULL
                    ELSE clock_timestamp() + make_interval(secs => u.retry_in) END
            FROM unnest($1::text[], $2::integer[], $3::integer[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
                $8::double precision[]) AS u(job, segment, epoch, xid, seq, events, error, retry_in)
            WHERE s.job = u.job AND s.segment = u.segment
            """,
            [
                Self.textArray(advances.map(\.job)), Self.intArray(advances.map(\.segment)),
                Self.intArray(advances.map(\.position.epoch)), Self.textArray(advances.map { "\($0.position.xid)" }),
                Self.intArray(advances.map(\.position.seq)), Self.intArray(advances.map(\.events)),
                Self.textArray(advances.map { $0.error?.withoutNUL }),
                "{" + advances.map { "\($0.retryIn ?? 0)" }.joined(separator: ",") + "}", runner,
            ])
    }

    // MARK: Versions

    /// The last version applied of each (job, key) of `keys` that has one.
    public func appliedVersions(_ keys: [(job: String, key: String)]) throws(StoreError) -> [String: [String: Int]] {
        guard !keys.isEmpty else { return [:] }
        var versions: [String: [String: Int]] = [:]
        for row in try run(
            """
            SELECT v.job, v.key, v.version FROM \(table("key_versions")) v
            JOIN unnest($1::text[], $2::text[]) AS u(job, key) ON v.job = u.job AND v.key = u.key
            """, [Self.textArray(keys.map(\.job)), Self.textArray(keys.map(\.key))])
        {
            guard let job = row.string(0), let key = row.string(1), let version = row.int(2) else { continue }
            versions[job, default: [:]][key] = version
        }
        return versions
    }

    /// An event held until the version before it has been applied.
    public struct HeldVersion: Sendable {
        public var job: String
        public var key: String
        public var version: Int
        public var position: EventsTablePosition
        public var line: String
        public var seq: Int { position.seq }

        public init(job: String, key: String, version: Int, position: EventsTablePosition, line: String) {
            self.job = job
            self.key = key
            self.version = version
            self.position = position
            self.line = line
        }
    }

    /// The events held for (job, key) pairs of `keys`, lowest version first.
    public func heldVersions(_ keys: [(job: String, key: String)]) throws(StoreError) -> [HeldVersion] {
        guard !keys.isEmpty else { return [] }
        return try run(
            """
            SELECT h.job, h.key, h.version, h.seq, h.line, coalesce(h.epoch, 0), coalesce(h.xid, '0')::text
            FROM \(table("version_holds")) h
            JOIN unnest($1::text[], $2::text[]) AS u(job, key) ON h.job = u.job AND h.key = u.key
            ORDER BY h.job, h.key, h.version
            """, [Self.textArray(keys.map(\.job)), Self.textArray(keys.map(\.key))]
        ).compactMap { row in
            guard let job = row.string(0), let key = row.string(1), let version = row.int(2), let seq = row.int(3),
                let line = row.string(4)
            else { return nil }
            let position = EventsTablePosition(
                epoch: row.int(5) ?? 0, xid: row.string(6).flatMap { UInt64($0) } ?? 0, seq: seq)
            return HeldVersion(job: job, key: key, version: version, position: position, line: line)
        }
    }

    /// Holds an event until the version before it has been applied.
    public func hold(_ held: HeldVersion) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("version_holds"))(job, key, version, seq, line, epoch, xid)
            VALUES($1, $2, $3, $4, $5, $6, $7::xid8)
            ON CONFLICT (job, key, version) DO NOTHING
            """,
            [
                held.job, held.key, held.version.parameter, held.seq.parameter, held.line,
                held.position.epoch.parameter, "\(held.position.xid)",
            ])
    }

    /// Records the last version applied of (job, key), and lets go of the held events up to it.
    public func saveVersion(job: String, key: String, version: Int) throws(StoreError) {
        try run(
            """
            INSERT INTO \(table("key_versions"))(job, key, version) VALUES($1, $2, $3)
            ON CONFLICT (job, key) DO UPDATE SET version = EXCLUDED.version
            """, [job, key, version.parameter])
        try run(
            "DELETE FROM \(table("version_holds")) WHERE job = $1 AND key = $2 AND version <= $3",
            [job, key, version.parameter])
    }

    // MARK: Arrays

    static func intArray(_ values: [Int]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}

/// Reading the events table.
extension PGStore {
    /// A row of the events table, as the reader sees it.
    public struct EventRow: Sendable {
        public var position: EventsTablePosition
        public var version: Int?
        /// The event as a journal line (without its line ending).
        public var line: String
    }

    /// The rows after `from` that every reader may see now, at most `limit`, in reading order.
    public func readWindow(_ events: PGEventsTable, from: EventsTablePosition, limit: Int) throws(StoreError)
        -> [EventRow]
    {
        let epoch = try run(events.currentEpoch).first?.int(0) ?? 1
        return try run(
            events.window,
            [from.epoch.parameter, "\(from.xid)", from.seq.parameter, epoch.parameter, limit.parameter]
        ).compactMap { row in
            guard let seq = row.int(0), let xid = row.string(1).flatMap({ UInt64($0) }), let epoch = row.int(2),
                let line = row.string(4)
            else { return nil }
            return EventRow(
                position: EventsTablePosition(epoch: epoch, xid: xid, seq: seq), version: row.int(3), line: line)
        }
    }
}

extension PGStore {
    /// Sets the session's timeouts for a runner that shares the work: a session left idle inside
    /// a transaction (its process frozen) ends after `idleInTransaction` seconds, releasing its
    /// rows; a lock waited for past `lockWait` seconds fails the batch instead of hanging.
    public func setRunnerTimeouts(idleInTransaction: Int, lockWait: Int) throws(StoreError) {
        try execute(
            "SET idle_in_transaction_session_timeout = '\(idleInTransaction)s'; SET lock_timeout = '\(lockWait)s'")
        // A statement that runs for minutes fails its key (its segment is tried again later)
        // instead of holding its segments; a limit the connection string set is kept.
        if try run("SELECT current_setting('statement_timeout')").first?.string(0) == "0" {
            try execute("SET statement_timeout = '5min'")
        }
    }
}

/// What `projector status` shows of runners sharing an events table.
extension PGStore {
    public struct SegmentRow: Sendable {
        public var job: String
        public var segment: Int
        public var position: EventsTablePosition
        public var eventsApplied: Int
        public var owner: String?
        /// Seconds since the segment's last commit (database clock), nil before any.
        public var committedAgo: Double?
        public var error: String?
        public var attempts: Int
    }

    public struct RunnerRow: Sendable {
        public var name: String
        public var host: String
        public var backendPID: Int
        public var heartbeatAgo: Double
        /// Whether its connection is still there.
        public var connected: Bool
    }

    /// The transaction that holds every reader's horizon back: the oldest one still running
    /// that has written (nil when none does).
    public struct HorizonHolder: Sendable {
        public var pid: Int
        public var applicationName: String
        public var state: String
        public var seconds: Double
        public var database: String
    }

    public struct HeldVersionRow: Sendable {
        public var job: String
        public var key: String
        public var version: Int
        public var waitingFor: Int
        public var seconds: Double
    }

    /// How many segments of `jobs` are stopped at a failing key.
    public func failingSegments(of jobs: [String]) throws(StoreError) -> Int {
        try run(
            "SELECT count(*) FROM \(table("segments")) WHERE error IS NOT NULL AND job = ANY($1::text[])",
            [Self.textArray(jobs)]
        ).first?.int(0) ?? 0
    }

    public func segmentRows() throws(StoreError) -> [SegmentRow] {
        try run(
            """
            SELECT job, segment, epoch, xid::text, seq, events_applied, owner,
                extract(epoch FROM clock_timestamp() - committed_at), error, attempts
            FROM \(table("segments")) ORDER BY job, segment
            """
        ).compactMap { row in
            guard let job = row.string(0), let segment = row.int(1), let epoch = row.int(2),
                let xid = row.string(3).flatMap({ UInt64($0) }), let seq = row.int(4)
            else { return nil }
            return SegmentRow(
                job: job, segment: segment, position: EventsTablePosition(epoch: epoch, xid: xid, seq: seq),
                eventsApplied: row.int(5) ?? 0, owner: row.string(6), committedAgo: row.double(7), error: row.string(8),
                attempts: row.int(9) ?? 0)
        }
    }

    public func runnerRows() throws(StoreError) -> [RunnerRow] {
        try run(
            """
            SELECT r.name, r.host, r.backend_pid, extract(epoch FROM clock_timestamp() - r.heartbeat_at),
                EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid
                    AND (a.backend_start IS NULL OR a.backend_start = r.backend_start))
            FROM \(table("runners")) r ORDER BY r.name
            """
        ).compactMap { row in
            guard let name = row.string(0) else { return nil }
            return RunnerRow(
                name: name, host: row.string(1) ?? "", backendPID: row.int(2) ?? 0, heartbeatAgo: row.double(3) ?? 0,
                connected: row.bool(4) ?? false)
        }
    }

    /// The oldest running transaction that holds an xid: the reading horizon stops at it.
    public func horizonHolder() throws(StoreError) -> HorizonHolder? {
        guard
            let row = try run(
                """
                SELECT pid, coalesce(application_name, ''), coalesce(state, ''),
                    extract(epoch FROM clock_timestamp() - xact_start), coalesce(datname, '')
                FROM pg_stat_activity
                WHERE backend_xid = pg_snapshot_xmin(pg_current_snapshot())::xid
                ORDER BY xact_start LIMIT 1
                """
            ).first
        else { return nil }
        return HorizonHolder(
            pid: row.int(0) ?? 0, applicationName: row.string(1) ?? "", state: row.string(2) ?? "",
            seconds: row.double(3) ?? 0, database: row.string(4) ?? "")
    }

    /// Rows of the events table past `position`, counted up to `limit`.
    public func rowsAfter(_ events: PGEventsTable, _ position: EventsTablePosition, limit: Int) throws(StoreError)
        -> Int
    {
        try run(
            """
            SELECT count(*) FROM (SELECT 1 FROM \(events.sql)
                WHERE (epoch, xid, seq) > ($1::integer, $2::xid8, $3::bigint) LIMIT $4::bigint) AS r
            """, [position.epoch.parameter, "\(position.xid)", position.seq.parameter, limit.parameter]
        ).first?.int(0) ?? 0
    }

    /// Held events, oldest first, with the version each waits for.
    public func heldVersionRows(limit: Int) throws(StoreError) -> [HeldVersionRow] {
        try run(
            """
            SELECT h.job, h.key, h.version, coalesce(v.version, 0) + 1,
                extract(epoch FROM clock_timestamp() - h.held_at)
            FROM \(table("version_holds")) h
            LEFT JOIN \(table("key_versions")) v ON v.job = h.job AND v.key = h.key
            ORDER BY h.held_at LIMIT $1
            """, [limit.parameter]
        ).compactMap { row in
            guard let job = row.string(0), let key = row.string(1), let version = row.int(2) else { return nil }
            return HeldVersionRow(
                job: job, key: key, version: version, waitingFor: row.int(3) ?? 1, seconds: row.double(4) ?? 0)
        }
    }

    /// Whether the tables of segmented runs exist.
    public func hasSegmentTables() throws(StoreError) -> Bool {
        try run("SELECT to_regclass($1) IS NOT NULL", [schema + ".segments"]).first?.bool(0) == true
    }
}

extension PGStore {
    /// Whether the events table exists where the session's search path finds it.
    public func exists(_ events: PGEventsTable) throws(StoreError) -> Bool {
        try run("SELECT to_regclass($1) IS NOT NULL", [events.sql]).first?.bool(0) == true
    }
}

extension PGStore {
    /// The highest `seq` of the events table (0 when empty).
    public func headSeq(_ events: PGEventsTable) throws(StoreError) -> Int {
        try run("SELECT coalesce(max(seq), 0) FROM \(events.sql)").first?.int(0) ?? 0
    }
}
