import ProjectorCore
import SQLiteStore
import TestSupport

/// A runner store on a real SQLite file in a fresh directory, its tables created.
struct OperatorStoreFixture {
    let dir = TemporaryDirectory("projector-operator-store")
    let store: RunnerStore

    var path: String { dir.file("p.db") }

    init() throws {
        store = try RunnerStore.open(path: dir.file("p.db"), options: Database.Options())
        try store.transaction { () throws(StoreError) in try store.createSchema() }
    }

    /// Another connection to the same file, read-only.
    func reader() throws -> RunnerStore {
        var options = Database.Options()
        options.readOnly = true
        return try RunnerStore.open(path: path, options: options)
    }

    func failure(_ job: String, _ key: String, _ state: FailureState, first: Int, attempts: Int = 1) -> FailureRecord {
        FailureRecord(
            job: job, key: key, state: state, attempts: attempts, firstPosition: first, lastPosition: first + 10,
            error: "boom \(key)", nextAttemptAt: 100)
    }
}
