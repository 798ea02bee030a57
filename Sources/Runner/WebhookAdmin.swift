public import Logging
public import ProjectorCore

/// `projector webhooks list|retry`: the outbox as the operator sees it, and notifications made
/// pending again.
public struct WebhookAdmin {
    let store: any OperatorStore

    /// Opens the database at `databasePath` (on PostgreSQL, the runner's tables in
    /// `postgresSchema`). Listing takes no lock (a run may be writing); `retry` creates the
    /// runner's tables when missing, in its own transaction.
    public init(databasePath: String, postgresSchema: String = "projector") throws(RunError) {
        store = try Stores.open(path: databasePath, schema: postgresSchema)
    }

    /// The notifications `filter` selects.
    public func list(_ filter: OutboxFilter) throws(RunError) -> [OutboxRow] {
        do throws(StoreError) {
            return try store.outboxRows(matching: filter)
        } catch {
            throw .from(error)
        }
    }

    /// Makes the notifications `filter` selects pending again at `now`, with a fresh attempt count,
    /// and re-enables their endpoints; returns how many.
    public func retry(_ filter: OutboxFilter, now: Double) throws(RunError) -> Int {
        do throws(StoreError) {
            return try store.transaction { () throws(StoreError) in
                try store.createSchema()
                return try store.requeue(matching: filter, now: now)
            }
        } catch {
            throw .from(error)
        }
    }

    /// Delivers the due notifications now, as a run does after its commit.
    public func deliverDue(options: RunOptions, clock: any WallClock, logger: Logger) throws(RunError) -> DeliveryReport
    {
        do throws(StoreError) {
            return try WebhookDispatcher(store: store, endpoints: options.endpoints, clock: clock, logger: logger)
                .deliverDue(budget: options.webhookBudget)
        } catch {
            throw .from(error)
        }
    }
}
