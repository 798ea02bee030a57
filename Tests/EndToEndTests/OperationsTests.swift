import Foundation
import Journal
import ProjectorCore
import QaHubDemo
import SQLiteStore
import TestSupport
import Testing
import Webhooks

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct RebuildTests {
    @Test func readersNeverSeeAMissingRowWhileARebuildSwapsIn() throws {
        let w = try QaHubWorkspace()
        let ids = try w.db().rows("SELECT id FROM test_runs_view ORDER BY id LIMIT 50").compactMap { $0[0].int }
        #expect(ids.count == 50)
        let done = Atomic(false)
        let missing = Atomic(0)
        let reads = Atomic(0)
        let path = w.dir.file("read.db")
        let reader = Thread {
            guard let db = try? Database(path: path) else { return }
            while !done.value {
                let found =
                    (try? db.rows(
                        "SELECT count(*) FROM test_runs_view WHERE id IN (\(ids.map(String.init).joined(separator: ",")))"
                    ))?.first?.first?.int ?? -1
                if found != ids.count { missing.update { $0 + 1 } }
                reads.update { $0 + 1 }
            }
        }
        reader.start()
        for _ in 0..<3 {
            let outcome = try w.projector(["rebuild", "test_runs_view"])
            #expect(outcome.status == 0, "\(outcome.stderr)")
        }
        done.value = true
        usleep(100_000)
        #expect(reads.value > 10)
        #expect(missing.value == 0)
        #expect(w.receiver.received.contains { ($0.json?["type"] as? String) == "projection.rebuilt" })
    }

    @Test func aRebuildKilledMidwayResumesToTheSameResultAsACleanOne() throws {
        let w = try QaHubWorkspace(events: 40_000)
        // Given a rebuild of the apply job killed after it started building,
        let child = try w.start(["rebuild", "project_daily_quality"])
        let scratch = w.dir.file("read.db.rebuild-project_daily_quality.db")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: scratch) && child.isRunning && Date() < deadline {
            usleep(5_000)
        }
        child.kill9()
        let killed = child.wait()
        #expect(killed.signaled, "the rebuild ended before it was killed: \(killed.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch))
        // when it runs again, it resumes,
        #expect(try w.projector(["rebuild", "project_daily_quality"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: scratch))
        // and the result equals a clean rebuild's (a fresh database replaying everything).
        #expect(try w.projector(["run", "--database", w.dir.file("fresh.db")]).status == 0)
        let differences = try ReadModelComparison.compare(
            w.dir.file("read.db"), w.dir.file("fresh.db"), tables: ["project_daily_quality"])
        #expect(differences.allSatisfy { $0.isEqual }, "\(differences)")
    }

    @Test func verifyFindsAHandEditAndRepairFixesIt() throws {
        let w = try QaHubWorkspace()
        // The shipped refresh jobs' @refresh_batch leaves what their @refresh leaves on every key.
        for job in ["test_runs_view", "bug_budget_view"] {
            let clean = try w.projector(["verify", job])
            #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
            #expect(clean.stdout.contains("\(job): @refresh_batch and @refresh agree on "), "\(clean.stdout)")
        }
        let ids = try w.db().rows("SELECT id FROM test_runs_view ORDER BY id LIMIT 2").compactMap { $0[0].int }
        try w.db().execute(
            "UPDATE test_runs_view SET failed = failed + 7 WHERE id = \(ids[0]); DELETE FROM test_runs_view WHERE id = \(ids[1])"
        )
        let found = try w.projector(["verify", "test_runs_view", "--json"])
        #expect(found.status == 65)
        let report = try JSONSerialization.jsonObject(with: Data(found.stdout.utf8)) as? [String: Any]
        let tables = report?["tables"] as? [[String: Any]]
        #expect(tables?.first?["missingCount"] as? Int == 2)
        #expect(tables?.first?["unexpectedCount"] as? Int == 1)
        let sampled = try w.projector(["verify", "test_runs_view", "--sample", "100000", "--json"])
        #expect(sampled.status == 65)
        let keys = (try JSONSerialization.jsonObject(with: Data(sampled.stdout.utf8)) as? [String: Any])?["driftedKeys"]
        #expect((keys as? [String])?.sorted() == ids.map(String.init).sorted())
        #expect(try w.projector(["verify", "test_runs_view", "--sample", "100000", "--repair"]).status == 0)
        #expect(try w.projector(["verify", "test_runs_view"]).status == 0)
    }

    @Test func replayAndFailureCommands() throws {
        let w = try QaHubWorkspace(events: 2000)
        let id = try #require(try w.db().rows("SELECT id FROM test_runs_view ORDER BY id LIMIT 1").first?.first?.int)
        try w.db().execute("DELETE FROM test_runs_view WHERE id = \(id)")
        let replay = try w.projector(["replay", "test_runs_view", "--aggregate", String(id)])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try w.db().rows("SELECT count(*) FROM test_runs_view WHERE id = \(id)")[0][0].int == 1)
        // Replaying a counting apply job would double its counts: refused (64), nothing changed.
        let counts = "SELECT sum(runs_started) FROM project_daily_quality"
        let before = try w.db().rows(counts)[0][0].int
        let project = try #require(
            try w.db().rows("SELECT CAST(project_id AS TEXT) FROM project_daily_quality LIMIT 1")[0][0].string)
        let refused = try w.projector(["replay", "project_daily_quality", "--aggregate", project])
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("projector rebuild project_daily_quality"))
        #expect(try w.db().rows(counts)[0][0].int == before)
        // A replay whose SQL fails (a trigger, a CHECK) changes nothing and exits 65 naming the key.
        try w.db().execute(
            "CREATE TRIGGER no_insert BEFORE INSERT ON test_runs_view BEGIN SELECT raise(ABORT, 'refused'); END")
        let failing = try w.projector(["replay", "test_runs_view", "--aggregate", String(id)])
        #expect(failing.status == 65, "\(failing.stderr)")
        #expect(failing.stderr.contains("test_runs_view key \(id) failed, nothing was changed"))
        #expect(try w.db().rows("SELECT count(*) FROM test_runs_view WHERE id = \(id)")[0][0].int == 1)
        try w.db().execute("DROP TRIGGER no_insert")
        try w.db().execute(
            """
            INSERT INTO projector_failures VALUES('test_runs_view', '9', 'dead', 'refresh', 5, 0, 10, 'boom', 0, 0, 0);
            INSERT INTO projector_failures VALUES('project_daily_quality', '1', 'dead', 'apply', 5, 0, 10, 'boom', 0, 0, 0);
            INSERT INTO projector_held_events VALUES('project_daily_quality', '1', 0, 10);
            """)
        let list = try w.projector(["failures", "list", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any])?.count == 2)
        #expect(try w.projector(["failures", "retry", "--job", "test_runs_view"]).status == 0)
        #expect(
            try w.db().rows("SELECT state, attempts FROM projector_failures WHERE key = '9'")[0].map(\.string) == [
                "retrying", "0",
            ])
        #expect(try w.projector(["failures", "discard", "--all-dead"]).status == 0)
        #expect(try w.db().rows("SELECT count(*) FROM projector_held_events")[0][0].int == 0)
        let run = try w.projector(["run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try w.db().rows("SELECT count(*) FROM projector_failures")[0][0].int == 0)
    }
}

@Suite struct ObservabilityTests {
    @Test func metricsFileAndJSONLogsAndNoSecretAnywhere() throws {
        let w = try QaHubWorkspace(events: 3000)
        let metrics = w.dir.file("metrics/projector.prom")
        try FileManager.default.createDirectory(atPath: w.dir.file("metrics"), withIntermediateDirectories: true)
        try w.dir.append("journal/00000000000000000000.jsonl", "")
        var outputs: [String] = []
        let run = try w.projector(["run", "--metrics-file", metrics, "--log-level", "debug"])
        #expect(run.status == 0)
        outputs += [run.stdout, run.stderr]
        for line in run.stderr.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["msg"] != nil && object?["level"] != nil, "not a JSON log line: \(line)")
            if object?["msg"] as? String == "batch committed" { #expect(object?["run_id"] != nil) }
        }
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        outputs.append(text)
        #expect(text.contains("projector_last_run_exit_code 0"))
        #expect(text.contains("projector_events_processed_total"))
        #expect(text.contains(#"projector_journal_lag_events{job="test_runs_view"} 0"#))
        #expect(text.contains(#"projector_failures{state="dead"} 0"#))
        #expect(text.contains("projector_webhook_outbox_pending 0"))
        #expect(text.contains("projector_last_success_timestamp_seconds"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: w.dir.file("metrics"))
        #expect(leftovers == ["projector.prom"], "temporary files left: \(leftovers)")
        for arguments in [
            ["status", "--json"], ["config", "show", "--json"], ["webhooks", "list", "--json"], ["validate"],
        ] {
            let outcome = try w.projector(arguments)
            #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
            outputs += [outcome.stdout, outcome.stderr]
        }
        let bareSecret = String(w.secret.dropFirst(6))
        for output in outputs {
            #expect(!output.contains(bareSecret))
            #expect(!output.contains(String(bareSecret.prefix(16))))
        }
    }

    /// The watcher started before the append and is still the same process when the event lands
    /// (how fast it does is the benchmark's business).
    @Test func watchPicksUpAnAppendAndStopsOnSIGTERM() throws {
        let w = try QaHubWorkspace(events: 500)
        let watcher = try w.start(["run", "--watch"])
        usleep(500_000)
        let before = try w.db().rows("SELECT count(*) FROM project_daily_quality")[0][0].int ?? 0
        let line =
            #"{"id":"late-1","type":"TEST_RUN_CREATED","aggregateType":"test_run","aggregateId":999999,"occurredAt":"2030-01-01T00:00:00.000Z","data":{"testRunId":"999999","projectId":"1"}}"#
        #expect(try ChildProcess.run(["journal", "append", "--journal", w.dir.file("journal"), line]).status == 0)
        let deadline = Date().addingTimeInterval(60)
        var seen = false
        while !seen && Date() < deadline && watcher.isRunning {
            seen =
                (try w.db().rows("SELECT count(*) FROM project_daily_quality WHERE day = '2030-01-01'")[0][0].int ?? 0)
                == 1
            if !seen { usleep(20_000) }
        }
        #expect(seen, "the appended event never reached the read model")
        #expect(watcher.isRunning)
        #expect(before > 0)
        kill(watcher.pid, SIGTERM)
        let outcome = watcher.wait()
        #expect(!outcome.signaled)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("stopped cleanly"))
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"),
            "needs /usr/bin/systemd-analyze (systemd)"))
    func everyUnitFilePassesSystemdAnalyzeVerify() throws {
        let dir = TemporaryDirectory()
        let schedules = ChildProcess.repositoryRoot() + "/schedules"
        var units: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: schedules)
        where name.hasSuffix(".service") || name.hasSuffix(".timer") {
            let text = try String(contentsOfFile: schedules + "/" + name, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/projector", with: ChildProcess.projectorPath)
            try dir.write(name, text)
            units.append(dir.file(name))
        }
        #expect(units.count >= 6)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["verify"] + units
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(message)")
    }
}

@Suite struct JournalWriterProcessTests {
    @Test func severalWriterProcessesAppendOnlyWholeLines() throws {
        let dir = TemporaryDirectory()
        let journal = dir.file("journal")
        let writers = 6
        let perWriter = 300
        for w in 0..<writers {
            var text = ""
            for i in 0..<perWriter {
                text +=
                    Events.line(
                        type: "PING", aggregateId: "w\(w)", id: "w\(w)-\(i)",
                        data: #"{"pad":"\#(String(repeating: "x", count: i % 200))"}"#) + "\n"
            }
            try dir.write("input\(w)", text)
        }
        var processes: [Process] = []
        for w in 0..<writers {
            for part in 0..<3 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = [
                    "-c",
                    "sed -n '\(part * 100 + 1),\((part + 1) * 100)p' \(dir.file("input\(w)")) | while read -r line; do \(ChildProcess.projectorPath) journal append --journal \(journal) --segment-bytes 20000 \"$line\" > /dev/null || exit 1; done",
                ]
                try process.run()
                processes.append(process)
            }
        }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let check = try ChildProcess.run(["journal", "check", "--journal", journal, "--jobs-dir", dir.path, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any]
        #expect(report?["events"] as? Int == writers * perWriter)
        #expect(report?["invalid"] as? Int == 0)
        #expect(report?["duplicateIds"] as? Int == 0)
        #expect(try Journal(path: journal).segments.count > 5)
    }

    @Test func pruneKeepsWhatALaggingJobNeeds() throws {
        let w = try QaHubWorkspace(events: 20_000)
        let segments = try Journal(path: w.dir.file("journal")).segments
        #expect(segments.count > 4)
        // One job lags: its checkpoint is put back into the second segment.
        let head = try #require(
            try Journal(path: w.dir.file("journal")).read(from: segments[1].start, to: segments[1].start + 4096))
        let lagging = segments[1].start + (head.firstIndex(of: 0x0A) ?? 0) + 1  // a line boundary
        let anchor = try Journal(path: w.dir.file("journal")).anchor(at: lagging)
        try w.db().run(
            "UPDATE projector_checkpoints SET position = ?, anchor_start = ?, anchor_hash = ?, anchor_segment = ? WHERE job = 'bug_budget_view'",
            [SQLValue(lagging), SQLValue(anchor.start), .text(String(anchor.hash, radix: 16)), .text(anchor.segment)])
        let prune = try w.projector(["journal", "prune"])
        #expect(prune.status == 0, "\(prune.stderr)")
        let left = try Journal(path: w.dir.file("journal")).segments
        #expect(left.first?.start == segments[1].start)
        #expect(left.count == segments.count - 1)
        // The lagging job still runs from its checkpoint.
        let run = try w.projector(["run"])
        #expect(run.status == 0, "\(run.stderr)")
    }
}
