import ProjectorCore
import SQLiteStore

/// `projector failures list|retry|discard`: what failed, and the operator's two ways out.
public struct FailureAdmin {
    let db: Database

    public init(databasePath: String) throws(RunError) {
        do {
            db = try Database(path: databasePath)
            try RunnerStore(db: db).createSchema()
        } catch {
            throw RunError.from(error)
        }
    }

    public struct Listing: Codable, Sendable {
        public var job: String
        public var key: String
        public var state: String
        public var mode: String
        public var attempts: Int
        public var firstPosition: Int
        public var lastPosition: Int
        public var error: String
        public var lastFailedAt: Double
        public var nextAttemptAt: Double
        public var heldEvents: Int
    }

    public func list(job: String? = nil, state: String? = nil) throws(RunError) -> [Listing] {
        do {
            return try db.rows(
                """
                SELECT f.job, f.key, f.state, f.mode, f.attempts, f.first_position, f.last_position, f.error,
                    f.last_failed_at, f.next_attempt_at,
                    (SELECT count(*) FROM projector_held_events h WHERE h.job = f.job AND h.key = f.key)
                FROM projector_failures f
                WHERE (?1 IS NULL OR f.job = ?1) AND (?2 IS NULL OR f.state = ?2)
                ORDER BY f.job, f.first_position
                """, [SQLValue(job), SQLValue(state)]
            ).map { row in
                Listing(
                    job: row[0].string ?? "", key: row[1].string ?? "", state: row[2].string ?? "",
                    mode: row[3].string ?? "", attempts: row[4].int ?? 0, firstPosition: row[5].int ?? 0,
                    lastPosition: row[6].int ?? 0, error: row[7].string ?? "", lastFailedAt: row[8].double ?? 0,
                    nextAttemptAt: row[9].double ?? 0, heldEvents: row[10].int ?? 0)
            }
        } catch {
            throw RunError.from(error)
        }
    }

    /// Makes failures due now with a fresh attempt count: the next run tries them again.
    public func retry(job: String?, key: String?, now: Double) throws(RunError) -> Int {
        try update(
            """
            UPDATE projector_failures SET attempts = 0, next_attempt_at = ?3,
                state = CASE mode WHEN 'apply' THEN 'parked' ELSE 'retrying' END
            WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR key = ?2)
            """, [SQLValue(job), SQLValue(key), .real(now)])
    }

    /// A failure that `discard` forgot (or, in a dry run, would forget).
    public struct Discarded: Codable, Sendable {
        public var job: String
        public var key: String
        public var state: String
        public var attempts: Int
        public var firstPosition: Int
        public var lastPosition: Int
        public var error: String
        /// The journal positions of the held events dropped with it (apply keys), oldest first:
        /// these events are never applied.
        public var droppedPositions: [Int]
    }

    /// Forgets failures and says what went with them. For an apply key this also drops its held
    /// events: they will never be applied (the key goes on with new events). `dryRun` changes nothing.
    public func discard(job: String?, key: String?, onlyDead: Bool, dryRun: Bool = false) throws(RunError)
        -> [Discarded]
    {
        do {
            var discarded: [Discarded] = []
            let store = RunnerStore(db: db)
            try store.transaction { () throws(StoreError) in
                let matching = try store.sqlite { () throws(SQLiteError) in
                    try db.rows(
                        """
                        SELECT job, key, state, attempts, first_position, last_position, error FROM projector_failures
                        WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR key = ?2) AND (?3 = 0 OR state = 'dead')
                        ORDER BY job, first_position
                        """, [SQLValue(job), SQLValue(key), SQLValue(onlyDead ? 1 : 0)])
                }
                for row in matching {
                    let (job, key) = (row[0].string ?? "", row[1].string ?? "")
                    discarded.append(
                        Discarded(
                            job: job, key: key, state: row[2].string ?? "", attempts: row[3].int ?? 0,
                            firstPosition: row[4].int ?? 0, lastPosition: row[5].int ?? 0, error: row[6].string ?? "",
                            droppedPositions: try store.heldEvents(of: FailureKey(job: job, key: key)).map(\.position)))
                    if !dryRun { try store.clearFailure(FailureKey(job: job, key: key)) }
                }
            }
            return discarded
        } catch {
            throw RunError.from(error)
        }
    }

    private func update(_ sql: String, _ arguments: [SQLValue]) throws(RunError) -> Int {
        do {
            try db.run(sql, arguments)
            return db.changes
        } catch {
            throw RunError.from(error)
        }
    }
}
