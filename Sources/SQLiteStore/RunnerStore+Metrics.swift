public import ProjectorCore

/// The metrics textfile's counters, in `projector_metrics` (created by the first update).
extension RunnerStore: MetricsCounters {
    public func updateMetrics(adding: [MetricSample], setting: [MetricSample]) throws(StoreError) {
        try sqlite { () throws(SQLiteError) in
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS projector_metrics(name TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '',
                    value REAL NOT NULL, PRIMARY KEY(name, labels)) WITHOUT ROWID;
                """)
        }
        try transaction { () throws(StoreError) in
            try sqlite { () throws(SQLiteError) in
                for sample in adding { try upsert(sample, adding: true) }
                for sample in setting { try upsert(sample, adding: false) }
            }
        }
    }

    private func upsert(_ sample: MetricSample, adding: Bool) throws(SQLiteError) {
        try db.run(
            """
            INSERT INTO projector_metrics(name, labels, value) VALUES(?1, ?2, ?3)
            ON CONFLICT(name, labels) DO UPDATE SET value = \(adding ? "value + ?3" : "?3")
            """, [.text(sample.name), .text(sample.labels), .real(sample.value)])
    }

    public func storedMetrics() throws(StoreError) -> [MetricSample] {
        guard try hasTable("projector_metrics") else { return [] }
        return try sqlite { () throws(SQLiteError) in
            try db.rows("SELECT name, labels, value FROM projector_metrics ORDER BY name, labels").map {
                MetricSample($0[0].string ?? "", labels: $0[1].string ?? "", $0[2].double ?? 0)
            }
        }
    }
}
