import ArgumentParser
import Foundation
import Runner

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each job's position, lag, failures and rejects, and the last run."
    )

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        _ = store.makeLogger()
        let options = try store.runOptions()
        try store.requireExistingDatabase(options)
        let status: StatusReport
        do {
            status = try StatusReport.load(options: options)
        } catch {
            throw ExitStatus.fail(error)
        }
        if json {
            print(try Output.json(status))
            return
        }
        print(
            "journal \(status.journal.path): end \(status.journal.end), \(status.journal.segments) file(s)"
                + (status.journal.start > 0 ? ", starts at \(status.journal.start)" : "")
        )
        var rows = [
            [
                "job", "mode", "position", "lag events", "lag bytes", "definition", "retrying", "parked", "dead",
                "rejects",
            ]
        ]
        for job in status.jobs {
            rows.append([
                job.name, job.mode, job.position.map(String.init) ?? "never run", Output.count(job.lagEvents),
                Output.count(job.lagBytes), job.fingerprintChanged ? "CHANGED: rebuild" : "unchanged",
                String(job.failures.retrying),
                String(job.failures.parked) + (job.failures.held > 0 ? " (\(job.failures.held) held)" : ""),
                String(job.failures.dead), String(job.rejects),
            ])
        }
        print(Output.table(rows))
        print("rejected lines: \(status.rejects)")
        if !status.webhooks.isEmpty {
            let states = ["pending", "delivered", "dead", "disabled"].map { "\($0) \(status.webhooks[$0] ?? 0)" }
            print(
                "webhooks: " + states.joined(separator: ", ")
                    + (status.disabledEndpoints.isEmpty
                        ? "" : "; disabled endpoints: " + status.disabledEndpoints.joined(separator: ", ")))
        }
        if let run = status.lastRun {
            let duration = run.duration.map(Output.seconds) ?? "-"
            print(
                "last run \(run.id): started \(Output.time(run.startedAt)), took \(duration), \(Output.count(run.events)) events, "
                    + "\(run.rejects) rejected, \(run.failures) failed attempts, \(run.outcome)"
                    + (run.exitCode.map { " (exit \($0))" } ?? "")
            )
        } else {
            print("no run yet")
        }
    }
}
