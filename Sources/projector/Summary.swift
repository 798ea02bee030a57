import Runner

/// The one-screen summary of a run (SPEC §4 step 7).
enum Summary {
    static func text(_ report: RunReport) -> String {
        var lines: [String] = []
        let rate = report.duration > 0 ? Int(Double(report.events) / report.duration) : 0
        let title = report.dryRun ? "dry run (nothing written)" : "run \(report.runID)"
        lines.append(
            "\(title): \(Output.count(report.events)) events in \(Output.seconds(report.duration))"
                + (report.events > 0 ? " (\(Output.count(rate)) events/s)" : "")
                + ", \(report.rejects) rejected, \(report.failures) failed attempts"
                + (report.recovered > 0 ? ", \(report.recovered) recovered" : "")
        )
        // Keys held back behind a failed upstream key (`after:`) get a column when there are any.
        let waiting = report.jobs.contains { $0.waiting > 0 }
        var rows = [
            ["job", "mode", "events", report.dryRun ? "would run" : "ran", "failed", "held"]
                + (waiting ? ["waiting"] : []) + ["dup", "position"]
        ]
        for job in report.jobs {
            // A real run refreshes a key once per batch that touched it; a dry run counts distinct keys.
            let ran =
                job.mode == "apply"
                ? "\(Output.count(job.executions)) events"
                : report.dryRun || job.initialized
                    ? "\(Output.count(job.executions)) keys" : "\(Output.count(job.executions)) refreshes"
            rows.append(
                [
                    job.name + (job.initialized ? " (new: all keys)" : ""), job.mode, Output.count(job.events), ran,
                    String(job.failures), String(job.held),
                ] + (waiting ? [String(job.waiting)] : []) + [String(job.duplicates), String(job.toPosition)])
        }
        lines.append(Output.table(rows).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        let d = report.deliveries
        if report.notificationsQueued > 0 || d.attempted > 0 || d.cutShort > 0 {
            lines.append(
                "webhooks: \(report.notificationsQueued) notification(s) queued; \(d.attempted) attempted, "
                    + "\(d.delivered) delivered, \(d.retrying) to retry, \(d.dead) dead"
                    + (d.disabled > 0 ? ", endpoint disabled (410)" : "")
                    + (d.cutShort > 0 ? ", \(d.cutShort) cut short by the budget" : ""))
        }
        lines.append(
            "peak memory \(report.peakMemoryBytes >> 20) MiB, \(report.batches) batches"
                + (report.conflictRetries > 0
                    ? ", \(report.conflictRetries) done again after a deadlock or serialization failure" : ""))
        if report.caughtUp {
            lines.append((report.dryRun ? "would catch up" : "caught up") + " at position \(report.toPosition)")
        } else {
            lines.append(
                (report.dryRun ? "would stop" : "stopped") + " at position \(report.toPosition); "
                    + "\(Output.count(report.journalEnd - report.toPosition)) bytes remain for the next run"
            )
        }
        if report.failingSegments > 0 {
            lines.append(
                "\(report.failingSegments) segment(s) stopped at a failing key, their keys behind until it succeeds")
        }
        if report.rejects > 0 || report.failures > 0 || report.failingSegments > 0 {
            lines.append("see `projector status` for rejects and failures")
        }
        return lines.joined(separator: "\n")
    }
}
