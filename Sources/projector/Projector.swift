import ArgumentParser
import Journal
import Runner

/// The commands are synchronous (SQLite, the journal, libcurl on its own thread). Only
/// `run --watch` is async, a service under swift-service-lifecycle, which `RunCommand` waits for
/// (`Blocking`). An async `main` would park the main thread in `dispatch_main()`, under which
/// valgrind, the tool that counts a run's instructions repeatably, cannot start a thread.
@main
struct Projector: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projector",
        abstract: "Batch projection job runner for CQRS read models.",
        discussion: """
            Reads the domain events an API appended to a journal, runs the SQL projection jobs of jobs/ in \
            SQLite transactions with their checkpoints, and reports what it did.

            Exit codes: 0 caught up and nothing failed; 64 bad command line (an unknown job name \
            included); 65 events rejected, keys failed, or the journal no longer matches a checkpoint or \
            holds a parked key's events; 66 a journal or database path does not exist; 75 another run \
            holds the lock, the database is busy, or a rebuild was interrupted (run it again); 78 \
            configuration or job-definition error; 1 anything unexpected.
            """,
        subcommands: [
            RunCommand.self, StatusCommand.self, RebuildCommand.self, ReplayCommand.self, FailuresCommand.self,
            VerifyCommand.self, WebhooksCommand.self, JournalCommand.self, EventsCommand.self, ValidateCommand.self,
            ConfigCommand.self, DemoCommand.self,
        ]
    )

    /// Runs the command and maps what went wrong to its exit code, once for every command (SPEC
    /// §6): a `RunError` by what happened; the command line's own errors as argument-parser does.
    static func main() {
        RunnerProcess.configure()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as RunError {
            exit(withError: ExitStatus.fail(error))
        } catch let error as JournalError {
            exit(withError: ExitStatus.fail(.journal(error)))
        } catch {
            exit(withError: error)
        }
    }
}
