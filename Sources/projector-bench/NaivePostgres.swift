import ArgumentParser
import Foundation
import Journal
import PostgresClient
import PostgresStore
import ProjectorCore
import QaHubDemo
import Runner

/// The naive pattern on PostgreSQL: each event handled as it is read, each job it concerns
/// running its statements at once in a transaction of its own, one statement per round trip.
struct NaivePostgres: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "naive-postgres")

    @Option(help: "Journal directory or file.") var journal: String
    @Option(name: .customLong("jobs-dir"), help: "The jobs (PostgreSQL's dialect).") var jobsDirectory: String
    @Option(help: "Events to handle (a prefix of the journal).") var events = 2_000
    @Option(help: "The database (a libpq connection string); its job tables are replaced.") var database: String

    func run() throws {
        let store = try PGStore(connection: try PGConnection(conninfo: database))
        store.pipelineDepth = 1
        let catalog = try JobLoader.load(directory: jobsDirectory)
        var compiled: [any CompiledJobStatements] = []
        func failure(_ error: JobFileErrors) -> StoreError {
            StoreError(kind: .other, message: "\(error)", code: "", description: "\(error)")
        }
        try store.transaction { () throws(StoreError) in
            for job in catalog.jobs {
                do throws(JobFileErrors) { try store.setUp(job) } catch { throw failure(error) }
                try store.clearTables(of: job)
                do throws(JobFileErrors) { compiled.append(try store.compile(job)) } catch { throw failure(error) }
            }
        }
        var transactions = 0
        let roundTripsBefore = store.connection.roundTrips
        let started = DispatchTime.now().uptimeNanoseconds
        let handled = try RoutedEvents.forEach(journal: journal, jobs: catalog.jobs, events: events) {
            index, key, event, position, base in
            let job = compiled[index]
            try store.transaction { () throws(StoreError) in
                switch job.definition.mode {
                case .refresh: try job.refresh(key: key)
                case .apply: try job.apply(EventLine(position: position, fields: event.fields, base: base), key: key)
                }
            }
            transactions += 1
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let result: [String: Double] = [
            "events": Double(handled), "seconds": seconds, "transactions": Double(transactions),
            "eventsPerSecond": Double(handled) / seconds,
            "roundTrips": Double(store.connection.roundTrips - roundTripsBefore),
        ]
        print(
            String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// Copies a generated SQLite write model into a PostgreSQL database's schema `app`.
struct LoadPostgres: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load-postgres")

    @Option(help: "The SQLite write model.") var writeModel: String
    @Option(help: "The database (a libpq connection string).") var database: String

    func run() throws {
        let copied = try PostgresWriteModel.load(from: writeModel, into: try PGConnection(conninfo: database))
        print(copied.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
}
