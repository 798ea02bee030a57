import Foundation
import Logging
import ProjectorCore
import QaHubDemo
import Runner
import SQLiteStore
import TestSupport
import Testing
import Webhooks

@Suite struct EndpointConfigurationTests {
    @Test func configurationErrorsNameTheEndpointNeverTheSecret() throws {
        let dir = TemporaryDirectory()
        let bad = "whsec_c2hvcnQ="
        try dir.write(
            "p.json", #"{"webhooks":{"dash":{"url":"https://x.example/h","secretEnv":"DASH_SECRET"}}}"#)
        let configuration = try ProjectorConfiguration.load(path: dir.file("p.json"))
        do {
            _ = try configuration.endpoints(environment: ["DASH_SECRET": bad])
            Issue.record("accepted a short secret")
        } catch {
            #expect(error.description.contains("webhook endpoint 'dash'"))
            #expect(!error.description.contains(bad))
            #expect(!error.description.contains("c2hvcnQ"))
        }
        try dir.write("q.json", #"{"webhooks":{"dash":{"url":"https://x.example/h","secret":"whsec_abc"}}}"#)
        #expect(throws: RunError.self) {
            _ = try ProjectorConfiguration.load(path: dir.file("q.json")).endpoints(environment: [:])
        }
        try dir.write("r.json", #"{"webhooks":{"dash":{"url":"http://x.example/h","secretEnv":"S"}}}"#)
        #expect(throws: RunError.self) {
            _ = try ProjectorConfiguration.load(path: dir.file("r.json")).endpoints(
                environment: ["S": WebhookSecret.generate()])
        }
    }
}

/// A run with one endpoint pointing at a real receiver on 127.0.0.1.
func webhookFixture(
    _ receiver: WebhookReceiver, secrets: [WebhookSecret]? = nil, timeout: Double = 5, url: String? = nil,
    policy: DeliveryPolicy = DeliveryPolicy()
) throws -> Fixture {
    let f = try Fixture()
    f.options.endpoints = [
        try dashEndpoint(receiver, secrets: secrets, timeout: timeout, url: url, policy: policy)
    ]
    return f
}

/// The endpoint `dash` for the job `counter`, pointing at `receiver` (or `url`) over plain HTTP.
func dashEndpoint(
    _ receiver: WebhookReceiver, secrets: [WebhookSecret]? = nil, timeout: Double = 5, url: String? = nil,
    policy: DeliveryPolicy = DeliveryPolicy()
) throws -> WebhookEndpoint {
    WebhookEndpoint(
        name: "dash", url: url ?? receiver.url, secrets: try secrets ?? [WebhookSecret(WebhookSecret.generate())],
        jobs: ["counter"], timeout: timeout, connectTimeout: 1, policy: policy, allowHTTP: true)
}

@Suite struct DeliveryTests {
    @Test func aNotificationDescribesTheCommittedWorkAndIsSignedPerSecret() throws {
        let old = try WebhookSecret(WebhookSecret.generate())
        let new = try WebhookSecret(WebhookSecret.generate())
        let onlyOld = try WebhookReceiver(secrets: [old])
        let onlyNew = try WebhookReceiver(secrets: [new])
        let f = try webhookFixture(onlyOld, secrets: [new, old])
        f.options.endpoints.append(
            WebhookEndpoint(name: "dash2", url: onlyNew.url, secrets: [new, old], jobs: ["counter"], allowHTTP: true))
        f.clock.time = Date().timeIntervalSince1970  // the receivers check timestamps against their clock
        try f.append(f.ping("1"), f.ping("2"), f.ping("1"))
        let report = try f.run()
        #expect(report.notificationsQueued == 2)
        #expect(report.deliveries.delivered == 2)
        let request = try #require(onlyOld.received.first)
        #expect(request.verified == true)
        #expect(onlyNew.received.first?.verified == true)
        #expect(request.signature.split(separator: " ").count == 2)
        #expect(request.id.hasPrefix("msg_") && !request.id.contains("."))
        #expect(onlyNew.received.first?.id == request.id)
        let json = try #require(request.json)
        #expect(json["type"] as? String == "projection.refreshed")
        let data = try #require(json["data"] as? [String: Any])
        #expect(data["job"] as? String == "counter")
        #expect(data["runId"] as? Int == report.runID)
        #expect(data["fromPosition"] as? Int == 0)
        #expect(data["toPosition"] as? Int == report.journalEnd)
        #expect(data["events"] as? Int == 3)
        #expect(data["keys"] as? [String] == ["1", "2"])
        #expect(data["keysTotal"] as? Int == 2)
        #expect(data["truncated"] as? Bool == false)
        #expect(data["failures"] as? Int == 0)
        #expect(
            try f.rows("SELECT state, attempts, last_status FROM projector_webhook_outbox") == [
                ["delivered", "1", "200"], ["delivered", "1", "200"],
            ])
    }

    @Test func aRetryKeepsTheIdAndBodyWithAFreshTimestampAndSignature() throws {
        try Guarantees.aFailedDeliveryIsRetriedWithTheSameIdAndBody(try Fixture())
    }

    @Test func gone410DisablesTheEndpoint() throws {
        let receiver = try WebhookReceiver { _ in .respond(status: 410) }
        let f = try webhookFixture(receiver)
        try f.append(f.ping("1"))
        let report = try f.run()
        #expect(report.outcome.isClean)
        #expect(report.deliveries.disabled == 1)
        #expect(try f.rows("SELECT name FROM projector_webhook_endpoints") == [["dash"]])
        try f.append(f.ping("2"))
        f.clock.time += 100_000
        try f.run()
        #expect(receiver.received.count == 1)
        #expect(try f.rows("SELECT state FROM projector_webhook_outbox ORDER BY id") == [["disabled"], ["disabled"]])
        #expect(try StatusReport.load(options: f.options).disabledEndpoints == ["dash"])
    }

    @Test(arguments: [429, 503])
    func retryAfterIsHonoured(status: Int) throws {
        let receiver = try WebhookReceiver { _ in .respond(status: status, headers: ["Retry-After": "120"]) }
        let f = try webhookFixture(receiver)
        try f.append(f.ping("1"))
        try f.run()
        let row = try f.db().rows("SELECT state, next_attempt_at, last_status FROM projector_webhook_outbox")[0]
        #expect(row[0].string == "pending")
        #expect(row[1].double == f.clock.time + 120)
        #expect(row[2].int == status)
    }

    /// Each failure class is retried on the schedule, never failing the run.
    @Test(arguments: ["500", "302", "timeout", "close", "refused"])
    func failuresAreRetried(kind: String) throws {
        let target = try WebhookReceiver()
        let receiver = try WebhookReceiver { _ in
            switch kind {
            case "500": return .respond(status: 500)
            case "302": return .respond(status: 302, headers: ["Location": target.url])
            case "timeout": return .respond(status: 200, delay: 2)
            default: return .close
            }
        }
        let closed = try ClosedPort()
        let f = try webhookFixture(receiver, timeout: 0.5, url: kind == "refused" ? closed.url : receiver.url)
        try f.append(f.ping("1"))
        let report = try f.run()
        #expect(report.outcome.isClean)
        #expect(report.deliveries.retrying == 1)
        let row = try f.db().rows("SELECT state, attempts, last_error FROM projector_webhook_outbox")[0]
        #expect(row[0].string == "pending")
        #expect(row[1].int == 1)
        #expect(row[2].string?.isEmpty == false)
        #expect(target.received.isEmpty, "a redirect was followed")
    }

    @Test func afterTheLastAttemptANotificationIsDeadAndCanBeRequeued() throws {
        let receiver = try WebhookReceiver { index in .respond(status: index < 3 ? 500 : 200) }
        let f = try webhookFixture(receiver, policy: DeliveryPolicy(schedule: [1], maxAttempts: 3, jitter: 0))
        try f.append(f.ping("1"))
        try f.run()
        for _ in 0..<2 {
            f.clock.time += 2
            try f.run()
        }
        #expect(try f.rows("SELECT state, attempts FROM projector_webhook_outbox") == [["dead", "3"]])
        f.clock.time += 1000
        #expect(try f.run().deliveries.attempted == 0)
        let requeued = try RunnerStore(db: f.db()).requeue(matching: OutboxFilter(states: [.dead]), now: f.clock.time)
        #expect(requeued == 1)
        #expect(try f.run().deliveries.delivered == 1)
        #expect(receiver.received.count == 4)
    }

    @Test func wrongSchemesAreDeadAtOnce() throws {
        let receiver = try WebhookReceiver()
        let f = try webhookFixture(receiver, url: "ftp://127.0.0.1/x")
        try f.append(f.ping("1"))
        try f.run()
        let row = try f.db().rows("SELECT state, last_error FROM projector_webhook_outbox")[0]
        #expect(row[0].string == "dead")
        #expect(row[1].string?.contains("configuration") == true)
    }

    /// The consumer answers only once the test lets it (after the run returned): a run that waited
    /// for it instead of keeping to its budget would find it answered.
    @Test func aSlowConsumerCostsNoMoreThanTheBudget() throws {
        let release = DispatchSemaphore(value: 0)
        let answered = Atomic(false)
        let receiver = try WebhookReceiver { _ in
            _ = release.wait(timeout: .now() + 30)
            answered.value = true
            return .respond(status: 200)
        }
        defer { release.signal() }
        let f = try webhookFixture(receiver, timeout: 60)
        f.options.webhookBudget = 0.5
        try f.append(f.ping("1"))
        let report = try f.run()
        #expect(!answered.value, "the run waited for the consumer beyond its budget")
        #expect(receiver.received.count == 1)
        #expect(report.deliveries.cutShort == 1)
        #expect(try f.rows("SELECT state, attempts FROM projector_webhook_outbox") == [["pending", "0"]])
    }

    @Test func nothingIsNotifiedForWorkThatWasRolledBack() throws {
        let receiver = try WebhookReceiver()
        let f = try webhookFixture(receiver)
        try f.run()
        // A batch whose transaction cannot commit (the database is locked by another writer):
        try f.append(f.ping("1"))
        let blocker = try Database(path: f.options.databasePath)
        try blocker.execute("BEGIN IMMEDIATE")
        #expect(throws: RunError.self) { try f.run { $0.busyTimeoutMilliseconds = 100 } }
        try blocker.execute("ROLLBACK")
        #expect(receiver.received.isEmpty)
        #expect(try f.scalar("SELECT count(*) FROM projector_notification_state") == 0)
        // The next run does the work once and notifies it once.
        try f.run()
        #expect(receiver.received.count == 1)
        #expect((receiver.received[0].json?["data"] as? [String: Any])?["events"] as? Int == 1)
    }

    @Test func unknownEndpointsInJobsAreConfigurationErrors() throws {
        let receiver = try WebhookReceiver()
        let f = try webhookFixture(receiver)
        try f.dir.write("jobs/counter.sql", "-- webhooks: nowhere\n" + Fixture.refreshJob)
        #expect {
            try f.run()
        } throws: { error in
            (error as? RunError)?.description.contains("'webhooks:' names 'nowhere'") == true
        }
    }
}
