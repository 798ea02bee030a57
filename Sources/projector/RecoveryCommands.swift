import ArgumentParser
import Foundation
import ProjectorCore
import Runner

struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild read models without downtime.",
        discussion: """
            Builds each job's tables from scratch in a database of its own (<database>.rebuild-JOB.db; \
            on PostgreSQL, the schema projector_rebuild_JOB; an interrupted rebuild resumes there), then swaps them in with one transaction: readers see \
            the old read model until the commit and the whole new one after it. The job then continues \
            from where the build stopped. A notification of type projection.rebuilt is queued. \
            Every table a job's @setup creates is replaced, so jobs must not share tables.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions
    @Argument(help: "The jobs to rebuild.") var jobs: [String]
    @Flag(help: "Print the reports as JSON.") var json = false

    func run() throws {
        var options = try store.runOptions(signing: .all)
        lock.apply(to: &options)
        let logger = store.makeLogger()
        Signals.install()
        options.shouldStop = { Signals.requested }
        let progress = json ? nil : TerminalProgress.ifTerminal(logFormat: store.logFormat)
        if let progress { options.progress = { progress.update($0) } }
        defer { progress?.finish() }
        let reports: [Rebuild.Report] = try Rebuild(options: options, logger: logger).execute(jobs: jobs)
        if json {
            print(try Output.json(reports))
            return
        }
        for report in reports {
            print(
                "rebuilt \(report.job) in \(Output.seconds(report.seconds)): \(Output.count(report.events)) events, "
                    + "\(Output.count(report.keys)) keys/executions, tables \(report.tables.joined(separator: ", ")); "
                    + "continues from position \(report.position)")
        }
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run one aggregate (key) of a job.",
        discussion: """
            A refresh job refreshes the key. An apply job re-applies the key's events from --from (default: \
            the start of the journal) up to its checkpoint, in journal order, in one transaction; only for \
            jobs that declare '-- apply: idempotent' (upserts of values): counters would count twice, so \
            they are repaired with `rebuild`. The job's webhook endpoints are notified of the key. A key that \
            fails changes nothing and exits 65.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions
    @Argument(help: "The job.") var job: String
    @Option(help: "The key (aggregate id or the job's data key).") var aggregate: String
    @Option(help: "Journal position to start from (apply jobs).") var from: Int?

    func run() throws {
        var options = try store.runOptions()
        try store.requireExistingDatabase(options)
        lock.apply(to: &options)
        options.selectedJobs = [job]
        let logger = store.makeLogger()
        let count = try ProjectionRun(options: options, logger: logger).replay(keys: [aggregate], from: from)
        print("replayed \(job) key \(aggregate): \(count) execution(s)")
    }
}

struct FailuresCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failures",
        abstract: "List, retry or discard failed keys.",
        subcommands: [List.self, Retry.self, Discard.self]
    )

    /// On an events table a failing key stops its segment, which `status` shows and the runners
    /// try again after the backoff: the failures of a journal file's keys are not there.
    static func refuseEventsTable(_ options: RunOptions) throws(RunError) {
        guard let table = options.eventsTableName else { return }
        throw .usage(
            "failures lists, retries and discards the keys of a journal file; on the events table \(table) a failing "
                + "key stops its segment: `projector status` shows it with its error and attempts, and the runners "
                + "try it again after the backoff (fix the cause and it catches up)")
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open failures (retrying, parked, dead).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Only this job.") var job: String?
        @Option(help: "Only this state: retrying, parked or dead.") var state: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let options = try store.runOptions()
            try FailuresCommand.refuseEventsTable(options)
            try store.requireExistingDatabase(options)
            let rows: [FailureAdmin.Listing] = try FailureAdmin(
                databasePath: options.databasePath, postgresSchema: options.postgresSchema
            ).list(
                job: job, state: state)
            if json {
                print(try Output.json(rows))
                return
            }
            var table = [["job", "key", "state", "attempts", "positions", "held", "next attempt", "error"]]
            for row in rows {
                table.append([
                    row.job, row.key, row.state, String(row.attempts), "\(row.firstPosition)…\(row.lastPosition)",
                    String(row.heldEvents), row.state == "dead" ? "-" : Output.time(row.nextAttemptAt),
                    String(row.error.prefix(80)),
                ])
            }
            print(Output.table(table))
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make failures due now with fresh attempts; the next run retries them.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Only this job.") var job: String?
        @Option(help: "Only this key.") var key: String?
        @Flag(help: "Every failure.") var all = false

        func validate() throws {
            if !all && job == nil && key == nil { throw ValidationError("give --job/--key or --all") }
        }

        func run() throws {
            let options = try store.runOptions()
            try FailuresCommand.refuseEventsTable(options)
            try store.requireExistingDatabase(options)
            let count = try FailureAdmin(databasePath: options.databasePath, postgresSchema: options.postgresSchema)
                .retry(
                    job: job, key: key, now: SystemClock().now())
            print("\(count) failure(s) will be retried by the next run")
        }
    }

    struct Discard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget failures; an apply key's held events are dropped and never applied.",
            discussion: """
                Lists every failure it forgets with the positions of the held events dropped with it; \
                --dry-run lists them and changes nothing.
                """)
        @OptionGroup var store: StoreOptions
        @Option(help: "Only this job.") var job: String?
        @Option(help: "Only this key.") var key: String?
        @Flag(name: .customLong("all-dead"), help: "Every dead failure.") var allDead = false
        @Flag(name: .customLong("dry-run"), help: "Only list what would be discarded.") var dryRun = false
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if !allDead && job == nil && key == nil { throw ValidationError("give --job/--key or --all-dead") }
        }

        func run() throws {
            let options = try store.runOptions()
            try FailuresCommand.refuseEventsTable(options)
            try store.requireExistingDatabase(options)
            let discarded: [FailureAdmin.Discarded] = try FailureAdmin(
                databasePath: options.databasePath, postgresSchema: options.postgresSchema
            ).discard(
                job: job, key: key, onlyDead: allDead, dryRun: dryRun)
            if json {
                print(try Output.json(discarded))
                return
            }
            for failure in discarded {
                let dropped = failure.droppedPositions
                let positions =
                    dropped.prefix(20).map(String.init).joined(separator: ", ")
                    + (dropped.count > 20 ? ", … (\(dropped.count - 20) more; --json lists all)" : "")
                print(
                    "\(failure.job) key \(failure.key): \(failure.state) after \(failure.attempts) attempt(s), "
                        + "positions \(failure.firstPosition)…\(failure.lastPosition), "
                        + "error: \(failure.error.prefix(80))")
                if !dropped.isEmpty {
                    print("  \(dropped.count) held event(s) \(dryRun ? "would be " : "")dropped: \(positions)")
                }
            }
            let events = discarded.reduce(0) { $0 + $1.droppedPositions.count }
            print(
                (dryRun ? "would discard" : "discarded") + " \(discarded.count) failure(s) and "
                    + "\(events) held event(s)" + (dryRun ? "; nothing changed (dry run)" : ""))
        }
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute a read model and list rows that drifted from the write model.",
        discussion: """
            Whole: rebuilds the job into a scratch database and compares every table both ways. \
            --sample N: recomputes N random keys of a refresh job one by one. Exits 65 when rows drifted \
            (0 after --repair put the recomputed rows in place). A job with @refresh_batch is first checked \
            to leave the same rows with it as with @refresh on the same keys; exits 78 when they differ \
            (and repairs nothing).
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var lock: LockOptions
    @Argument(help: "The job.") var job: String
    @Option(help: "Check this many random keys instead of the whole read model.") var sample: Int?
    @Flag(help: "Put the recomputed rows in place (whole: swap; sample: refresh the drifted keys).") var repair = false
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        var options = try store.runOptions()
        try store.requireExistingDatabase(options)
        lock.apply(to: &options)
        let logger = store.makeLogger()
        let report: Verify.Report = try Verify(options: options, logger: logger).execute(
            job: job, sample: sample, repair: repair)
        if json {
            print(try Output.json(report))
        } else {
            if let forms = report.refreshForms {
                if forms.agree {
                    print("\(job): @refresh_batch and @refresh agree on \(forms.checkedKeys) key(s)")
                } else {
                    print(
                        "\(job): @refresh_batch and @refresh disagree on \(forms.checkedKeys) key(s) "
                            + "(batches of up to \(forms.batchSize)); the job definition is wrong"
                            + (repair ? ", nothing was repaired" : ""))
                    for table in forms.tables where table.missingCount > 0 || table.unexpectedCount > 0 {
                        print(
                            "  \(table.table): \(table.missingCount) row(s) of @refresh missing or different, "
                                + "\(table.unexpectedCount) only from @refresh_batch")
                        for row in table.missingOrDifferent { print("    @refresh       " + row) }
                        for row in table.unexpected { print("    @refresh_batch " + row) }
                    }
                }
            }
            let scope = report.checkedKeys.map { "\($0) sampled keys" } ?? "the whole read model"
            if !report.drifted {
                print("\(job): no drift in \(scope)")
            } else {
                print("\(job): drift found in \(scope)" + (report.repaired ? " — repaired" : ""))
                if !report.driftedKeys.isEmpty {
                    print("  keys: " + report.driftedKeys.prefix(50).joined(separator: ", "))
                }
                for table in report.tables where table.missingCount > 0 || table.unexpectedCount > 0 {
                    print(
                        "  \(table.table): \(table.missingCount) row(s) missing or different, \(table.unexpectedCount) unexpected"
                    )
                    for row in table.missingOrDifferent { print("    expected " + row) }
                    for row in table.unexpected { print("    found    " + row) }
                }
            }
        }
        if report.refreshForms?.agree == false { throw ExitCode(ExitStatus.config) }
        if report.drifted && !report.repaired { throw ExitCode(ExitStatus.dataError) }
    }
}
