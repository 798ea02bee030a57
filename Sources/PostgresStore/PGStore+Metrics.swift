import PostgresClient
public import ProjectorCore

/// The metrics textfile's counters, in the runner's `metrics` table.
extension PGStore: MetricsCounters {
    /// Every upsert in one pipeline: one round trip, one implicit transaction.
    public func updateMetrics(adding: [MetricSample], setting: [MetricSample]) throws(StoreError) {
        let metrics = table("metrics")
        func upsert(_ sample: MetricSample, adding: Bool) -> (String, [String?]) {
            (
                """
                INSERT INTO \(metrics)(name, labels, value) VALUES($1, $2, $3)
                ON CONFLICT (name, labels) DO UPDATE SET value = \(adding ? "\(metrics).value + $3" : "$3")
                """, [sample.name, sample.labels, sample.value.parameter]
            )
        }
        let statements = adding.map { upsert($0, adding: true) } + setting.map { upsert($0, adding: false) }
        guard !statements.isEmpty else { return }
        for answer in try pipelined(statements) {
            if case .failure(let error) = answer { throw error.storeError }
        }
    }

    public func storedMetrics() throws(StoreError) -> [MetricSample] {
        guard try hasRunnerTables() else { return [] }
        // Names and labels in byte order (COLLATE "C"), as on SQLite.
        return try run(
            "SELECT name, labels, value FROM \(table("metrics")) ORDER BY name COLLATE \"C\", labels COLLATE \"C\""
        ).map { MetricSample($0.string(0) ?? "", labels: $0.string(1) ?? "", $0.double(2) ?? 0) }
    }
}
