/// What the operator's commands need from a store beside a run's `ProjectionStore`: `status`,
/// `failures`, `webhooks list|retry`, the metrics textfile, `journal prune` and `verify`.
public protocol OperatorStore: ProjectionStore, StatusReading, FailureAdministration, OutboxAdministration,
    MetricsCounters, JournalRetention, TableComparison
{}
