public import Logging
public import ProjectorCore
public import Webhooks

/// Delivers the outbox's due notifications after commit, concurrently, within a time budget,
/// and records every outcome (SPEC §5). A consumer that is down never fails the run.
public struct WebhookDispatcher {
    let store: any ProjectionStore
    let endpoints: [String: WebhookEndpoint]
    /// Configured endpoints whose secret this command did not read: their rows wait, quietly.
    let unsigned: Set<String>
    let clock: any WallClock
    let logger: Logger
    let transport: CurlTransport

    public init(
        store: any ProjectionStore, endpoints: [WebhookEndpoint], clock: any WallClock, logger: Logger,
        transport: CurlTransport = CurlTransport()
    ) {
        self.store = store
        // An endpoint whose secret was not read is never sent to: nothing leaves unsigned.
        self.endpoints = Dictionary(
            endpoints.filter { !$0.secrets.isEmpty }.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        unsigned = Set(endpoints.filter { $0.secrets.isEmpty }.map(\.name))
        self.clock = clock
        self.logger = logger
        self.transport = transport
    }

    /// Attempts every due notification once.
    public func deliverDue(budget: Double, limit: Int = 1000) throws(StoreError) -> DeliveryReport {
        var report = DeliveryReport()
        let started = Monotonic.now()
        let due = try store.dueDeliveries(now: clock.now(), limit: limit).filter { row in
            if endpoints[row.endpoint] != nil { return true }
            if unsigned.contains(row.endpoint) { return false }
            logger.warning(
                "notification for an endpoint that is no longer configured stays pending",
                metadata: ["endpoint": "\(row.endpoint)", "id": "\(row.id)"])
            return false
        }
        guard !due.isEmpty else { return report }
        let timestamp = Int(clock.now())
        let requests = due.compactMap { row in
            endpoints[row.endpoint]?.request(messageID: row.messageID, body: row.body, timestamp: timestamp)
        }
        let results = transport.perform(requests, budget: budget)
        let now = clock.now()
        try store.transaction { () throws(StoreError) in
            var disabled: Set<String> = []
            for (row, result) in zip(due, results) {
                guard let endpoint = endpoints[row.endpoint] else { continue }
                if result.failure == .budgetExhausted {
                    report.cutShort += 1
                    try store.recordAttempt(
                        DeliveryAttempt(
                            id: row.id, state: .pending, attempts: row.attempts, at: now, nextAttemptAt: now,
                            status: nil, error: HTTPResult.Failure.budgetExhausted.description))
                    continue
                }
                if disabled.contains(row.endpoint) { continue }
                report.attempted += 1
                let attempts = row.attempts + 1
                var configurationError: String?
                if case .configuration(let message) = result.failure { configurationError = message }
                let decision = endpoint.policy.decide(
                    status: result.status, configurationError: configurationError, retryAfter: result.retryAfter,
                    attempts: attempts, unit: Double.random(in: 0..<1))
                let error = result.failure?.description ?? result.status.map { "HTTP \($0)" }
                switch decision {
                case .delivered:
                    report.delivered += 1
                    try store.recordAttempt(
                        DeliveryAttempt(
                            id: row.id, state: .delivered, attempts: attempts, at: now, nextAttemptAt: now,
                            status: result.status, error: nil))
                case .retry(let after):
                    report.retrying += 1
                    try store.recordAttempt(
                        DeliveryAttempt(
                            id: row.id, state: .pending, attempts: attempts, at: now, nextAttemptAt: now + after,
                            status: result.status, error: error))
                    logger.notice(
                        "webhook delivery failed; will retry",
                        metadata: [
                            "endpoint": "\(row.endpoint)", "id": "\(row.messageID)", "attempts": "\(attempts)",
                            "retry_in_s": "\(Int(after))", "error": "\(error ?? "")",
                        ])
                case .dead(let reason):
                    report.dead += 1
                    try store.recordAttempt(
                        DeliveryAttempt(
                            id: row.id, state: .dead, attempts: attempts, at: now, nextAttemptAt: now,
                            status: result.status, error: reason + (error.map { " (\($0))" } ?? "")))
                    logger.error(
                        "webhook notification is dead",
                        metadata: ["endpoint": "\(row.endpoint)", "id": "\(row.messageID)", "reason": "\(reason)"])
                case .disableEndpoint:
                    report.disabled += 1
                    disabled.insert(row.endpoint)
                    try store.recordAttempt(
                        DeliveryAttempt(
                            id: row.id, state: .disabled, attempts: attempts, at: now, nextAttemptAt: now,
                            status: result.status, error: "410 Gone: endpoint disabled"))
                    try store.disableEndpoint(row.endpoint, reason: "410 Gone", now: now)
                    logger.error(
                        "webhook endpoint answered 410 Gone and is disabled until `projector webhooks retry`",
                        metadata: ["endpoint": "\(row.endpoint)"])
                }
            }
        }
        report.seconds = Monotonic.now() - started
        return report
    }
}
