import ArgumentParser
import Foundation
import Logging
import ProjectorCore
import Runner

/// Where the journal, the jobs and the database are: flags first, then `PROJECTOR_*` variables,
/// then the configuration file, then defaults.
struct StoreOptions: ParsableArguments {
    @Option(
        name: .long, help: "Configuration file (JSON; env PROJECTOR_CONFIG; default ./projector.json when present).")
    var config: String?

    @Option(name: .long, help: "The jobs' SQLite database (env PROJECTOR_DATABASE; default projector.db).")
    var database: String?

    @Option(
        name: .long,
        help: "The journal: a .jsonl file or a directory of segments (env PROJECTOR_JOURNAL; default journal).")
    var journal: String?

    @Option(name: .customLong("jobs-dir"), help: "The directory of job files (env PROJECTOR_JOBS_DIR; default jobs).")
    var jobsDirectory: String?

    @Option(
        name: .long,
        help: """
            Attach another database to the jobs' connection as NAME=PATH (read-only; NAME=PATH:rw to write). \
            Repeatable (env PROJECTOR_ATTACH, comma-separated).
            """
    )
    var attach: [String] = []

    @Option(
        name: .customLong("postgres-schema"),
        help: """
            On PostgreSQL, the schema of projector's own tables (env PROJECTOR_POSTGRES_SCHEMA; default projector).
            """)
    var postgresSchema: String?

    @Option(
        name: .customLong("busy-timeout"),
        help: "Milliseconds to wait for a locked database before giving up (exit 75).")
    var busyTimeout: Int32 = 5000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .customLong("log-format"), help: "text, json, or auto (text on a terminal, json otherwise).")
    var logFormat: String = "auto"

    func validate() throws {
        guard ["text", "json", "auto"].contains(logFormat) else {
            throw ValidationError("--log-format must be text, json or auto")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
        }
        if let postgresSchema, let problem = RunOptions.postgresSchemaProblem(postgresSchema) {
            throw ValidationError("--postgres-schema \(problem)")
        }
    }

    /// The logger for this command, as the flags ask.
    func makeLogger() -> Logger { LogSetup.logger(level: logLevel, format: logFormat) }

    /// Which endpoints' secrets a command reads: only commands that sign a request need any.
    enum Signing {
        case none
        case all
        case endpoint(String)

        var names: Set<String>? {
            switch self {
            case .none: return []
            case .all: return nil
            case .endpoint(let name): return [name]
            }
        }
    }

    /// The effective options; configuration problems exit with 78, bad flags with 64. Secrets are
    /// read only for the endpoints `signing` names.
    func runOptions(signing: Signing = .none) throws -> RunOptions {
        var options = try resolve(signing: signing)
        options.exitCode = { ExitStatus.code(for: $0) }
        return options
    }

    /// The configuration file the flags, `PROJECTOR_CONFIG` or `./projector.json` name, checked;
    /// an empty configuration when there is none.
    func configurationFile() throws(RunError) -> (configuration: ProjectorConfiguration, path: String?) {
        let path =
            config ?? ProcessInfo.processInfo.environment["PROJECTOR_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: "projector.json") ? "projector.json" : nil)
        guard let path else { return (ProjectorConfiguration(), nil) }
        return (try ProjectorConfiguration.load(path: path), path)
    }

    private func resolve(signing: Signing) throws -> RunOptions {
        let environment = ProcessInfo.processInfo.environment
        let (file, filePath) = try configurationFile()
        var options = RunOptions(
            databasePath: database ?? environment["PROJECTOR_DATABASE"] ?? file.resolveDatabase(file.database)
                ?? "projector.db",
            journalPath: journal ?? environment["PROJECTOR_JOURNAL"] ?? file.resolveJournal(file.journal) ?? "journal",
            jobsDirectory: jobsDirectory ?? environment["PROJECTOR_JOBS_DIR"] ?? file.resolve(file.jobsDir) ?? "jobs"
        )
        var attachments = attach
        if attachments.isEmpty, let fromEnvironment = environment["PROJECTOR_ATTACH"] {
            attachments = fromEnvironment.split(separator: ",").map(String.init)
        }
        for argument in attachments {
            guard let attachment = Attachment(argument: argument) else {
                throw ValidationError("--attach expects NAME=PATH (NAME of letters, digits and _), got '\(argument)'")
            }
            options.attachments.append(attachment)
        }
        if attachments.isEmpty {
            for (name, path) in (file.attach ?? [:]).sorted(by: { $0.key < $1.key }) {
                // Checked when the file was loaded.
                if let attachment = Attachment(argument: "\(name)=\(file.resolve(path) ?? path)") {
                    options.attachments.append(attachment)
                }
            }
        }
        options.busyTimeoutMilliseconds = busyTimeout
        options.configurationPath = filePath
        options.endpoints = try file.endpoints(environment: environment, signing: signing.names)
        if let budget = file.webhookBudgetSeconds { options.webhookBudget = budget }
        options.duplicateWindow = file.duplicateWindow
        if let days = file.retentionDays { options.retentionDays = days }
        if let depth = file.postgresPipelineDepth { options.postgresPipelineDepth = depth }
        if let schema = postgresSchema ?? environment["PROJECTOR_POSTGRES_SCHEMA"] ?? file.postgresSchema {
            if let problem = RunOptions.postgresSchemaProblem(schema) {
                throw RunError.configuration("PROJECTOR_POSTGRES_SCHEMA: \(problem)")
            }
            options.postgresSchema = schema
        }
        return options
    }
}
