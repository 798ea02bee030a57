import Foundation
import Logging
import Runner
import SQLiteStore
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

/// `Watch` under a real `ServiceGroup`, on real files: the group's graceful shutdown reaches the
/// blocking run, which commits the batch in flight and stops there.
@Suite struct WatchTests {
    /// What the watch told, and the group once it exists (the run's callbacks need it).
    final class Observed: Sendable {
        let reports = Mutex<[RunReport]>([])
        let group = Mutex<ServiceGroup?>(nil)
        let firstBatchEvents = Atomic<Int>(0)

        var count: Int { reports.withLock { $0.count } }
        var events: Int { reports.withLock { $0.reduce(0) { $0 + $1.events } } }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func group(_ watch: Watch) -> ServiceGroup {
        ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: watch, successTerminationBehavior: .gracefullyShutdownGroup)],
                logger: quietLogger))
    }

    /// Polls `condition` on the cooperative pool, for at most 60 s (to end a hang only).
    /// Waits for `condition`. The deadline only catches a hang: on a 2-core machine the other
    /// suites' blocking tests can hold the cooperative pool that the watch resumes on until they
    /// end, so the wait can be as long as the whole test run.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(600)
        while !condition() && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return condition()
    }

    @Test func aGracefulShutdownDuringARunCommitsTheBatchInFlightAndStopsThere() async throws {
        // Given a watch whose first run has 50 events to do in batches of 10
        let f = try Fixture(jobs: ["count": Workspace.job])
        try f.workspace.append(50)
        let observed = Observed()
        let stop = StopRequest()
        var options = f.options
        options.batchEvents = 10
        options.progress = { progress in
            // When the group asks for a graceful shutdown right after the first batch committed
            guard
                observed.firstBatchEvents.compareExchange(expected: 0, desired: progress.events, ordering: .relaxed)
                    .exchanged
            else { return }
            let group = observed.group.withLock { $0 }
            Task { await group?.triggerGracefulShutdown() }
            let deadline = Date().addingTimeInterval(600)
            while !stop.isRequested && Date() < deadline { usleep(1000) }
        }
        let watch = Watch(options: options, logger: Self.quietLogger, cycle: RunCycle(), stop: stop) { report in
            observed.reports.withLock { $0.append(report) }
        }
        let group = Self.group(watch)
        observed.group.withLock { $0 = group }
        try await group.run()

        // Then that batch is committed, the run stopped after it, and the watch returned
        let first = observed.firstBatchEvents.load(ordering: .relaxed)
        #expect(first > 0 && first < 50)
        let reports = observed.reports.withLock { $0 }
        #expect(reports.map(\.events) == [first])
        #expect(reports.first?.stoppedEarly == true)
        #expect(try f.scalar("SELECT sum(n) FROM counts") == first)
        // and the lock is free again: the next run does the rest, each event once
        let rest = try f.run()
        #expect(rest.events == 50 - first)
        #expect(try f.scalar("SELECT sum(n) FROM counts") == 50)
    }

    @Test func aWatchRunsWhenTheJournalGrowsUntilTheGroupShutsDown() async throws {
        // Given a watch over a journal with 20 events
        let f = try Fixture(jobs: ["count": Workspace.job])
        try f.workspace.append(20)
        let observed = Observed()
        let watch = Watch(options: f.options, logger: Self.quietLogger, cycle: RunCycle()) { report in
            observed.reports.withLock { $0.append(report) }
        }
        let group = Self.group(watch)
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            #expect(await Self.eventually { observed.events == 20 })
            // When 30 more are appended
            try f.workspace.append(30, start: 20)
            #expect(await Self.eventually { observed.events == 50 })
            // and the group shuts down
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // Then every event was applied once, by runs that each reported their work
        #expect(try f.scalar("SELECT sum(n) FROM counts") == 50)
        #expect(observed.reports.withLock { $0.allSatisfy { $0.events > 0 } })
        #expect(observed.count >= 2)
    }

    @Test func anIdleWatchKeepsOneRunRowThatSaysWhenItLastLooked() async throws {
        // Given a watch that looks every 20 ms, over a journal with 20 events
        let f = try Fixture(jobs: ["count": Workspace.job])
        try f.workspace.append(20)
        let observed = Observed()
        let looks = Atomic<Int>(0)
        var cycle = RunCycle()
        cycle.ended = { looks.add(1, ordering: .relaxed) }
        var watch = Watch(options: f.options, logger: Self.quietLogger, cycle: cycle) { report in
            observed.reports.withLock { $0.append(report) }
        }
        watch.idleInterval = 0.02
        let group = Self.group(watch)
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            // When it did the work and then looked at least 10 more times
            #expect(await Self.eventually { observed.events == 20 })
            let worked = looks.load(ordering: .relaxed)
            #expect(await Self.eventually { looks.load(ordering: .relaxed) >= worked + 10 })
            // and 5 more events come, and it looks 10 more times
            try f.workspace.append(5, start: 20)
            #expect(await Self.eventually { observed.events == 25 })
            let workedAgain = looks.load(ordering: .relaxed)
            #expect(await Self.eventually { looks.load(ordering: .relaxed) >= workedAgain + 10 })
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // Then each stretch of idle looks is one row, which holds the time of its latest look
        #expect(
            try f.rows("SELECT events, outcome FROM projector_runs ORDER BY id")
                == [["20", "ok"], ["0", "idle"], ["5", "ok"], ["0", "idle"]])
        let times = try f.db().rows("SELECT started_at, finished_at FROM projector_runs ORDER BY id").map {
            ($0[0].double ?? 0, $0[1].double ?? 0)
        }
        #expect(times[1].0 > times[0].1 + 0.1)
        #expect(times[3].0 > times[2].1 + 0.1)
        #expect(times.allSatisfy { $0.1 >= $0.0 })
        #expect(looks.load(ordering: .relaxed) >= 22)
    }

    @Test func aWatchThatCannotTakeTheLockEndsTheGroupWithTheRunError() async throws {
        // Given another holder of the run lock
        let f = try Fixture(jobs: ["count": Workspace.job])
        let holder = try RunLock(options: f.options, logger: Self.quietLogger)
        let watch = Watch(options: f.options, logger: Self.quietLogger, cycle: RunCycle()) { _ in }
        // Then the group ends with the run's own error (75 for the executable), not a group error
        await #expect {
            try await Self.group(watch).run()
        } throws: { error in
            guard let error = error as? RunError, case .lockHeld = error else { return false }
            return true
        }
        withExtendedLifetime(holder) {}
    }
}
