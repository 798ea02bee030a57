/// Counters of the metrics textfile that outlive a run (`--metrics-file`), kept in the store.
public protocol MetricsCounters {
    /// In one transaction, adds each of `adding` to its counter and sets each of `setting`.
    func updateMetrics(adding: [MetricSample], setting: [MetricSample]) throws(StoreError)
    /// Every stored counter, by name then labels; none before the first `updateMetrics`.
    func storedMetrics() throws(StoreError) -> [MetricSample]
}

/// One value of a metric: its name, its labels as the textfile writes them (`result="dead"`, or
/// empty) and its value.
public struct MetricSample: Sendable, Equatable {
    public var name: String
    public var labels: String
    public var value: Double

    public init(_ name: String, labels: String = "", _ value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}
