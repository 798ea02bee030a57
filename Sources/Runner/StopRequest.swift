import Synchronization

/// "Stop after the batch in flight", set from any thread (a graceful shutdown, a cancelled task)
/// and read by a blocking run through `RunOptions.shouldStop`.
public final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .relaxed) }

    public var isRequested: Bool { requested.load(ordering: .relaxed) }
}
