import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `failures list|retry` on the runner's failure tables.
@Suite struct FailureAdministrationTests {
    /// totals: b (apply, parked at 20, two held events), a (apply, dead at 30); counts: c (refresh, dead at 5).
    static func fixture() throws -> OperatorStoreFixture {
        let f = try OperatorStoreFixture()
        try f.store.transaction { () throws(StoreError) in
            try f.store.saveFailure(f.failure("totals", "a", .dead, first: 30, attempts: 5), mode: .apply, now: 7)
            try f.store.saveFailure(f.failure("totals", "b", .parked, first: 20), mode: .apply, now: 8)
            try f.store.saveFailure(f.failure("counts", "c", .dead, first: 5, attempts: 5), mode: .refresh, now: 9)
            try f.store.hold(
                FailureKey(job: "totals", key: "b"),
                events: [HeldEvent(position: 20, length: 10), HeldEvent(position: 40, length: 10)])
        }
        return f
    }

    @Test func failuresAreListedByJobThenFirstPositionWithTheirHeldEvents() throws {
        let f = try Self.fixture()
        let listed = try f.store.failures(matching: FailureFilter())
        #expect(listed.map { "\($0.failure.job)/\($0.failure.key)" } == ["counts/c", "totals/b", "totals/a"])
        let b = try #require(listed.first { $0.failure.key == "b" })
        #expect(b.heldEvents == 2)
        #expect(b.mode == .apply)
        #expect(b.failure.state == .parked)
        #expect(b.failure.firstPosition == 20 && b.failure.lastPosition == 30)
        #expect(b.lastFailedAt == 8)
        #expect(listed.first?.mode == .refresh)
        #expect(listed.first?.heldEvents == 0)
    }

    @Test func aFilterNarrowsByJobKeyAndState() throws {
        let f = try Self.fixture()
        func keys(_ filter: FailureFilter) throws -> [String] {
            try f.store.failures(matching: filter).map(\.failure.key)
        }
        #expect(try keys(FailureFilter(job: "totals")) == ["b", "a"])
        #expect(try keys(FailureFilter(state: .dead)) == ["c", "a"])
        #expect(try keys(FailureFilter(job: "totals", state: .dead)) == ["a"])
        #expect(try keys(FailureFilter(key: "c")) == ["c"])
        #expect(try keys(FailureFilter(job: "nope")) == [])
    }

    @Test func retryMakesFailuresDueWithFreshAttemptsParkedForApplyRetryingForRefresh() throws {
        let f = try Self.fixture()
        #expect(try f.store.retryFailures(matching: FailureFilter(state: .dead), now: 500) == 2)
        let listed = try f.reader().failures(matching: FailureFilter())
        let byKey = Dictionary(uniqueKeysWithValues: listed.map { ($0.failure.key, $0.failure) })
        #expect(byKey["a"]?.state == .parked)
        #expect(byKey["c"]?.state == .retrying)
        #expect(byKey["a"]?.attempts == 0 && byKey["c"]?.attempts == 0)
        #expect(byKey["a"]?.nextAttemptAt == 500 && byKey["c"]?.nextAttemptAt == 500)
        #expect(byKey["b"]?.attempts == 1 && byKey["b"]?.nextAttemptAt == 100, "b was not dead: untouched")
    }

    @Test func retryOfAKeyThatDoesNotFailCountsNothing() throws {
        let f = try Self.fixture()
        #expect(try f.store.retryFailures(matching: FailureFilter(job: "totals", key: "zz"), now: 500) == 0)
    }

    @Test func theOldestHeldEventIsWhatPruneMustKeep() throws {
        let f = try OperatorStoreFixture()
        #expect(try f.store.oldestHeldEventPosition() == nil)
        try f.store.hold(FailureKey(job: "j", key: "k"), events: [HeldEvent(position: 70, length: 5)])
        try f.store.hold(FailureKey(job: "j", key: "l"), events: [HeldEvent(position: 45, length: 5)])
        #expect(try f.reader().oldestHeldEventPosition() == 45)
    }
}
