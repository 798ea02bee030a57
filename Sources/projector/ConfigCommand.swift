import ArgumentParser
import Foundation
import ProjectorCore
import Runner
import Webhooks

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the effective configuration.",
        subcommands: [Show.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the configuration that flags, environment and file add up to (secrets masked).")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        struct Effective: Encodable {
            struct Endpoint: Encodable {
                var url: String
                var secret: String
                var jobs: [String]
                var timeoutSeconds: Double
                var connectTimeoutSeconds: Double
                var maxAttempts: Int
                var schedule: [Double]
                var allowHTTP: Bool
            }

            var database: String
            var journal: String
            var jobsDir: String
            var attach: [String: String]
            var webhookBudgetSeconds: Double
            var retentionDays: Double
            var webhooks: [String: Endpoint]
        }

        func run() throws {
            let options = try store.runOptions()
            let sources: [String: WebhookSecretSource] = try store.configurationFile().configuration.secretSources
            var effective = Effective(
                database: options.databasePath, journal: options.journalPath, jobsDir: options.jobsDirectory,
                attach: Dictionary(
                    options.attachments.map { ($0.name, $0.path + ($0.readOnly ? " (read-only)" : " (read-write)")) },
                    uniquingKeysWith: { a, _ in a }),
                webhookBudgetSeconds: options.webhookBudget, retentionDays: options.retentionDays, webhooks: [:])
            for endpoint in options.endpoints {
                effective.webhooks[endpoint.name] = .init(
                    url: endpoint.url, secret: Self.secret(sources[endpoint.name]),
                    jobs: endpoint.jobs.sorted(), timeoutSeconds: endpoint.timeout,
                    connectTimeoutSeconds: endpoint.connectTimeout, maxAttempts: endpoint.policy.maxAttempts,
                    schedule: endpoint.policy.schedule, allowHTTP: endpoint.allowHTTP)
            }
            if json {
                print(try Output.json(effective))
                return
            }
            print("database:  \(effective.database)")
            print("journal:   \(effective.journal)")
            print("jobs dir:  \(effective.jobsDir)")
            for (name, path) in effective.attach.sorted(by: { $0.key < $1.key }) {
                print("attach:    \(name) = \(path)")
            }
            print("webhook budget: \(effective.webhookBudgetSeconds) s")
            print("retention: \(effective.retentionDays) days (runs, delivered notifications)")
            for (name, endpoint) in effective.webhooks.sorted(by: { $0.key < $1.key }) {
                print(
                    "webhook \(name): \(endpoint.url), secret \(endpoint.secret), jobs \(endpoint.jobs.joined(separator: ","))"
                        + ", timeout \(endpoint.timeoutSeconds) s, \(endpoint.maxAttempts) attempts")
            }
        }

        /// Where the secret comes from and whether it can be read here, masked; never a failure,
        /// since only commands that sign need it.
        static func secret(_ source: WebhookSecretSource?) -> String {
            guard let source else { return "none" }
            do {
                let secrets = try source.read(environment: ProcessInfo.processInfo.environment)
                return "\(source): " + secrets.map(\.description).joined(separator: " ")
            } catch .unavailable(let message) {
                return message
            } catch {
                return "\(source): \(error)"
            }
        }
    }
}
