import ArgumentParser
import Foundation
import Runner

/// Where the journal, the jobs and the database are: flags first, then `PROJECTOR_*` variables, then defaults.
struct StoreOptions: ParsableArguments {
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
        help:
            "Attach another database to the jobs' connection as NAME=PATH (read-only; NAME=PATH:rw to write). Repeatable (env PROJECTOR_ATTACH, comma-separated)."
    )
    var attach: [String] = []

    @Option(
        name: .customLong("busy-timeout"),
        help: "Milliseconds to wait for a locked database before giving up (exit 75).")
    var busyTimeout: Int32 = 5000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func runOptions() throws -> RunOptions {
        let environment = ProcessInfo.processInfo.environment
        var options = RunOptions(
            databasePath: database ?? environment["PROJECTOR_DATABASE"] ?? "projector.db",
            journalPath: journal ?? environment["PROJECTOR_JOURNAL"] ?? "journal",
            jobsDirectory: jobsDirectory ?? environment["PROJECTOR_JOBS_DIR"] ?? "jobs"
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
        options.busyTimeoutMilliseconds = busyTimeout
        return options
    }
}
