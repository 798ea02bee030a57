import Foundation
import PostgresClient
import TestSupport
import Testing

/// `projector events init` and `events append`, as an operator or a script runs them.
@Suite struct EventsCommandTests {
    @Test(.postgresServer) func initCreatesTheTableOnceAndAppendWritesRows() throws {
        let database = try PostgresTestDatabase()
        let flags = ["--database", database.conninfo, "--journal", "postgres:events"]

        let first = try ChildProcess.run(["events", "init"] + flags)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "created the events table events\n")
        let again = try ChildProcess.run(["events", "init"] + flags)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout == "the events table events is already there; nothing changed\n")

        let append = try ChildProcess.run(
            ["events", "append"] + flags + [
                "--type", "PING", "--aggregate-type", "ping", "--aggregate-id", "a", "--id", "e-1", "--version", "1",
                "--data", #"{"n":1}"#, "--metadata", #"{"user":"u"}"#,
            ])
        #expect(append.status == 0, "\(append.stderr)")
        let connection = try database.connect()
        let row = try #require(
            try connection.query(
                "SELECT id, type, aggregate_type, aggregate_id, version, data::text, metadata::text, epoch FROM events"
            ).first)
        #expect(row.string(0) == "e-1")
        #expect(row.string(1) == "PING")
        #expect(row.string(2) == "ping")
        #expect(row.string(3) == "a")
        #expect(row.int(4) == 1)
        #expect(row.string(5) == #"{"n": 1}"#)
        #expect(row.string(6) == #"{"user": "u"}"#)
        #expect(row.int(7) == 1)
    }

    @Test(.postgresServer) func theTableMayBeNamedByTheConfigurationFile() throws {
        let database = try PostgresTestDatabase()
        let directory = TemporaryDirectory("projector-events-config")
        let config = try directory.write(
            "projector.json", #"{"database": "\#(database.conninfo)", "journal": "postgres:events"}"#)
        let initialize = try ChildProcess.run(["events", "init", "--config", config])
        #expect(initialize.status == 0, "\(initialize.stderr)")
        #expect(initialize.stdout == "created the events table events\n")
    }

    @Test(.postgresServer) func initMakesTheTableInASchemaAndRefusesSomeoneElsesTable() throws {
        let database = try PostgresTestDatabase()
        let connection = try database.connect()
        let missingSchema = try ChildProcess.run([
            "events", "init", "--database", database.conninfo, "--journal", "postgres:app.events",
        ])
        #expect(missingSchema.status == 78)
        #expect(missingSchema.stderr.contains("CREATE SCHEMA app"), "\(missingSchema.stderr)")
        try connection.execute("CREATE SCHEMA app; CREATE TABLE app.orders(id int)")
        let made = try ChildProcess.run([
            "events", "init", "--database", database.conninfo, "--journal", "postgres:app.events",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try connection.query("SELECT to_regclass('app.events') IS NOT NULL").first?.bool(0) == true)
        let orders = try ChildProcess.run([
            "events", "init", "--database", database.conninfo, "--journal", "postgres:app.orders",
        ])
        #expect(orders.status == 78)
        #expect(orders.stderr.contains("not an events table"), "\(orders.stderr)")
    }

    @Test(.postgresServer) func appendRefusesBadJSONNamingTheFlagAndADuplicateId() throws {
        let database = try PostgresTestDatabase()
        let flags = ["--database", database.conninfo, "--journal", "postgres:events"]
        #expect(try ChildProcess.run(["events", "init"] + flags).status == 0)
        let event = ["--type", "PING", "--aggregate-type", "ping", "--aggregate-id", "a"]

        let badData = try ChildProcess.run(["events", "append"] + flags + event + ["--data", #"{"n":"#])
        #expect(badData.status == 65)
        #expect(badData.stderr.contains("--data is not valid JSON"), "\(badData.stderr)")
        let arrayMetadata = try ChildProcess.run(["events", "append"] + flags + event + ["--metadata", "[1]"])
        #expect(arrayMetadata.status == 65)
        #expect(arrayMetadata.stderr.contains("--metadata is JSON but not an object"), "\(arrayMetadata.stderr)")
        let zeroVersion = try ChildProcess.run(["events", "append"] + flags + event + ["--version", "0"])
        #expect(zeroVersion.status == 64)
        #expect(zeroVersion.stderr.contains("--version"), "\(zeroVersion.stderr)")

        #expect(try ChildProcess.run(["events", "append"] + flags + event + ["--id", "e-1"]).status == 0)
        let duplicate = try ChildProcess.run(["events", "append"] + flags + event + ["--id", "e-1"])
        #expect(duplicate.status == 65)
        #expect(duplicate.stderr.contains("id e-1 is already in the table events"), "\(duplicate.stderr)")
        #expect(try database.connect().query("SELECT count(*) FROM events").first?.int(0) == 1)

        let noTable = try ChildProcess.run(
            ["events", "append", "--database", database.conninfo, "--journal", "postgres:other"] + event)
        #expect(noTable.status == 78)
        #expect(noTable.stderr.contains("projector events init"), "\(noTable.stderr)")
    }

    @Test func initRefusesWhatIsNotAnEventsTableOnPostgreSQL() throws {
        let sqlite = try ChildProcess.run(["events", "init", "--database", "/tmp/x.db", "--journal", "postgres:events"])
        #expect(sqlite.status == 64)
        #expect(sqlite.stderr.contains("needs a PostgreSQL database"), "\(sqlite.stderr)")

        let file = try ChildProcess.run(["events", "init", "--database", "dbname=x", "--journal", "journal.jsonl"])
        #expect(file.status == 64)
        #expect(file.stderr.contains("--journal postgres:TABLE"), "\(file.stderr)")

        for name in ["Events", "1events", "a.b.c", "ev-ents", ""] {
            let bad = try ChildProcess.run([
                "events", "init", "--database", "dbname=x", "--journal", "postgres:" + name,
            ])
            #expect(bad.status == 64, "\(name)")
            #expect(bad.stderr.contains("is not a table name"), "\(name): \(bad.stderr)")
        }

        let password = try ChildProcess.run([
            "events", "init", "--database", "postgres://projector:hunter2-secret@127.0.0.1/projector", "--journal",
            "postgres:events",
        ])
        #expect(password.status == 64)
        #expect(password.stderr.contains("PGPASSWORD"), "\(password.stderr)")
        #expect(!password.stderr.contains("hunter2-secret"))
    }

    @Test func initAndAppendExit75WhenTheServerCannotBeReached() throws {
        let port = try ClosedPort()
        let flags = [
            "--database", "host=127.0.0.1 port=\(port.port) dbname=projector connect_timeout=5", "--journal",
            "postgres:events",
        ]
        let initialize = try ChildProcess.run(["events", "init"] + flags)
        #expect(initialize.status == 75, "\(initialize.stderr)")
        #expect(initialize.stderr.contains("cannot reach the database"), "\(initialize.stderr)")
        let append = try ChildProcess.run(
            ["events", "append"] + flags + ["--type", "PING", "--aggregate-type", "ping", "--aggregate-id", "a"])
        #expect(append.status == 75, "\(append.stderr)")
    }
}
