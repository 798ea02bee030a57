import Foundation
import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// The Prometheus textfile for node_exporter's textfile collector (`--metrics-file`): counters
/// kept in the database so they survive runs, gauges read fresh, written atomically by rename.
public enum Metrics {
    /// Adds a finished run to the persistent counters (call after the run's work committed).
    public static func record(
        _ report: RunReport, exitCode: Int32, databasePath: String, postgresSchema: String, now: Double
    ) throws(RunError) {
        let d = report.deliveries
        var setting = [
            MetricSample("projector_last_run_duration_seconds", report.duration),
            MetricSample("projector_last_run_exit_code", Double(exitCode)),
            MetricSample("projector_last_run_timestamp_seconds", now),
        ]
        if report.outcome.isClean { setting.append(MetricSample("projector_last_success_timestamp_seconds", now)) }
        let store = try Stores.open(path: databasePath, schema: postgresSchema)
        do throws(StoreError) {
            try store.updateMetrics(
                adding: [
                    MetricSample("projector_events_processed_total", Double(report.events)),
                    MetricSample("projector_rejects_total", Double(report.rejects)),
                    MetricSample("projector_failed_attempts_total", Double(report.failures)),
                    MetricSample(
                        "projector_runs_total", labels: #"outcome="\#(report.outcome.isClean ? "ok" : "failures")""#, 1),
                    MetricSample(
                        "projector_webhook_deliveries_total", labels: #"result="delivered""#, Double(d.delivered)),
                    MetricSample("projector_webhook_deliveries_total", labels: #"result="retry""#, Double(d.retrying)),
                    MetricSample("projector_webhook_deliveries_total", labels: #"result="dead""#, Double(d.dead)),
                    MetricSample(
                        "projector_webhook_deliveries_total", labels: #"result="disabled""#, Double(d.disabled)),
                ],
                setting: setting)
        } catch {
            throw .from(error)
        }
    }

    /// Renders the textfile: the stored counters plus gauges from the status.
    public static func render(
        databasePath: String, postgresSchema: String, status: StatusReport
    ) throws(RunError) -> String {
        let store = try Stores.open(path: databasePath, schema: postgresSchema, readOnly: true)
        let stored: [MetricSample]
        do throws(StoreError) {
            stored = try store.storedMetrics()
        } catch {
            throw .from(error)
        }
        var out = ""
        var described: Set<String> = []
        func line(_ name: String, _ labels: String, _ value: Double, type: String, help: String) {
            if described.insert(name).inserted {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            }
            let formatted = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            out += name + (labels.isEmpty ? "" : "{\(labels)}") + " " + formatted + "\n"
        }
        let help: [String: String] = [
            "projector_events_processed_total": "Events read and processed by runs.",
            "projector_rejects_total": "Journal lines rejected by runs.",
            "projector_failed_attempts_total": "Failed attempts of keys.",
            "projector_runs_total": "Runs by outcome.",
            "projector_webhook_deliveries_total": "Webhook delivery attempts by result.",
            "projector_last_run_duration_seconds": "Duration of the last run.",
            "projector_last_run_exit_code": "Exit code of the last run.",
            "projector_last_run_timestamp_seconds": "When the last run ended.",
            "projector_last_success_timestamp_seconds": "When the last run that exited 0 ended.",
        ]
        for sample in stored {
            line(
                sample.name, sample.labels, sample.value, type: sample.name.hasSuffix("_total") ? "counter" : "gauge",
                help: help[sample.name] ?? sample.name)
        }
        for job in status.jobs {
            line(
                "projector_journal_lag_events", #"job="\#(job.name)""#, Double(job.lagEvents), type: "gauge",
                help: "Events in the journal past the job's checkpoint.")
        }
        for job in status.jobs {
            line(
                "projector_journal_lag_bytes", #"job="\#(job.name)""#, Double(job.lagBytes), type: "gauge",
                help: "Journal bytes past the job's checkpoint.")
        }
        let failures = status.jobs.reduce(into: [0, 0, 0]) {
            $0[0] += $1.failures.retrying
            $0[1] += $1.failures.parked
            $0[2] += $1.failures.dead
        }
        for (index, state) in ["retrying", "parked", "dead"].enumerated() {
            line(
                "projector_failures", #"state="\#(state)""#, Double(failures[index]), type: "gauge",
                help: "Open failures of keys by state.")
        }
        line("projector_rejects", "", Double(status.rejects), type: "gauge", help: "Rejects recorded in the database.")
        line(
            "projector_webhook_outbox_pending", "", Double(status.webhooks["pending"] ?? 0), type: "gauge",
            help: "Notifications waiting for delivery.")
        line(
            "projector_webhook_outbox_dead", "", Double(status.webhooks["dead"] ?? 0), type: "gauge",
            help: "Notifications given up on.")
        return out
    }

    /// Writes `text` to `path` atomically: a temporary file in the same directory (never
    /// following a symlink), fsync, then rename.
    public static func write(_ text: String, to path: String) throws(RunError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary =
            (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .fileOperation(what: "write the metrics file", path: temporary, errno: errno)
        }
        // Readable by the node exporter whatever the unit's UMask: metrics hold no secret.
        fchmod(fd, 0o644)
        let bytes = Array(text.utf8)
        let written = Glibc.write(fd, bytes, bytes.count)
        let writeError = written == bytes.count ? 0 : (written < 0 ? errno : ENOSPC)
        fsync(fd)
        close(fd)
        guard writeError == 0, rename(temporary, path) == 0 else {
            let code = writeError != 0 ? writeError : errno
            unlink(temporary)
            throw .fileOperation(what: "write the metrics file", path: path, errno: code)
        }
    }
}
