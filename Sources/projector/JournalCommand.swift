import ArgumentParser
import Foundation
import Journal
import ProjectorCore
import Runner

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Append to, lint and prune the event journal.",
        subcommands: [Append.self, Check.self, Prune.self]
    )

    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append events (JSON objects) given as arguments, or one per line on standard input.",
            discussion: """
                Every event is validated first (valid JSON, type, aggregateType and aggregateId); if one is \
                invalid nothing is written and the exit code is 65. A path ending in .jsonl is a single file, \
                anything else a directory of segments. Safe with several writers at once.
                """
        )

        @Option(help: "The journal (env PROJECTOR_JOURNAL; default journal).") var journal: String?
        @Option(name: .customLong("segment-bytes"), help: "Start a new segment past this size (directory journals).")
        var segmentBytes = 64 << 20
        @Flag(help: "fdatasync after writing.") var fsync = false
        @Argument(help: "Events; none to read lines from standard input.") var events: [String] = []

        func run() throws {
            let path = journal ?? ProcessInfo.processInfo.environment["PROJECTOR_JOURNAL"] ?? "journal"
            var lines: [(source: String, text: String)] = []
            if events.isEmpty {
                let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                for (index, line) in input.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where !line.isEmpty {
                    lines.append(("stdin:\(index + 1)", String(line.hasSuffix("\r") ? line.dropLast() : line)))
                }
            } else {
                lines = events.enumerated().map { ("argument \($0.offset + 1)", $0.element) }
            }
            let scanner = EventScanner()
            var block: [UInt8] = []
            var invalid = false
            for (source, text) in lines {
                let bytes = Array(text.utf8)
                if case .failure(let reason) = scanner.scan(bytes) {
                    FileHandle.standardError.write(Data("projector: \(source): \(reason)\n".utf8))
                    invalid = true
                }
                if bytes.contains(0x0A) { invalid = true }
                block += bytes + [0x0A]
            }
            if invalid { throw ExitCode(ExitStatus.dataError) }
            guard !block.isEmpty else { return }
            do {
                let isDirectory = !path.hasSuffix(".jsonl")
                let writer = try JournalWriter(
                    path: path, directory: isDirectory, segmentBytes: segmentBytes, sync: fsync ? .always : .none)
                let position = try writer.append(lines: block)
                print("appended \(lines.count) event(s) at position \(position)")
            } catch {
                throw RunError.journal(error)
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lint a journal: invalid lines, duplicate ids, event types no job knows (exit 65 on problems).")

        @OptionGroup var store: StoreOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let options = try store.runOptions()
            let report: JournalMaintenance.CheckReport
            let jobs = (try? JobLoader.load(directory: options.jobsDirectory).jobs) ?? []
            report = try JournalMaintenance.check(journalPath: options.journalPath, jobs: jobs)
            if json {
                print(try Output.json(report))
            } else {
                print(
                    "\(Output.count(report.lines)) lines, \(Output.count(report.events)) events, "
                        + "\(report.invalid) invalid, \(report.duplicateIds) duplicate ids")
                for problem in report.problems { print("  position \(problem.position): \(problem.reason)") }
                for (type, count) in report.unknownTypes.sorted(by: { $0.key < $1.key }) {
                    print("  no job listens to \(type) (\(Output.count(count)) events)")
                }
            }
            if !report.clean { throw ExitCode(ExitStatus.dataError) }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete segments that every job's checkpoint has passed.",
            discussion: """
                Keeps the segment holding each checkpoint's last bytes (the cursor check reads them), every \
                segment a parked key's held events live in, and the last segment. A job that never ran and \
                must replay history keeps everything. After pruning, apply jobs can no longer be rebuilt from \
                the start of history.
                """
        )

        @OptionGroup var store: StoreOptions
        @OptionGroup var lock: LockOptions
        @Flag(name: .customLong("dry-run"), help: "Only list what would be deleted.") var dryRun = false

        func run() throws {
            var options = try store.runOptions()
            try store.requireExistingDatabase(options)
            lock.apply(to: &options)
            let removed = try JournalMaintenance.prune(options: options, dryRun: dryRun, logger: store.makeLogger())
            let bytes = removed.reduce(0) { $0 + $1.size }
            print(
                (dryRun ? "would delete" : "deleted") + " \(removed.count) segment(s), \(Output.count(bytes)) bytes"
            )
            for segment in removed { print("  " + segment.path) }
        }
    }
}
