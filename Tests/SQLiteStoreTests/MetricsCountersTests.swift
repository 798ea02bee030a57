import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// The metrics textfile's counters kept in the store across runs.
@Suite struct MetricsCountersTests {
    @Test func beforeTheFirstUpdateThereAreNoCountersEvenReadOnly() throws {
        let f = try OperatorStoreFixture()
        #expect(try f.reader().storedMetrics().isEmpty)
    }

    @Test func countersAddUpAcrossUpdatesAndGaugesAreReplaced() throws {
        let f = try OperatorStoreFixture()
        try f.store.updateMetrics(
            adding: [
                MetricSample("projector_runs_total", labels: #"outcome="ok""#, 1),
                MetricSample("projector_events_processed_total", 10),
            ],
            setting: [MetricSample("projector_last_run_exit_code", 65)])
        try f.store.updateMetrics(
            adding: [
                MetricSample("projector_runs_total", labels: #"outcome="ok""#, 1),
                MetricSample("projector_runs_total", labels: #"outcome="failures""#, 1),
                MetricSample("projector_events_processed_total", 2.5),
            ],
            setting: [MetricSample("projector_last_run_exit_code", 0)])
        #expect(
            try f.reader().storedMetrics() == [
                MetricSample("projector_events_processed_total", 12.5),
                MetricSample("projector_last_run_exit_code", 0),
                MetricSample("projector_runs_total", labels: #"outcome="failures""#, 1),
                MetricSample("projector_runs_total", labels: #"outcome="ok""#, 2),
            ])
    }

    @Test func theCountersWorkInADatabaseNoRunHasUsed() throws {
        let dir = TemporaryDirectory("projector-metrics")
        let store = try RunnerStore.open(path: dir.file("empty.db"), options: Database.Options())
        try store.updateMetrics(adding: [MetricSample("projector_runs_total", 1)], setting: [])
        #expect(try store.storedMetrics() == [MetricSample("projector_runs_total", 1)])
    }
}
