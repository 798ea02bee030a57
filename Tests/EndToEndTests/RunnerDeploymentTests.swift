import EventsTableWriter
import Foundation
import Journal
import PostgresClient
import QaHubDemo
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `schedules/projector-runner.service` and `projector-runner.example.json`, installed with the
/// steps of docs/operations.md's "Several runners on PostgreSQL" against a scratch root and a real
/// server: two runners started from the unit share an events table that the API appends to, and
/// leave the read models a run of the same events from a journal file leaves.
@Suite(.postgresServer) struct RunnerDeploymentTests {
    static let tables = ["test_runs_view", "bug_budget_view", "project_daily_quality"]

    @Test(
        .enabled(if: runsAsRoot, "needs root to switch to the unit's user and mount a read-only root"),
        .enabled(if: hasSandboxTools, "needs unshare, setpriv and journalctl (util-linux, systemd)"),
        .enabled(if: canMountNamespaces, "needs mount namespaces (unshare --mount, bind mounts)"))
    func twoRunnerUnitsShareAnEventsTableAsTheGuideInstallsThem() throws {
        let host = try ScratchHost()
        // Given the QaHub write model in the schema `app` of a database,
        try host.createAPIData()
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        try PostgresWriteModel.load(from: host.path("/srv/qahub/data/qahub.db"), into: connection)

        // when the guide's steps install the runner, with this server's address and password,
        let port = try PostgresTestServer.settings()["PGPORT", default: ""]
        let password = try PostgresTestServer.password()
        let install = try host.runInstallSteps(
            section: "## Several runners on PostgreSQL", example: "projector-runner.example.json",
            replacing: [
                ("@db.example.internal:5432/app", "@127.0.0.1:\(port)/\(database.name)"),
                (
                    "db.example.internal:5432:app:projector:PASSWORD",
                    "127.0.0.1:\(port):\(database.name):projector:\(password)"
                ),
            ])
        #expect(install.status == 0, "install steps failed: \(install.stderr)")
        let pgpass = try FileManager.default.attributesOfItem(atPath: host.path("/etc/projector/pgpass"))
        #expect((pgpass[.posixPermissions] as? Int) == 0o600, "the password file must be root's alone")

        // and two runners start from the unit while the API appends its events in transactions,
        let unit = try host.unit("projector-runner.service")
        #expect(unit.values("LoadCredential") == ["pgpass:/etc/projector/pgpass"])
        let runners = [try host.launch(unit, as: "runner-a"), try host.launch(unit, as: "runner-b")]
        defer {
            for runner in runners where runner.process.isRunning { kill(runner.process.processIdentifier, SIGKILL) }
        }
        let appended = try Self.appendJournal(at: host.path("/srv/qahub/journal"), to: connection)
        #expect(appended > 1000)

        // then both take part and every segment of every job reaches the last event,
        let deadline = Date().addingTimeInterval(120)
        var progress: (owners: Int, behind: Int) = (0, -1)
        repeat {
            usleep(200_000)
            // Until the first runner made them, the runner's tables are not there.
            let row = try? connection.query(
                """
                SELECT (SELECT count(DISTINCT owner) FROM projector.segments),
                       (SELECT count(*) FROM projector.segments s,
                            (SELECT epoch, xid, seq FROM app.events ORDER BY epoch DESC, xid DESC, seq DESC LIMIT 1) AS last
                        WHERE NOT coalesce((s.epoch, s.xid, s.seq) >= (last.epoch, last.xid, last.seq), false))
                """
            ).first
            progress = (row?.int(0) ?? 0, row?.int(1) ?? -1)
        } while (progress.owners < 2 || progress.behind != 0) && Date() < deadline
            && runners.allSatisfy(\.process.isRunning)
        #expect(progress.owners == 2, "segments committed by \(progress.owners) runner(s): \(Self.logs(runners))")
        #expect(progress.behind == 0, "\(progress.behind) segments behind: \(Self.logs(runners))")

        // on call, status from a root shell with the password file names both runners alive,
        let status = try host.shell(
            "PGPASSFILE=\(host.path("/etc/projector/pgpass")) \(host.path("/usr/local/bin/projector")) status"
                + " --config \(host.path("/etc/projector/runner.json"))")
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("2 runner(s) alive"), "\(status.stdout)")

        // each stops cleanly on SIGTERM, as `systemctl stop` sends it,
        for runner in runners {
            kill(runner.process.processIdentifier, SIGTERM)
            runner.process.waitUntilExit()
            #expect(runner.process.terminationReason == .exit, "\(Self.logs(runners))")
            #expect(runner.process.terminationStatus == 0, "\(Self.logs(runners))")
        }
        let metrics = try String(
            contentsOfFile: host.path("/var/lib/prometheus/node-exporter/projector-runner.prom"), encoding: .utf8)
        #expect(metrics.contains("projector_runners_alive"), "\(metrics.prefix(300))")
        // The password file libpq read: the runner's own copy, which its group may not read.
        let copy = try FileManager.default.attributesOfItem(atPath: host.path("/run/projector-runner/pgpass"))
        #expect((copy[.posixPermissions] as? Int) == 0o600)
        #expect((copy[.ownerAccountID] as? Int).map { $0 != 0 } == true, "the copy must be the runner's")

        // and the read models are those of a run of the same events from the journal file.
        let reference = try PostgresTestDatabase()
        try PostgresWriteModel.load(from: host.path("/srv/qahub/data/qahub.db"), into: try reference.connect())
        let run = try ChildProcess.run([
            "run", "--database", reference.conninfo, "--journal", host.path("/srv/qahub/journal"),
            "--jobs-dir", ChildProcess.repositoryRoot() + "/jobs/postgres",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        for difference in try PostgresReadModels.compare(connection, try reference.connect(), tables: Self.tables) {
            #expect(difference.rowsFirst > 0, "\(difference.table) is empty")
            #expect(
                difference.onlyInFirst == 0 && difference.onlyInSecond == 0,
                "\(difference.table): \(difference.onlyInFirst) rows only from the events table, \(difference.onlyInSecond) only from the journal"
            )
        }
    }

    /// Appends every event of the QaHub journal to `app.events` with `EventsTableWriter`, as the
    /// API would, 100 events a transaction; returns how many. `data` and `metadata` are copied as
    /// the journal holds them (the simulator writes them last, in that order), not re-encoded.
    static func appendJournal(at path: String, to connection: PGConnection) throws -> Int {
        let journal = try Journal(path: path)
        var lines: [String] = []
        for segment in journal.segments {
            let bytes = try #require(try journal.read(from: segment.start, to: segment.end))
            lines += bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        }
        let writer = try #require(EventsTableWriter(table: "app.events"))
        for chunk in stride(from: 0, to: lines.count, by: 100) {
            try connection.execute("BEGIN")
            for line in lines[chunk..<min(chunk + 100, lines.count)] {
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                let data = try #require(line.range(of: #""data":"#))
                let metadata = try #require(line.range(of: #","metadata":"#, range: data.upperBound..<line.endIndex))
                try writer.append(
                    try EventsTableWriter.Event(
                        id: object["id"] as? String, type: try #require(object["type"] as? String),
                        aggregateType: try #require(object["aggregateType"] as? String),
                        aggregateId: "\(try #require(object["aggregateId"]))",
                        occurredAt: object["occurredAt"] as? String,
                        data: String(line[data.upperBound..<metadata.lowerBound]),
                        metadata: String(line[metadata.upperBound..<line.index(before: line.endIndex)])),
                    on: connection)
            }
            try connection.execute("COMMIT")
        }
        return lines.count
    }

    /// The end of each runner's log, for a failed expectation's message.
    static func logs(_ runners: [(process: Process, log: String)]) -> String {
        runners.map { ((try? String(contentsOfFile: $0.log, encoding: .utf8)) ?? "").suffix(1500) }
            .joined(separator: "\n---\n")
    }
}
