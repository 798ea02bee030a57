import Foundation
import SQLiteStore

#if canImport(Glibc)
    import Glibc
#endif

/// The Prometheus textfile for node_exporter's textfile collector (`--metrics-file`): counters
/// kept in the database so they survive runs, gauges read fresh, written atomically by rename.
public enum Metrics {
    /// Adds a finished run to the persistent counters (call after the run's work committed).
    public static func record(_ report: RunReport, exitCode: Int32, databasePath: String, now: Double) throws(RunError)
    {
        do {
            let db = try Database(path: databasePath)
            try db.execute(
                """
                CREATE TABLE IF NOT EXISTS projector_metrics(name TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '',
                    value REAL NOT NULL, PRIMARY KEY(name, labels)) WITHOUT ROWID;
                """)
            func add(_ name: String, _ labels: String = "", _ value: Double) throws(SQLiteError) {
                try db.run(
                    """
                    INSERT INTO projector_metrics(name, labels, value) VALUES(?1, ?2, ?3)
                    ON CONFLICT(name, labels) DO UPDATE SET value = value + ?3
                    """, [.text(name), .text(labels), .real(value)])
            }
            func set(_ name: String, _ value: Double) throws(SQLiteError) {
                try db.run(
                    """
                    INSERT INTO projector_metrics(name, labels, value) VALUES(?1, '', ?2)
                    ON CONFLICT(name, labels) DO UPDATE SET value = ?2
                    """, [.text(name), .real(value)])
            }
            try db.transaction { () throws(SQLiteError) in
                try add("projector_events_processed_total", "", Double(report.events))
                try add("projector_rejects_total", "", Double(report.rejects))
                try add("projector_failed_attempts_total", "", Double(report.failures))
                try add("projector_runs_total", #"outcome="\#(report.outcome.isClean ? "ok" : "failures")""#, 1)
                let d = report.deliveries
                try add("projector_webhook_deliveries_total", #"result="delivered""#, Double(d.delivered))
                try add("projector_webhook_deliveries_total", #"result="retry""#, Double(d.retrying))
                try add("projector_webhook_deliveries_total", #"result="dead""#, Double(d.dead))
                try add("projector_webhook_deliveries_total", #"result="disabled""#, Double(d.disabled))
                try set("projector_last_run_duration_seconds", report.duration)
                try set("projector_last_run_exit_code", Double(exitCode))
                try set("projector_last_run_timestamp_seconds", now)
                if report.outcome.isClean { try set("projector_last_success_timestamp_seconds", now) }
            }
        } catch {
            throw RunError.from(error)
        }
    }

    /// Renders the textfile: the stored counters plus gauges from the status.
    public static func render(databasePath: String, status: StatusReport) throws(RunError) -> String {
        var stored: [(String, String, Double)] = []
        do {
            var options = Database.Options()
            options.readOnly = true
            let db = try Database(path: databasePath, options: options)
            if try !db.rows("SELECT 1 FROM sqlite_master WHERE name = 'projector_metrics'").isEmpty {
                stored = try db.rows("SELECT name, labels, value FROM projector_metrics ORDER BY name, labels").map {
                    ($0[0].string ?? "", $0[1].string ?? "", $0[2].double ?? 0)
                }
            }
        } catch {
            throw RunError.from(error)
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
            "projector_rejects_total": "Journal lines rejected (recorded in projector_rejects).",
            "projector_failed_attempts_total": "Failed attempts of keys.",
            "projector_runs_total": "Runs by outcome.",
            "projector_webhook_deliveries_total": "Webhook delivery attempts by result.",
            "projector_last_run_duration_seconds": "Duration of the last run.",
            "projector_last_run_exit_code": "Exit code of the last run.",
            "projector_last_run_timestamp_seconds": "When the last run ended.",
            "projector_last_success_timestamp_seconds": "When the last run that exited 0 ended.",
        ]
        for (name, labels, value) in stored {
            line(name, labels, value, type: name.hasSuffix("_total") ? "counter" : "gauge", help: help[name] ?? name)
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
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
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
