public import PostgresClient
import ProjectorCore

/// The events table: the journal's events in PostgreSQL, written by the API in the same
/// transaction as its write model (a transactional outbox: no dual write, SPEC §10), read by
/// any number of runners.
///
/// Each row carries the writing transaction's id (`xid`, `pg_current_xact_id()`): a reader takes
/// the rows after its checkpoint whose transaction ended before every transaction still running
/// began (`xid < pg_snapshot_xmin(pg_current_snapshot())`), in `(epoch, xid, seq)` order. A row
/// committed later always has an `xid` at or above that horizon, so nothing is ever skipped, and
/// a transaction still in flight is waited for, without a timer.
///
/// The columns other than `seq`, `xid` and `epoch` accept NULL on purpose: a row that lacks a
/// field the journal's contract requires is a reject the runner records, not an error in the API.
public struct PGEventsTable: Sendable, Hashable, CustomStringConvertible {
    /// The table as SQL names it (`events`, `app.events`), each part quoted.
    public let sql: String
    /// The table's name as given.
    public let name: String

    /// `name`: a table name or `schema.table`, each part letters, digits and `_`; nil otherwise.
    public init?(_ name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
            parts.allSatisfy({ $0.utf8.count <= 63 && PGRunnerSchema.isPlainName($0) })
        else { return nil }
        self.name = name
        sql = parts.map { SQLText.quotedIdentifier(String($0)) }.joined(separator: ".")
    }

    public var description: String { name }

    /// The table's name without its schema, for the names of its index.
    var baseName: String { String(name.split(separator: ".").last ?? Substring(name)) }

    /// Creates the table and its reading index when missing (`projector events init`).
    public var ddl: String {
        """
        CREATE TABLE IF NOT EXISTS \(sql) (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            epoch integer NOT NULL DEFAULT 1,
            id text UNIQUE,
            type text,
            aggregate_type text,
            aggregate_id text,
            version bigint,
            occurred_at timestamptz DEFAULT now(),
            data jsonb,
            metadata jsonb
        );
        CREATE INDEX IF NOT EXISTS \(SQLText.quotedIdentifier(baseName + "_reading_order"))
            ON \(sql) (epoch, xid, seq);
        CREATE UNIQUE INDEX IF NOT EXISTS \(SQLText.quotedIdentifier(baseName + Self.versionIndexSuffix))
            ON \(sql) (aggregate_type, aggregate_id, version);
        """
    }

    /// The end of the name of the index that refuses a second event with an aggregate's version:
    /// two API transactions that both append version v of an aggregate cannot both commit (the
    /// second fails, as an optimistic concurrency check), so no runner ever sees two v's.
    public static let versionIndexSuffix = "_aggregate_version"

    /// Whether `error` is the version index refusing an event.
    public static func refusesVersion(_ error: PGError) -> Bool {
        error.sqlState == "23505" && error.message.contains(versionIndexSuffix)
    }

    /// What an API runs to append one event, with its parameters in this order: id, type,
    /// aggregate type, aggregate id, version (or NULL), occurred at (or NULL: now), data, metadata.
    public var insert: String {
        """
        INSERT INTO \(sql) (id, type, aggregate_type, aggregate_id, version, occurred_at, data, metadata)
        VALUES ($1, $2, $3, $4, $5::bigint, coalesce($6::timestamptz, now()), $7::jsonb, $8::jsonb)
        """
    }

    /// Each row after `after` (and below `horizon`'s epoch or the snapshot's horizon), at most
    /// `$5` of them, in reading order: seq, xid, epoch, version, the event as a journal line.
    /// Parameters: the checkpoint's epoch, xid and seq, the current epoch, the limit. (The text of
    /// `xid` has a name of its own: ORDER BY `xid` must be the column, ordered as a number.)
    public var window: String {
        """
        SELECT seq, xid::text AS xid_text, epoch, version, json_build_object(
                'id', id, 'type', type, 'aggregateType', aggregate_type, 'aggregateId', aggregate_id,
                'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'version', version, 'data', data, 'metadata', metadata)::text
        FROM \(sql)
        WHERE (epoch, xid, seq) > ($1::integer, $2::xid8, $3::bigint)
            AND (epoch < $4::integer OR xid < pg_snapshot_xmin(pg_current_snapshot()))
        ORDER BY epoch, xid, seq
        LIMIT $5::integer
        """
    }

    /// The epoch new rows get: the highest in the table (1 when it is empty).
    public var currentEpoch: String { "SELECT coalesce(max(epoch), 1) FROM \(sql)" }
}

/// A place in the events table's reading order: `(epoch, xid, seq)`; zero before the first row.
public struct EventsTablePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var epoch: Int
    public var xid: UInt64
    public var seq: Int

    public init(epoch: Int, xid: UInt64, seq: Int) {
        self.epoch = epoch
        self.xid = xid
        self.seq = seq
    }

    public static let start = EventsTablePosition(epoch: 0, xid: 0, seq: 0)

    public static func < (a: Self, b: Self) -> Bool { (a.epoch, a.xid, a.seq) < (b.epoch, b.xid, b.seq) }

    public var description: String { "\(epoch):\(xid):\(seq)" }
}
