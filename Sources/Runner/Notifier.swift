import Logging
import ProjectorCore
import Webhooks

/// Turns the work accumulated per job (in the transactions that committed it) into outbox rows,
/// in the command's last transaction; then delivers what is due, within the budget (SPEC §5).
struct Notifier {
    let session: Session

    func notifyAndDeliver() throws(RunError) {
        let options = session.options
        guard !options.endpoints.isEmpty else { return }
        let started = Monotonic.now()
        defer { session.report.timings.webhooks += Monotonic.now() - started }
        let byJob = Dictionary(session.jobs.map { ($0.name, $0.endpoints) }, uniquingKeysWith: { a, _ in a })
        let store = session.store
        let runID = session.runID
        let now = session.clock.now()
        session.report.notificationsQueued = try session.retryingConflicts("queueing of notifications") {
            () throws(RunError) in
            try session.transaction { () throws(StoreError) in
                try store.emitNotifications(
                    runID: runID, now: now, endpoints: { byJob[$0] ?? [] }, disabled: try store.disabledEndpoints(),
                    messageID: { Notification.newID() }, body: \.body)
            }
        }
        // Commands that sign nothing (replay, verify) leave the delivery to the next run.
        guard options.deliverWebhooks, options.endpoints.contains(where: { !$0.secrets.isEmpty }) else {
            if session.report.notificationsQueued > 0 {
                session.logger.notice(
                    "notification queued; the next run delivers it",
                    metadata: ["notifications": "\(session.report.notificationsQueued)"])
            }
            return
        }
        let dispatcher = WebhookDispatcher(
            store: store, endpoints: options.endpoints, clock: session.clock, logger: session.logger)
        session.report.deliveries = try session.storeCall { () throws(StoreError) in
            try dispatcher.deliverDue(budget: options.webhookBudget)
        }
    }
}
