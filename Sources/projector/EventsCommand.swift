import ArgumentParser
import EventsTableWriter
import Foundation
import Runner

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Create the PostgreSQL events table and append to it (docs/events-table.md).",
        discussion: """
            The table is named as a run reads it: --journal postgres:TABLE (postgres:events, \
            postgres:app.events), in the PostgreSQL database --database names.
            """,
        subcommands: [Init.self, Append.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the events table and its reading index (nothing changes when they exist).",
            discussion: """
                Exit codes: 0 created or already there; 64 not a PostgreSQL database, no postgres:TABLE \
                journal, a bad table name or a password in the connection string; 65 an existing table holds \
                one aggregate's version twice (the index that refuses it cannot be made); 75 the server cannot be \
                reached; 78 the schema is missing, the role may not create the table, or a table of that name \
                is not an events table.
                """
        )

        @OptionGroup var store: StoreOptions

        func run() throws {
            let (table, outcome) = try EventsTableAdmin.initialize(options: try store.runOptions())
            switch outcome {
            case .created: print("created the events table \(table)")
            case .existed: print("the events table \(table) is already there; nothing changed")
            }
        }
    }

    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append one event to the events table, in a transaction of its own (for shells and scripts).",
            discussion: """
                An API appends in its own transaction instead, with the same INSERT \
                (docs/events-table.md). Exit codes: 0 appended; 64 as for init, or a bad flag; 65 the event is \
                refused (data or metadata not a JSON object, an id already in the table) and nothing was \
                appended; 75 the server cannot be reached; 78 the table or its schema is missing.
                """
        )

        @OptionGroup var store: StoreOptions
        @Option(help: "The event type.") var type: String
        @Option(name: .customLong("aggregate-type"), help: "The kind of aggregate.") var aggregateType: String
        @Option(name: .customLong("aggregate-id"), help: "The aggregate.") var aggregateId: String
        @Option(help: "The event's id (unique in the table).") var id: String?
        @Option(help: "The event's number within its aggregate: 1, 2, 3… without gaps.") var version: Int?
        @Option(help: "The event's data: a JSON object.") var data: String?
        @Option(help: "The event's metadata: a JSON object.") var metadata: String?

        func run() throws {
            let options = try store.runOptions()
            let event: EventsTableWriter.Event
            do throws(EventsTableWriter.InvalidEvent) {
                event = try EventsTableWriter.Event(
                    id: id, type: type, aggregateType: aggregateType, aggregateId: aggregateId, version: version,
                    data: data, metadata: metadata)
            } catch {
                let flag =
                    ["aggregateType": "aggregate-type", "aggregateId": "aggregate-id"][error.field] ?? error.field
                let code = error.field == "data" || error.field == "metadata" ? ExitStatus.dataError : ExitStatus.usage
                FileHandle.standardError.write(
                    Data("projector: --\(flag) \(error.reason); nothing was appended\n".utf8))
                throw ExitCode(code)
            }
            let table = try EventsTableAdmin.append(event, options: options)
            print("appended 1 event to the events table \(table)")
        }
    }
}
