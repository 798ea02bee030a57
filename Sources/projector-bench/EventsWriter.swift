import ArgumentParser
import EventsTableWriter
import Foundation
import PostgresClient
import QaHubDemo

#if canImport(Glibc)
    import Glibc
#endif

/// An API appending to the events table the way the transactional outbox asks: each transaction
/// bumps its aggregate's version in the write model (`aggregates`) and inserts 1 to 5 events
/// carrying the versions it took, so each aggregate's versions are 1, 2, 3… without gaps. A share
/// of the transactions roll back, some stay open for a while before committing, and a lost
/// connection (a server restart) is reconnected. Every event's outcome goes to `--log` as a CSV
/// line `C,id` (committed), `R,id` (rolled back) or `U,id` (the connection was lost during COMMIT:
/// unknown), written after the outcome is known.
struct EventsWriter: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events-writer")

    @Option(help: "The database (a libpq connection string or postgres:// URL; the rest from PG* variables).")
    var database = ""
    @Option(help: "The events table.") var table = "events"
    @Option(help: "Where the outcome of every event goes (appended).") var log = "/dev/null"
    @Option(help: "Prefix of the event ids (unique per writer process).") var tag = "w"
    @Option(help: "Seconds to keep writing.") var seconds = 10.0
    @Option(help: "Aggregates to spread the transactions over (shared with the other writers).") var aggregates = 200
    @Option(help: "Distinct values of data.group.") var groups = 16
    @Option(help: "Percent of transactions rolled back.") var rollbackPercent = 5.0
    @Option(help: "Percent of transactions held open before committing.") var holdPercent = 2.0
    @Option(help: "Longest hold, in seconds (each hold is uniform from 0).") var holdSeconds = 10.0
    @Option(help: "Pause between transactions, in milliseconds.") var pauseMilliseconds = 5.0
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() throws {
        guard let events = EventsTableWriter(table: table) else {
            throw ValidationError("--table: not a table name: \(table)")
        }
        guard FileManager.default.fileExists(atPath: log) || FileManager.default.createFile(atPath: log, contents: nil),
            let output = FileHandle(forWritingAtPath: log)
        else { throw ValidationError("--log: cannot write \(log)") }
        output.seekToEndOfFile()
        var random = SplitMix64(seed: seed)
        func chance(_ percent: Double) -> Bool { Double(random.next() % 1_000_000) < percent * 10_000 }
        let deadline = Date().addingTimeInterval(seconds)
        var counts: [Character: Int] = ["C": 0, "R": 0, "U": 0]
        var transactions = 0
        var reconnects = 0
        var session: PGConnection?
        while Date() < deadline {
            if session == nil || session?.isConnected == false {
                session = try? PGConnection(conninfo: database, options: Self.options)
                guard session != nil else {
                    usleep(200_000)
                    continue
                }
                if transactions > 0 { reconnects += 1 }
            }
            guard let connection = session else { continue }
            transactions += 1
            let count = 1 + random.below(5)
            let aggregate = "a\(random.below(aggregates))"
            let ids = (0..<count).map { "\(tag)-\(transactions)-\($0)" }
            var stage = "begin"
            do {
                try connection.execute("BEGIN")
                // Half the transactions take their xid before waiting for the aggregate's row, so a
                // later version can carry a lower xid than an earlier one (readers order by xid).
                if chance(50) { try connection.query("SELECT pg_current_xact_id()") }
                let bumped = try connection.query(
                    """
                    INSERT INTO aggregates(id, version) VALUES ($1, $2::bigint)
                    ON CONFLICT (id) DO UPDATE SET version = aggregates.version + excluded.version
                    RETURNING version
                    """, [aggregate, String(count)])
                guard let last = bumped.first?.int(0) else { throw PGError(kind: .other, message: "no version") }
                for (index, id) in ids.enumerated() {
                    let version = last - count + 1 + index
                    let data =
                        #"{"version":\#(version),"group":"g\#(random.below(groups))","amount":\#(1 + random.below(100))}"#
                    try events.append(
                        try EventsTableWriter.Event(
                            id: id, type: "Deposited", aggregateType: "account", aggregateId: aggregate,
                            version: version, data: data, metadata: #"{"writer":"\#(tag)"}"#),
                        on: connection)
                }
                if chance(rollbackPercent) {
                    try connection.execute("ROLLBACK")
                    record(ids, "R", output, &counts)
                } else {
                    if chance(holdPercent) { usleep(useconds_t(Double(random.below(1000)) / 1000 * holdSeconds * 1e6)) }
                    stage = "commit"
                    try connection.execute("COMMIT")
                    record(ids, "C", output, &counts)
                }
            } catch {
                // Before COMMIT nothing of the transaction can have committed; during it, the outcome
                // is unknown when the connection went away.
                let lost = !connection.isConnected
                if !lost { try? connection.execute("ROLLBACK") }
                record(ids, stage == "commit" && lost ? "U" : "R", output, &counts)
                if lost { session = nil }
            }
            if pauseMilliseconds > 0 { usleep(useconds_t(pauseMilliseconds * 1000)) }
        }
        print(
            "events-writer \(tag): \(transactions) transactions, events committed \(counts["C"] ?? 0), "
                + "rolled back \(counts["R"] ?? 0), unknown \(counts["U"] ?? 0), reconnects \(reconnects)")
    }

    static var options: PGConnection.Options {
        var options = PGConnection.Options()
        options.applicationName = "events-writer"
        return options
    }

    func record(_ ids: [String], _ outcome: Character, _ output: FileHandle, _ counts: inout [Character: Int]) {
        output.write(Data(ids.map { "\(outcome),\($0)\n" }.joined().utf8))
        counts[outcome, default: 0] += ids.count
    }
}
