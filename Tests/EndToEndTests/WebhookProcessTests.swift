import Foundation
import Journal
import QaHubDemo
import SQLiteStore
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct WebhookProcessTests {
    /// The runner dies after committing, while the consumer is still answering: the next run
    /// delivers the same notification again, with the same webhook-id.
    @Test func killNineBeforeTheDeliveryIsRecordedMeansItIsDeliveredAgain() throws {
        let w = try QaHubWorkspace.forWebhooks(events: 500) { index in .respond(status: 200, delay: index == 2 ? 30 : 0)
        }
        // The set-up run's two notifications (new refresh jobs) were requests 0 and 1; this run's
        // two go out together, and request 2 hangs while request 3 is answered.
        let before = w.receiver.received.count
        let child = try w.start(["run"])
        #expect(w.receiver.wait(for: before + 2, timeout: 30))
        usleep(300_000)
        child.kill9()
        _ = child.wait()
        let pending = try w.notifications().filter { $0.state == "pending" }
        #expect(!pending.isEmpty, "the kill came after the deliveries were recorded")
        #expect(try w.projector(["run"]).status == 0)
        let all = try w.notifications()
        #expect(all.allSatisfy { $0.state == "delivered" })
        let ids = w.receiver.received.map(\.id)
        for notification in all { #expect(ids.contains(notification.id)) }
        #expect(Set(ids).count < ids.count, "one notification arrived twice with the same webhook-id")
        #expect(w.receiver.received.allSatisfy { $0.verified == true })
    }

    /// kill -9 at growing moments: the notifications of each job tile the journal exactly, so
    /// nothing is reported twice and no rolled-back work is reported at all.
    @Test func crashesNeverReportRolledBackWorkNorLoseCommittedWork() throws {
        let w = try QaHubWorkspace.forWebhooks(events: 40_000)
        var delay = 0.05
        var interrupted = 0
        while true {
            let child = try w.start(["run", "--batch-events", "300"])
            usleep(useconds_t(delay * 1_000_000))
            child.kill9()
            let outcome = child.wait()
            if !outcome.signaled { break }
            interrupted += 1
            delay *= 1.7
            if interrupted > 25 { break }
        }
        #expect(interrupted >= 2)
        #expect(try w.projector(["run"]).status == 0)
        let end = try Journal(path: w.dir.file("journal")).end
        let notifications = try w.notifications()
        for job in ["test_runs_view", "bug_budget_view"] {
            let mine = notifications.filter { $0.job == job && $0.events > 0 }.sorted { $0.from < $1.from }
            #expect(!mine.isEmpty)
            #expect(mine.first?.from == w.trafficStart)
            #expect(mine.last?.to == end)
            for (a, b) in zip(mine, mine.dropFirst()) {
                #expect(a.to == b.from, "\(job): \(a.from)..<\(a.to) then \(b.from)..<\(b.to)")
            }
            #expect(Set(mine.map(\.id)).count == mine.count)
        }
        #expect(notifications.allSatisfy { $0.state == "delivered" })
        #expect(w.receiver.received.allSatisfy { $0.verified == true })
    }

    @Test func theVerifyCommandChecksASignatureFromAShell() throws {
        let secret = WebhookSecret.generate()
        let body = #"{"type":"projection.refreshed"}"#
        let timestamp = Int(Date().timeIntervalSince1970)
        let signature = WebhookSigner.header(
            id: "msg_1", timestamp: timestamp, body: Array(body.utf8), secrets: try WebhookSecret.list(secret))
        let dir = TemporaryDirectory()
        func verify(_ body: String) throws -> Int32 {
            let input =
                "POST /hooks HTTP/1.1\r\nwebhook-id: msg_1\r\nwebhook-timestamp: \(timestamp)\r\n"
                + "webhook-signature: \(signature)\r\n\r\n" + body
            try dir.write("request", input)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ChildProcess.projectorPath)
            process.arguments = ["webhooks", "verify", "--secret-env", "S"]
            process.environment = ["S": secret]
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir.file("request")))
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try verify(body) == 0)
        #expect(try verify(body + " ") == 65)
    }

    @Test func testNotificationsSentInTheSameSecondHaveDistinctIDs() throws {
        // Given a receiver that answers 200 to everything
        let secret = WebhookSecret.generate()
        let receiver = try WebhookReceiver(secrets: try WebhookSecret.list(secret))
        defer { receiver.stop() }
        let dir = TemporaryDirectory()
        try dir.write(
            "projector.json",
            #"{"webhooks": {"dash": {"url": "\#(receiver.url)", "secretEnv": "S", "allowHTTP": true}}}"#)
        // When three test notifications are fired back to back
        for _ in 0..<3 {
            let test = try ChildProcess.run(
                ["webhooks", "test", "dash", "--config", dir.file("projector.json")], environment: ["S": secret])
            #expect(test.status == 0, "\(test.stdout) \(test.stderr)")
        }
        // Then a consumer that de-duplicates by webhook-id sees three notifications
        let ids = receiver.received.map(\.id)
        #expect(ids.count == 3)
        #expect(Set(ids).count == 3, "\(ids)")
        #expect(ids.allSatisfy { $0.hasPrefix("msg_test_") })
    }

    @Test func listRetryAndTestCommands() throws {
        let w = try QaHubWorkspace.forWebhooks(events: 300) { _ in .respond(status: 500) }
        _ = try w.projector(["run"])
        let list = try ChildProcess.run(
            ["webhooks", "list", "--json", "--config", w.dir.file("projector.json")],
            environment: ["QA_SECRET": w.secret])
        #expect(list.status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        // The set-up run initialized bug_budget_view from its keys (test_runs_view had none yet, so
        // did no work and is not notified); this run notifies both jobs.
        #expect(
            rows?.map { $0["job"] as? String ?? "" }.sorted() == [
                "bug_budget_view", "bug_budget_view", "test_runs_view",
            ])
        #expect(rows?.allSatisfy { $0["state"] as? String == "pending" } == true)
        let test = try ChildProcess.run(
            ["webhooks", "test", "qa-dashboard", "--config", w.dir.file("projector.json")],
            environment: ["QA_SECRET": w.secret])
        #expect(test.status == 1)
        #expect(test.stdout.contains("HTTP 500"))
        let missing = try ChildProcess.run(
            ["webhooks", "test", "qa-dashboard", "--config", w.dir.file("projector.json")])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("QA_SECRET"))
    }

    @Test func webhooksListFiltersByStateNewestFirstAndRetryRequeuesOnlyTheIdsGiven() throws {
        // Given three notifications the consumer refused, two of them given up on
        let w = try QaHubWorkspace.forWebhooks(events: 300) { _ in .respond(status: 500) }
        _ = try w.projector(["run"])
        try w.db().execute("UPDATE projector_webhook_outbox SET state = 'dead' WHERE id IN (1, 3)")
        func listed(_ arguments: [String]) throws -> [(id: Int, state: String)] {
            let outcome = try w.projector(["webhooks", "list", "--json"] + arguments)
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let rows = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [[String: Any]] ?? []
            return rows.map { (id: $0["id"] as? Int ?? 0, state: $0["state"] as? String ?? "") }
        }
        #expect(try listed(["--state", "dead"]).map(\.id) == [3, 1])
        #expect(try listed(["--state", "dead", "--limit", "1"]).map(\.id) == [3])
        #expect(try listed(["--state", "pending"]).map(\.id) == [2])

        // When the operator retries one of them, and an id that is not in the outbox
        let retry = try w.projector(["webhooks", "retry", "3", "99"])

        // Then only that one is pending again
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout == "1 notification(s) pending again\n")
        #expect(try listed([]).map { "\($0.id) \($0.state)" } == ["3 pending", "2 pending", "1 dead"])
    }
}
