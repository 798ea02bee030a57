import Dispatch
import Synchronization

/// Waits, on the calling thread, for async work that runs on the concurrency pool: how the
/// synchronous command line runs `run --watch`'s service group.
enum Blocking {
    static func wait(_ work: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let result: Result<Void, any Error>
            do {
                try await work()
                result = .success(())
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }?.get()
    }
}
