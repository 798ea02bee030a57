import ArgumentParser
import Foundation
import Journal
import ProjectorCore
import Runner
import SQLiteStore

/// The seed's pattern done faithfully over the same C API: each event is handled as it is read,
/// and each job it concerns runs its statements at once in a transaction of their own.
struct Naive: ParsableCommand {
    @Option(help: "Journal directory or file.") var journal: String
    @Option(help: "The write model, attached as `app`.") var writeModel: String
    @Option(name: .customLong("jobs-dir"), help: "The jobs.") var jobsDirectory: String
    @Option(help: "Events to handle (a prefix of the journal).") var events = 10_000
    @Option(help: "Scratch database to create (removed first).") var database: String
    @Flag(help: "SQLite's defaults (rollback journal, synchronous=FULL) instead of projector's settings.")
    var untuned = false

    func run() throws {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            try? FileManager.default.removeItem(atPath: database + suffix)
        }
        let db = try Database(path: database, options: untuned ? .untuned : Database.Options())
        try db.run("ATTACH DATABASE ? AS app", [.text(writeModel)])
        let catalog = try JobLoader.load(directory: jobsDirectory)
        var compiled: [CompiledJob] = []
        for job in catalog.jobs {
            try CompiledJob.setup(job, db: db)
            compiled.append(try CompiledJob(job, db: db))
        }
        var transactions = 0
        let started = DispatchTime.now().uptimeNanoseconds
        let handled = try RoutedEvents.forEach(journal: journal, jobs: catalog.jobs, events: events) {
            index, key, event, position, base in
            let job = compiled[index]
            try db.execute("BEGIN")
            switch job.definition.mode {
            case .refresh: try EventBinder.refresh(job.body, key: key)
            case .apply:
                try EventBinder.apply(job.body, fields: event.fields, line: base, position: position, key: key)
            }
            try db.execute("COMMIT")
            transactions += 1
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let result: [String: Double] = [
            "events": Double(handled), "seconds": seconds, "transactions": Double(transactions),
            "eventsPerSecond": Double(handled) / seconds,
        ]
        print(
            String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
