import Foundation
import Journal
import SQLiteStore
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the operator's commands say and exit with when something is off.
@Suite struct OperatorCommandTests {
    /// Every command that reads what runs wrote.
    static let readingCommands = [
        ["status"], ["status", "--json"], ["failures", "list"], ["failures", "retry", "--all"],
        ["failures", "discard", "--all-dead"], ["webhooks", "list"], ["webhooks", "retry", "--all-dead"],
        ["webhooks", "retry", "--all-dead", "--deliver"], ["verify", "count"],
        ["replay", "count", "--aggregate", "k1"],
        ["journal", "prune"],
    ]

    @Test func aMissingDatabaseOrDirectoryIs66ForEveryCommandThatReadsOne() throws {
        let w = try Workspace()
        try w.append(3)
        let flags = ["--journal", w.dir.file("journal.jsonl"), "--jobs-dir", w.dir.file("jobs")]
        for database in [w.dir.file("nodir/x.db"), w.dir.file("missing.db")] {
            for command in Self.readingCommands {
                let outcome = try ChildProcess.run(command + ["--database", database] + flags)
                #expect(outcome.status == 66, "\(command) \(database): \(outcome.stdout) \(outcome.stderr)")
                #expect(outcome.stderr.contains("does not exist"), "\(command): \(outcome.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: database), "a reading command created \(database)")
        }
        // run and rebuild may create the database, but not its directory.
        for command in [["run"], ["rebuild", "count"]] {
            let outcome = try ChildProcess.run(command + ["--database", w.dir.file("nodir/x.db")] + flags)
            #expect(outcome.status == 66, "\(command): \(outcome.stderr)")
        }
        #expect(try ChildProcess.run(["run", "--database", w.dir.file("missing.db")] + flags).status == 0)
    }
}
