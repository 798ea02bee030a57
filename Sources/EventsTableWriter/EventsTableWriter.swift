public import PostgresClient
import ProjectorCore

/// Appends events to the events table (`projector events init`) on a connection the API already
/// holds, inside the API's own transaction.
///
/// It never begins, commits or rolls back anything: the table is a transactional outbox. The event
/// is one more row of the transaction that changes the write model, so it commits with that change
/// or disappears with it — a write model changed without its event, or an event about a change that
/// never happened, cannot exist. A writer that opened its own transaction (or its own connection)
/// would be a dual write again: the event could commit while the API's transaction rolls back.
///
/// ```swift
/// let events = EventsTableWriter()  // the table `events`; EventsTableWriter(table: "app.events") for another
/// try connection.execute("BEGIN")
/// _ = try connection.query("UPDATE app.test_runs SET status = 'passed' WHERE id = $1", ["42"])
/// try events.append(
///     try EventsTableWriter.Event(
///         type: "TEST_RUN_PASSED", aggregateType: "test_run", aggregateId: "42", version: 3,
///         data: #"{"testRunId":"42"}"#),
///     on: connection)
/// try connection.execute("COMMIT")
/// ```
public struct EventsTableWriter: Sendable {
    /// The table as SQL names it, each part quoted.
    public let table: String

    /// The one INSERT every append runs, with its 8 parameters: id, type, aggregate type, aggregate
    /// id, version (or NULL), occurred at (or NULL: now), data, metadata. The same statement an API
    /// in another language runs (docs/events-table.md).
    public let insert: String

    /// A writer to the table `table` (`events`, `app.events`); nil when `table` is not a table
    /// name: a name or `schema.name`, each part lowercase letters, digits and `_`, not starting
    /// with a digit, at most 63 bytes.
    public init?(table: String) {
        let parts = table.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy(Self.isNamePart) else { return nil }
        self.table = parts.map { "\"" + $0 + "\"" }.joined(separator: ".")
        insert = Self.insert(into: self.table)
    }

    static func insert(into table: String) -> String {
        """
        INSERT INTO \(table) (id, type, aggregate_type, aggregate_id, version, occurred_at, data, metadata)
        VALUES ($1, $2, $3, $4, $5::bigint, coalesce($6::timestamptz, now()), $7::jsonb, $8::jsonb)
        """
    }

    /// A writer to the table `events`.
    public init() {
        table = "\"events\""
        insert = Self.insert(into: table)
    }

    /// Appends `event` as one row, in the transaction open on `connection` (or, outside one, as a
    /// transaction of its own, committed at once). Throws the server's error: a second event with
    /// the same `id` is a unique violation (SQLSTATE 23505), which aborts the caller's transaction.
    public func append(_ event: Event, on connection: PGConnection) throws(PGError) {
        _ = try connection.query(insert, event.parameters)
    }

    static func isNamePart(_ part: Substring) -> Bool {
        guard let first = part.utf8.first, !(0x30...0x39).contains(first), part.utf8.count <= 63 else {
            return false
        }
        return part.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }
}

extension EventsTableWriter {
    /// One event with the journal's fields (docs/journal-format.md), checked when it is made, so
    /// that every event appended is one the runner accepts (never a reject).
    public struct Event: Sendable, Hashable {
        /// Identifies the event: a second event with the same id is refused by the table.
        public let id: String?
        public let type: String
        public let aggregateType: String
        public let aggregateId: String
        /// The event's number within its aggregate (1, 2, 3…, no gaps), or nil: with versions, a job
        /// keyed by the aggregate never applies version v+1 before v.
        public let version: Int?
        /// RFC 3339 time (`2026-11-26T10:00:00.000Z`), or nil for the transaction's time.
        public let occurredAt: String?
        /// A JSON object, as text.
        public let data: String?
        /// A JSON object, as text.
        public let metadata: String?

        public init(
            id: String? = nil, type: String, aggregateType: String, aggregateId: String, version: Int? = nil,
            occurredAt: String? = nil, data: String? = nil, metadata: String? = nil
        ) throws(InvalidEvent) {
            if type.isEmpty { throw InvalidEvent(field: "type", reason: "is empty") }
            if let version, version < 1 {
                throw InvalidEvent(field: "version", reason: "is \(version); versions count from 1")
            }
            if let data, let reason = Self.problem(withObject: data) {
                throw InvalidEvent(field: "data", reason: reason)
            }
            if let metadata, let reason = Self.problem(withObject: metadata) {
                throw InvalidEvent(field: "metadata", reason: reason)
            }
            for (field, value) in [("type", type), ("aggregateType", aggregateType), ("aggregateId", aggregateId)]
            where value.utf8.contains(0) {
                throw InvalidEvent(field: field, reason: "contains a NUL character, which PostgreSQL text cannot hold")
            }
            self.id = id
            self.type = type
            self.aggregateType = aggregateType
            self.aggregateId = aggregateId
            self.version = version
            self.occurredAt = occurredAt
            self.data = data
            self.metadata = metadata
        }

        /// The INSERT's parameters, in its order.
        var parameters: [String?] {
            [id, type, aggregateType, aggregateId, version.map(String.init), occurredAt, data, metadata]
        }

        /// What keeps `text` from being a JSON object the runner accepts inside an event (the
        /// journal's grammar and depth bound), nil when nothing does.
        public static func problem(withObject text: String) -> String? {
            let prefix = #"{"type":"t","aggregateType":"t","aggregateId":"t","data":"#
            let line = Array((prefix + text + "}").utf8)
            switch EventScanner().scan(line) {
            case .failure(.invalidJSON(let offset, let message)):
                let at = max(0, min(offset - prefix.utf8.count, text.utf8.count))
                return "is not valid JSON (at byte \(at): \(message))"
            case .failure(.invalidUTF8(let offset)):
                return "is not valid UTF-8 (at byte \(max(0, offset - prefix.utf8.count)))"
            case .failure(.tooDeep(_, let limit)):
                return "nests objects and arrays deeper than \(limit - 1) levels"
            case .failure(let reason):
                return "is not valid JSON (\(reason))"
            case .success(let scanned):
                if scanned.fields.dataKind != .object {
                    return "is JSON but not an object (found \(scanned.fields.dataKind))"
                }
                if text.utf8.contains(0) || text.contains(#"\u0000"#) {
                    return "contains \\u0000, which PostgreSQL's jsonb cannot hold"
                }
                return nil
            }
        }
    }

    /// Why an event cannot be appended: which field, and what is wrong with it.
    public struct InvalidEvent: Error, Sendable, Hashable, CustomStringConvertible {
        public let field: String
        public let reason: String

        public var description: String { "\(field) \(reason)" }
    }
}
