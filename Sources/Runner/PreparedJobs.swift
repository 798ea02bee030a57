import Logging
import ProjectorCore
import Webhooks

/// The store opened, the runner's tables created, every selected job's `@setup` run and its
/// statements compiled: what `validate` checks and every other command starts from.
struct PreparedJobs {
    let store: any ProjectionStore
    /// In the order a run applies them (dependencies first).
    let jobs: [JobState]
    let checkpoints: [String: Checkpoint]
    let failures: [FailureKey: FailureRecord]

    /// Job file errors are reported together. With `.inspect` nothing is kept: the work happens in
    /// a transaction that is rolled back, so a typo in a column name is caught before a run.
    static func prepare(
        _ catalog: JobCatalog, options: RunOptions, logger: Logger, purpose: StoreOpening.Purpose
    ) throws(RunError) -> PreparedJobs {
        let store = try StoreOpening.open(options, for: purpose)
        var errors: [JobFileError] = []
        var jobs: [JobState] = []
        var checkpoints: [String: Checkpoint] = [:]
        var failures: [FailureKey: FailureRecord] = [:]
        func prepare() throws(StoreError) {
            try store.createSchema()
            errors += endpointProblems(catalog, options: options, logger: logger)
            errors += dialectProblems(catalog, store: store)
            if !errors.isEmpty { return }
            for job in catalog.jobs {
                do throws(JobFileErrors) {
                    try store.setUp(job)
                } catch {
                    errors += error.errors
                }
            }
            if !errors.isEmpty { return }
            checkpoints = try store.checkpoints()
            failures = try store.openFailures(jobs: catalog.jobs.map(\.name))
            for definition in catalog.jobs {
                do throws(JobFileErrors) {
                    jobs.append(
                        JobState(
                            compiled: try store.compile(definition),
                            position: checkpoints[definition.name]?.position ?? 0,
                            endpoints: options.endpoints.filter { $0.wants(definition) }.map(\.name),
                            upstreams: catalog.upstreams(of: definition.name)))
                } catch {
                    errors += error.errors
                }
            }
        }
        do throws(StoreError) {
            switch purpose {
            case .inspect: try store.rolledBack { () throws(StoreError) in try prepare() }
            case .write:
                try store.transaction { () throws(StoreError) in
                    try prepare()
                    // Job file errors leave the transaction rolled back.
                    if !errors.isEmpty { throw abandoned }
                }
            }
        } catch {
            if errors.isEmpty { throw .from(error) }
        }
        if !errors.isEmpty { throw .jobs(JobFileErrors(errors)) }
        return PreparedJobs(store: store, jobs: jobs, checkpoints: checkpoints, failures: failures)
    }

    private static let abandoned = StoreError(
        kind: .other, message: "job files have errors", code: "", description: "job files have errors")

    /// Jobs written for another database than the one the store is: SQLite's SQL on PostgreSQL,
    /// or a `-- dialect: postgres` job on SQLite.
    static func dialectProblems(_ catalog: JobCatalog, store: any ProjectionStore) -> [JobFileError] {
        catalog.jobs.filter { $0.dialect != store.dialect }.map { job in
            let written =
                job.dialect == .sqlite
                ? "is written for SQLite (it has no '-- dialect: postgres' line)"
                : "is written for PostgreSQL ('-- dialect: postgres')"
            return JobFileError(
                file: job.file, line: job.dialectLine,
                message: "job '\(job.name)' \(written), but the database is \(store.dialect.displayName): "
                    + "use a jobs directory written for \(store.dialect.displayName) (--jobs-dir)")
        }
    }

    /// `webhooks:` entries naming endpoints that are not configured: an error, or, when no endpoint
    /// is configured at all, a warning (a job file may name endpoints that only production has).
    static func endpointProblems(_ catalog: JobCatalog, options: RunOptions, logger: Logger) -> [JobFileError] {
        let configured = Set(options.endpoints.map(\.name))
        var errors: [JobFileError] = []
        for job in catalog.jobs {
            for name in job.webhooks where !configured.contains(name) {
                if configured.isEmpty {
                    guard options.notifiesConsumers else { continue }
                    logger.warning(
                        "job names a webhook endpoint but no endpoint is configured; no notification is sent",
                        metadata: ["job": "\(job.name)", "endpoint": "\(name)"])
                } else {
                    errors.append(
                        JobFileError(
                            file: job.file, line: job.line(ofWebhook: name),
                            message: "'webhooks:' names '\(name)', which is not a configured endpoint"))
                }
            }
        }
        return errors
    }
}
