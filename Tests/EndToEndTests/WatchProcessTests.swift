import Foundation
import QaHubDemo
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `run --watch` as systemd or a terminal runs it: a child process stopped by a signal, and the
/// healthcheck pings around runs and watches, against a receiver on 127.0.0.1.
@Suite struct WatchProcessTests {
    /// Lines of the journal before `position` (a checkpoint sits on a line boundary).
    static func lines(_ w: Workspace, before position: Int) throws -> Int {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: w.journalPath))
        return bytes.prefix(position).reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalWhileAWatchRunWorksCommitsTheBatchInFlightAndStopsCleanly(signal: Int32) throws {
        // Given a watcher that caught up with 10 events
        let w = try Workspace()
        try w.append(10)
        let watcher = try w.start(["run", "--watch", "--batch-events", "100"])
        defer { if watcher.isRunning { watcher.kill9() } }
        #expect(OperatorCommandTests.waitForHolder(watcher.pid, database: w.databasePath))
        let caughtUp = try Self.lines(w, before: Int(try Data(contentsOf: URL(fileURLWithPath: w.journalPath)).count))
        #expect(caughtUp == 10)

        // When 30,000 events are appended and the signal comes once their first batch committed
        try w.append(30_000, start: 10)
        let deadline = Date().addingTimeInterval(60)
        var position = 0
        while Date() < deadline && watcher.isRunning {
            position = (try? w.scalar("SELECT min(position) FROM projector_checkpoints")) ?? 0
            if try Self.lines(w, before: position) > 10 { break }
            usleep(5_000)
        }
        kill(watcher.pid, signal)
        let outcome = watcher.wait()

        // Then the watcher exits 0 after logging a clean stop, its last run stopped after the batch
        // in flight, and that batch committed with its checkpoint: the read model holds exactly the
        // events before the checkpoint
        #expect(!outcome.signaled)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let watching = try #require(outcome.stderr.range(of: "watching the journal"), "\(outcome.stderr)")
        let stopped = try #require(outcome.stderr.range(of: "stopped cleanly"), "\(outcome.stderr)")
        #expect(watching.upperBound <= stopped.lowerBound)
        #expect(outcome.stdout.contains("stopped at position"), "\(outcome.stdout)")
        let checkpoint = try w.scalar("SELECT position FROM projector_checkpoints WHERE job = 'count'")
        let applied = try w.scalar("SELECT sum(n) FROM counts")
        #expect(applied == (try Self.lines(w, before: checkpoint)))
        #expect(applied > 10 && applied < 30_010)
        // and the next run does the rest, each event once
        #expect(try w.run().status == 0)
        #expect(try w.scalar("SELECT sum(n) FROM counts") == 30_010)
    }

    /// Like a one-shot run, a watch stopping after the first SIGINT dies at once of a second one;
    /// the batch in flight rolls back.
    @Test func aSecondSIGINTEndsAStoppingWatchAtOnce() throws {
        // Given a watcher whose batches take a while (each event counts to 5,000 in SQL)
        let w = try Workspace(job: Workspace.slowJob(countTo: 5000))
        try w.append(2_000)
        let watcher = try w.start(["run", "--watch", "--batch-events", "500", "--batch-ms", "100000"])
        defer { if watcher.isRunning { watcher.kill9() } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && watcher.isRunning
            && ((try? w.scalar("SELECT count(*) FROM projector_checkpoints")) ?? 0) < 1
        {
            usleep(5_000)
        }
        let committed = try w.scalar("SELECT sum(n) FROM counts")

        // When SIGINT comes again and again while the next batch is in flight
        while watcher.isRunning && Date() < deadline {
            kill(watcher.pid, SIGINT)
            usleep(50_000)
        }
        let outcome = watcher.wait()

        // Then the second one ended it the default way, and the batch in flight left nothing
        #expect(outcome.signaled && outcome.status == SIGINT, "exit \(outcome.status): \(outcome.stderr)")
        #expect(!outcome.stderr.contains("stopped cleanly"))
        #expect(committed > 0 && committed < 2_000)
        #expect(try w.scalar("SELECT sum(n) FROM counts") == committed)
    }

    @Test func aRunPingsStartThenSuccessWithItsSummaryOrFailWhenLinesAreRejected() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let w = try Workspace()
        let ping = "http://127.0.0.1:\(receiver.port)/hc"
        try w.append(3)
        #expect(try w.run(["--ping-url", ping]).status == 0)
        try w.append(lines: ["not json"])
        #expect(try w.run(["--ping-url", ping]).status == 65)
        #expect(receiver.wait(for: 4))
        let received = receiver.received
        #expect(received.map(\.path) == ["/hc/start", "/hc", "/hc/start", "/hc/fail"])
        #expect(String(decoding: received[1].body, as: UTF8.self).contains("caught up"))
        #expect(String(decoding: received[3].body, as: UTF8.self).contains("1 rejected"))
    }

    @Test func aWatchPingsStartThenWatchStoppedOnSIGTERM() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let w = try Workspace()
        let watcher = try w.start(["run", "--watch", "--ping-url", "http://127.0.0.1:\(receiver.port)/hc"])
        defer { if watcher.isRunning { watcher.kill9() } }
        #expect(OperatorCommandTests.waitForHolder(watcher.pid, database: w.databasePath))
        kill(watcher.pid, SIGTERM)
        #expect(watcher.wait().status == 0)
        #expect(receiver.wait(for: 2))
        #expect(receiver.received.map(\.path) == ["/hc/start", "/hc"])
        #expect(receiver.received.last.map { String(decoding: $0.body, as: UTF8.self) } == "watch stopped")
    }

    @Test func aPingThatFailsIsReportedAndChangesNoExitCode() throws {
        let closed = try ClosedPort()
        let w = try Workspace()
        try w.append(3)
        let outcome = try w.run(["--ping-url", "http://127.0.0.1:\(closed.port)/hc"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("projector: healthcheck ping failed"), "\(outcome.stderr)")
        #expect(try w.scalar("SELECT sum(n) FROM counts") == 3)
    }
}
