import ArgumentParser
import Foundation
import ProjectorCore
import Runner

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every job file and prepare its statements against the database (exit 78 on error).",
        discussion:
            "Errors are printed as file:line: message. Nothing is written: @setup runs in a transaction that is rolled back."
    )

    @OptionGroup var store: StoreOptions

    func run() throws {
        let logger = store.makeLogger()
        let options = try store.runOptions()
        try checkSecrets()
        let jobs: [String]
        let run = ProjectionRun(options: options, logger: logger)
        jobs = try run.validate().map { "\($0.name) (\($0.mode.rawValue))" }
        for finding in run.setupDrift {
            FileHandle.standardError.write(Data((finding.description + "\n").utf8))
        }
        print("ok: \(jobs.count) job(s), in run order: " + jobs.joined(separator: ", "))
    }

    /// A secret that cannot be read here is a warning (systemd's credentials, for one, exist only
    /// inside the unit); a secret that is there but invalid is an error.
    func checkSecrets() throws {
        let sources: [String: WebhookSecretSource] = try store.configurationFile().configuration.secretSources
        var invalid: [String] = []
        for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try source.read(environment: ProcessInfo.processInfo.environment)
            } catch .unavailable(let message) {
                FileHandle.standardError.write(
                    Data(
                        ("projector: warning: webhook endpoint '\(name)': \(message); run, rebuild and "
                            + "webhooks retry --deliver / test exit 78 without it\n").utf8))
            } catch {
                invalid.append("webhook endpoint '\(name)': \(source): \(error)")
            }
        }
        if !invalid.isEmpty { throw RunError.configuration(invalid.joined(separator: "\n")) }
    }
}
