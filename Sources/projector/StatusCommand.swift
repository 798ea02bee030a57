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
        if options.eventsTableName != nil { return try segmented(options) }
        let status: StatusReport = try StatusReport.load(options: options)
        if json {
            print(try Output.json(status))
            try failOnProblems(status)
            return
        }
        print(
            "journal \(status.journal.path): end \(status.journal.end), \(status.journal.segments) file(s)"
                + (status.journal.start > 0 ? ", starts at \(status.journal.start)" : "")
        )
        if status.journal.problem != nil {
            // Which positions each file holds, and where bytes are missing or overlap.
            var files = [["file", "positions"]]
            for (index, file) in status.journal.files.enumerated() {
                if index > 0, status.journal.files[index - 1].end != file.start {
                    let previous = status.journal.files[index - 1].end
                    files.append(
                        previous < file.start
                            ? ["MISSING", "\(previous)..<\(file.start)"] : ["OVERLAP", "\(file.start)..<\(previous)"])
                }
                files.append([(file.path as NSString).lastPathComponent, "\(file.start)..<\(file.end)"])
            }
            print(Output.table(files).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        var rows = [
            [
                "job", "mode", "position", "lag events", "lag bytes", "definition", "retrying", "parked", "dead",
                "rejects",
            ]
        ]
        for job in status.jobs {
            let lagKnown = job.problem == nil && status.journal.problem == nil
            rows.append([
                job.name, job.mode, job.position.map(String.init) ?? "never run",
                lagKnown ? Output.count(job.lagEvents) : "?", lagKnown ? Output.count(job.lagBytes) : "?",
                job.fingerprintChanged ? "CHANGED: rebuild" : "unchanged",
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
        if let window = status.duplicateIDs {
            print(
                "duplicate ids: \(Output.count(window.remembered)) remembered, "
                    + (window.fromPosition == 0
                        ? "every one recorded"
                        : "from position \(window.fromPosition)"
                            + (window.since.map { " (occurredAt after \(Output.time($0)))" } ?? ""))
                    + "; window: last \(Output.count(window.windowEvents)) events / "
                    + Self.span(window.windowSeconds) + " of occurredAt"
            )
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
        for problem in status.problems { print("PROBLEM: " + problem) }
        try failOnProblems(status)
    }

    /// Runners sharing an events table: each job's segments, the runners, the reading horizon.
    func segmented(_ options: RunOptions) throws {
        let status = try SegmentedStatus.load(options: options)
        if json {
            print(try Output.json(status))
        } else {
            print("events table \(status.table), \(status.runners.filter(\.alive).count) runner(s) alive")
            var rows = [["job", "segments", "lag events", "applied", "last commit", "failing segments"]]
            for job in status.jobs {
                rows.append([
                    job.name, String(job.segments), Output.count(job.lagEvents), Output.count(job.eventsApplied),
                    job.lastCommitSeconds.map { Output.seconds($0) + " ago" } ?? "never", String(job.failingSegments),
                ])
            }
            print(Output.table(rows))
            for job in status.jobs {
                for segment in job.segmentDetails where segment.error != nil {
                    print(
                        "  \(job.name) segment \(segment.segment) at \(segment.position), attempt \(segment.attempts): "
                            + (segment.error ?? ""))
                }
            }
            var runners = [["runner", "host", "backend", "heartbeat", "alive", "segments (last commit)"]]
            for runner in status.runners {
                runners.append([
                    runner.name, runner.host, String(runner.backendPID),
                    Output.seconds(runner.heartbeatSeconds) + " ago",
                    runner.alive ? "yes" : "no", String(runner.segments),
                ])
            }
            print(Output.table(runners))
            print("rejected rows: \(status.rejects)")
            if let holder = status.horizonHeldBy {
                print(
                    "reading horizon held by backend \(holder.pid) (\(holder.applicationName.isEmpty ? "no name" : holder.applicationName), "
                        + "database \(holder.database), \(holder.state)), in its transaction for \(Output.seconds(holder.seconds))"
                )
            } else {
                print("reading horizon: no writing transaction is open")
            }
            for hold in status.held {
                print(
                    "held: \(hold.job) key \(hold.key) version \(hold.version) waits for version \(hold.waitingFor) "
                        + "(\(Output.seconds(hold.seconds)))")
            }
            for problem in status.problems { print("PROBLEM: " + problem) }
        }
    }

    /// A window's length in whole hours when it is some, else in seconds.
    static func span(_ seconds: Double) -> String {
        seconds >= 3600 && seconds.truncatingRemainder(dividingBy: 3600) == 0
            ? "\(Int(seconds / 3600)) h" : "\(seconds.formatted()) s"
    }

    /// A run would stop with 65 on these problems, so status does too, naming each on standard error.
    func failOnProblems(_ status: StatusReport) throws {
        guard !status.problems.isEmpty else { return }
        for problem in status.problems {
            FileHandle.standardError.write(Data(("projector: " + problem + "\n").utf8))
        }
        throw ExitCode(ExitStatus.dataError)
    }
}
