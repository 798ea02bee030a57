import Foundation
import PostgresClient
import TestSupport
import Testing

/// `projector` on a PostgreSQL database, as an operator runs it (a real server from `scripts/test`).
@Suite(.postgresServer) struct PostgresProcessTests {
    static let job = """
        -- dialect: postgres
        -- on: PING  key: aggregateId
        -- @setup
        CREATE TABLE IF NOT EXISTS pings(key text PRIMARY KEY, n bigint NOT NULL);
        -- @refresh
        INSERT INTO pings(key, n) VALUES(:key, 1) ON CONFLICT (key) DO UPDATE SET n = pings.n + 1;
        """

    @Test func runValidateStatusRebuildAndVerifyWork() throws {
        let database = try PostgresTestDatabase()
        let w = try Workspace(label: "projector-pg-e2e", jobs: ["pings": Self.job])
        try w.append(lines: [Events.line(type: "PING", aggregateId: "a"), Events.line(type: "PING", aggregateId: "b")])
        let flags = ["--database", database.conninfo, "--journal", w.journalPath, "--jobs-dir", w.jobsDirectory]
        #expect(try ChildProcess.run(["validate"] + flags).status == 0)
        let run = try ChildProcess.run(["run"] + flags)
        #expect(run.status == 0, "\(run.stderr)")
        let connection = try database.connect()
        #expect(try connection.query("SELECT count(*) FROM pings").first?.int(0) == 2)
        let status = try ChildProcess.run(["status"] + flags)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("pings  refresh"), "\(status.stdout)")
        let rebuild = try ChildProcess.run(["rebuild", "pings"] + flags)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(try connection.query("SELECT count(*) FROM pings").first?.int(0) == 2)
        let verify = try ChildProcess.run(["verify", "pings"] + flags)
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout == "pings: no drift in the whole read model\n")
        #expect(!FileManager.default.fileExists(atPath: database.conninfo))
    }

    @Test func aPasswordInTheURLIsRefusedAndNeverPrinted() throws {
        let w = try Workspace(label: "projector-pg-e2e", jobs: ["pings": Self.job])
        let run = try ChildProcess.run([
            "run", "--database", "postgres://projector:hunter2-secret@127.0.0.1/projector", "--journal",
            w.journalPath, "--jobs-dir", w.jobsDirectory,
        ])
        #expect(run.status == 64)
        #expect(run.stderr.contains("PGPASSWORD"), "\(run.stderr)")
        #expect(!run.stderr.contains("hunter2-secret"))
        #expect(!run.stdout.contains("hunter2-secret"))
    }
}
