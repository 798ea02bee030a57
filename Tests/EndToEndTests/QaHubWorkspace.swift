import Foundation
import Journal
import QaHubDemo
import SQLiteStore
import TestSupport
import Testing
import Webhooks

/// The QaHub write model and journal, the shipped jobs, a webhook receiver on 127.0.0.1 and a
/// configuration file naming them all.
final class QaHubWorkspace {
    let workspace: Workspace
    let secret = WebhookSecret.generate()
    let receiver: WebhookReceiver
    /// Where the jobs' checkpoints stood before the simulated traffic (after the bootstrap events
    /// when the shipped jobs ran before it, 0 otherwise).
    private(set) var trafficStart = 0
    /// Logging options for every command.
    let logging: [String]

    var dir: TemporaryDirectory { workspace.dir }

    /// The shipped jobs run once, after the simulated traffic.
    convenience init(events: Int = 20_000) throws {
        try self.init(
            label: "projector-ops", projects: 8, events: events, seed: 3, segmentBytes: 1 << 20,
            runBeforeTraffic: false,
            logging: ["--log-format", "json"])
    }

    /// For delivery tests: the shipped jobs run once before the traffic (so every job notifies
    /// what follows), `behavior` answers the notifications.
    static func forWebhooks(
        events: Int, behavior: @escaping @Sendable (Int) -> WebhookReceiver.Behavior = { _ in .respond(status: 200) }
    ) throws -> QaHubWorkspace {
        try QaHubWorkspace(
            label: "projector-webhooks", projects: 6, events: events, seed: 11, segmentBytes: 4 << 20,
            runBeforeTraffic: true, logging: ["--log-level", "error"], endpointTimeout: 30, behavior: behavior)
    }

    init(
        label: String, projects: Int, events: Int, seed: UInt64, segmentBytes: Int, runBeforeTraffic: Bool,
        logging: [String], endpointTimeout: Int? = nil,
        behavior: @escaping @Sendable (Int) -> WebhookReceiver.Behavior = { _ in .respond(status: 200) }
    ) throws {
        workspace = Workspace(
            label: label, database: "read.db", journal: "journal",
            jobsDirectory: ChildProcess.repositoryRoot() + "/jobs")
        self.logging = logging
        receiver = try WebhookReceiver(secrets: try WebhookSecret.list(secret), behavior: behavior)
        let writer = try JournalWriter(path: workspace.journalPath, directory: true, segmentBytes: segmentBytes)
        let simulator = try QaHubSimulator(writeModelPath: dir.file("qahub.db"), journal: writer, seed: seed)
        try simulator.bootstrap(projects: projects)
        let timeout = endpointTimeout.map { ", \"timeoutSeconds\": \($0)" } ?? ""
        try workspace.configure(
            """
            {"database": "read.db", "journal": "journal", "jobsDir": "\(workspace.jobsDirectory)",
             "attach": {"app": "qahub.db"},
             "webhooks": {"qa-dashboard": {"url": "\(receiver.url)", "secretEnv": "QA_SECRET", "allowHTTP": true\(timeout)}}}
            """,
            environment: ["QA_SECRET": secret])
        if runBeforeTraffic {
            // Checkpoints first, on the bootstrap events only, so every job processes the traffic.
            let first = try projector(["run"])
            #expect(first.status == 0, "\(first.stderr)")
            trafficStart = try Journal(path: workspace.journalPath).end
        }
        try simulator.simulate(events: events)
        if !runBeforeTraffic {
            let first = try projector(["run"])
            #expect(first.status == 0, "\(first.stderr)")
        }
    }

    func start(_ arguments: [String]) throws -> ChildProcess { try workspace.start(arguments + logging) }

    func projector(_ arguments: [String]) throws -> ChildProcess.Outcome { try start(arguments).wait() }

    func db() throws -> Database { try workspace.db() }

    /// Every notification of the outbox: (job, from, to, events, message id, state).
    func notifications() throws -> [(job: String, from: Int, to: Int, events: Int, id: String, state: String)] {
        try db().rows("SELECT job, body, message_id, state FROM projector_webhook_outbox ORDER BY id").map { row in
            var body: [UInt8] = []
            if case .blob(let bytes) = row[1] { body = bytes }
            let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            let data = json?["data"] as? [String: Any] ?? [:]
            return (
                row[0].string ?? "", data["fromPosition"] as? Int ?? -1, data["toPosition"] as? Int ?? -1,
                data["events"] as? Int ?? -1, row[2].string ?? "", row[3].string ?? ""
            )
        }
    }
}
