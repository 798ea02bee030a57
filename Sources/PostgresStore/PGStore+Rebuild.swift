public import PostgresClient
public import ProjectorCore

/// A rebuild without downtime on PostgreSQL: the job's read model is built in a scratch schema
/// of its own (`<schema>_rebuild_<job>`, first in the build's search path, so the job's
/// unqualified tables land there while the write model and other jobs' tables stay reachable),
/// with the build's checkpoint and failures in another (`<schema>_rebuilding_<job>`); then one
/// transaction moves the scratch tables into the live schema in place of the old ones.
extension PGStore {
    /// A store for the scratch build of `job` on `connection`: the runner's tables in the build's
    /// state schema, the scratch schema (the rebuild's unless given; created when missing) first in
    /// the search path, the rest of the search path as a live run has it.
    public static func rebuildScratch(
        connection: PGConnection, job: String, scratch: String? = nil, runnerSchema: PGRunnerSchema
    ) throws(PGError) -> PGStore {
        try keepJobsOut(of: runnerSchema.name, connection: connection)
        let scratch = scratch ?? runnerSchema.rebuild(of: job)
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(quote(scratch))")
        try connection.query(
            "SELECT set_config('search_path', $1 || ', ' || current_setting('search_path'), false)", [quote(scratch)])
        return try PGStore(
            connection: connection, tablesIn: runnerSchema.rebuilding(of: job), runnerSchema: runnerSchema)
    }

    /// Takes the advisory lock of the rebuilds of `job` on `connection` (held until it closes):
    /// false when another connection holds it. Two builds never share a scratch schema.
    public static func tryLockRebuild(
        of job: String, runnerSchema: PGRunnerSchema, connection: PGConnection
    ) throws(PGError) -> Bool {
        try connection.query("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", [runnerSchema.rebuild(of: job)])
            .first?.bool(0) == true
    }

    /// Whether a (possibly interrupted) rebuild of `job` left its schemas behind.
    public func hasRebuild(of job: String) throws(StoreError) -> Bool {
        let rows = try run(
            "SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)",
            [runnerSchema.rebuild(of: job), runnerSchema.rebuilding(of: job)])
        return (rows.first?.int(0) ?? 0) > 0
    }

    /// The fingerprint of `job`'s checkpoint in its rebuild (nil: no checkpoint yet).
    public func rebuildFingerprint(of job: String) throws(StoreError) -> String? {
        let state = runnerSchema.rebuilding(of: job)
        let exists = try run("SELECT to_regclass($1) IS NOT NULL", [Self.quote(state) + ".checkpoints"])
        guard exists.first?.bool(0) == true else { return nil }
        return try run("SELECT fingerprint FROM \(Self.quote(state)).checkpoints WHERE job = $1", [job])
            .first?.string(0)
    }

    /// Drops what a rebuild of `job` left behind (both its schemas).
    public func discardRebuild(of job: String) throws(StoreError) {
        try execute(
            "DROP SCHEMA IF EXISTS \(Self.quote(runnerSchema.rebuild(of: job))) CASCADE; "
                + "DROP SCHEMA IF EXISTS \(Self.quote(runnerSchema.rebuilding(of: job))) CASCADE")
    }

    /// In one transaction: drops the job's live tables (and views and functions its `@setup`
    /// made) and moves the scratch schema's into the schema where each live one was (the first of
    /// the search path for a new one), tables with their indexes, constraints, triggers and owned
    /// sequences; replaces the job's checkpoint, failures, held events and waits with the build's;
    /// runs `also` (given the new position) to queue the rebuild's notification; and drops the
    /// rebuild's schemas. Readers wait for the commit on the tables' locks, then see the new
    /// tables: never a missing or half-built one.
    public func rebuildSwap(
        job: String, also: (Int) throws(StoreError) -> Void
    ) throws(StoreError) -> ReadModelSwap {
        let scratch = runnerSchema.rebuild(of: job)
        let state = Self.quote(runnerSchema.rebuilding(of: job))
        return try transaction { () throws(StoreError) in
            let relations = try run(
                """
                SELECT c.relname, c.relkind FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
                ORDER BY c.relkind IN ('v', 'm') DESC, c.relname
                """, [scratch]
            ).compactMap { row in row.string(0).map { (name: $0, kind: row.string(1) ?? "r") } }
            let current = try run("SELECT coalesce(current_schema(), 'public')").first?.string(0) ?? "public"
            // Views first: a live view over a live table would keep the table from being dropped.
            var targets: [String] = []
            for relation in relations {
                let live = try run(
                    """
                    SELECT n.nspname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.oid = to_regclass($1)
                    """, [Self.quote(relation.name)]
                ).first
                let schema = live?.string(0) ?? current
                if let kind = live?.string(1) {
                    try execute("DROP \(Self.relationWord(kind)) \(Self.quote(schema)).\(Self.quote(relation.name))")
                }
                targets.append(schema)
            }
            for (relation, target) in zip(relations, targets) {
                try execute(
                    "ALTER \(Self.relationWord(relation.kind)) \(Self.quote(scratch)).\(Self.quote(relation.name)) SET SCHEMA \(Self.quote(target))"
                )
            }
            // Functions (a trigger's, say) go to the schema the live `@setup` made them in.
            let routines = try run(
                """
                SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
                """, [scratch]
            ).compactMap { row in row.string(0).map { (name: $0, arguments: row.string(1) ?? "") } }
            for routine in routines {
                let signature = "\(Self.quote(routine.name))(\(routine.arguments))"
                try execute("DROP ROUTINE IF EXISTS \(Self.quote(current)).\(signature)")
                try execute("ALTER ROUTINE \(Self.quote(scratch)).\(signature) SET SCHEMA \(Self.quote(current))")
            }
            for name in ["checkpoints", "failures", "held_events", "failure_waits"] {
                try run("DELETE FROM \(table(name)) WHERE job = $1", [job])
                try run("INSERT INTO \(table(name)) SELECT * FROM \(state).\(name) WHERE job = $1", [job])
            }
            let position =
                try run("SELECT position FROM \(table("checkpoints")) WHERE job = $1", [job])
                .first?.int(0) ?? 0
            try also(position)
            try execute("DROP SCHEMA \(Self.quote(scratch)) CASCADE; DROP SCHEMA \(state) CASCADE")
            return ReadModelSwap(
                tables: relations.filter { $0.kind == "r" || $0.kind == "p" }.map(\.name), position: position)
        }
    }

    /// The word SQL names a relation of kind `kind` (`pg_class.relkind`) with.
    static func relationWord(_ kind: String) -> String {
        switch kind {
        case "v": "VIEW"
        case "m": "MATERIALIZED VIEW"
        default: "TABLE"
        }
    }
}
