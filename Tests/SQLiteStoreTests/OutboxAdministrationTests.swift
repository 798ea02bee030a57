import ProjectorCore
import SQLiteStore
import TestSupport
import Testing

/// `webhooks list|retry` on the outbox: a typed filter, every value bound.
@Suite struct OutboxAdministrationTests {
    /// Outbox ids 1…6: endpoints a and b alternating; 2 and 5 dead, 4 disabled (endpoint b disabled), the rest pending.
    static func fixture() throws -> OperatorStoreFixture {
        let f = try OperatorStoreFixture()
        for id in 1...6 {
            try f.store.enqueue(
                messageID: "msg_\(id)", endpoint: id % 2 == 1 ? "a" : "b", job: "count", runID: 1,
                body: Array("{}".utf8),
                now: Double(id), state: .pending)
        }
        for id in [2, 5] {
            try f.store.recordAttempt(
                DeliveryAttempt(id: id, state: .dead, attempts: 3, at: 10, nextAttemptAt: 10, status: 500, error: nil))
        }
        try f.store.disableEndpoint("b", reason: "410 Gone", now: 11)
        return f
    }

    func ids(_ rows: [OutboxRow]) -> [Int] { rows.map(\.id) }

    @Test func noFilterListsEveryNotificationOldestFirst() throws {
        let f = try Self.fixture()
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter())) == [1, 2, 3, 4, 5, 6])
    }

    @Test func aStateFilterNewestFirstWithALimitListsWhatWebhooksListShows() throws {
        let f = try Self.fixture()
        let pending = try f.store.outboxRows(matching: OutboxFilter(states: [.pending], limit: 1, order: .newestFirst))
        #expect(ids(pending) == [3])
        #expect(pending.first?.state == .pending)
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(states: [.dead, .disabled]))) == [2, 4, 5, 6])
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(states: [.delivered]))) == [])
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(states: []))) == [])
    }

    @Test func idsAndStatesTogetherMatchBoth() throws {
        let f = try Self.fixture()
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(ids: [5, 1, 99]))) == [1, 5])
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(states: [.dead], ids: [1, 2, 3]))) == [2])
        #expect(ids(try f.store.outboxRows(matching: OutboxFilter(ids: []))) == [])
    }

    @Test func requeueMakesTheMatchingRowsPendingWithFreshAttemptsAndReenablesTheirEndpoints() throws {
        let f = try Self.fixture()
        #expect(try f.store.disabledEndpoints() == ["b"])
        let count = try f.store.transaction { () throws(StoreError) in
            try f.store.requeue(matching: OutboxFilter(states: [.dead, .disabled]), now: 50)
        }
        #expect(count == 4)
        let rows = try f.reader().outboxRows(matching: OutboxFilter(ids: [2, 4, 5, 6]))
        #expect(rows.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.nextAttemptAt == 50 })
        #expect(try f.store.disabledEndpoints().isEmpty)
        #expect(try f.store.dueDeliveries(now: 50, limit: 10).map(\.id) == [1, 2, 3, 4, 5, 6])
    }

    @Test func requeueByIdLeavesTheOthersAlone() throws {
        let f = try Self.fixture()
        #expect(try f.store.requeue(matching: OutboxFilter(ids: [5]), now: 50) == 1)
        let states = try f.store.outboxRows(matching: OutboxFilter()).map(\.state)
        #expect(states == [.pending, .dead, .pending, .disabled, .pending, .disabled])
        #expect(try f.store.disabledEndpoints() == ["b"], "endpoint a was never disabled; b stays disabled")
    }
}
