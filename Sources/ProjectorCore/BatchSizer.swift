/// Chooses how many events the next batch (one transaction) takes, so a transaction stays near
/// the time target without letting fixed per-batch costs take over.
///
/// It fits `time = fixed + perEvent × events` on the last two batches. When the fixed part alone
/// (refreshes that cost the same whatever the batch holds) exceeds the target, no batch size can
/// meet it, and smaller batches would only repeat that cost more often: it then takes the largest
/// batch allowed.
public struct BatchSizer: Sendable {
    public let maxEvents: Int
    public let minEvents: Int
    /// Target duration of one transaction, in seconds.
    public let target: Double
    public private(set) var size: Int
    private var last: (events: Int, seconds: Double)?

    public init(maxEvents: Int, target: Double, initial: Int = 1000, minEvents: Int = 100) {
        self.maxEvents = max(1, maxEvents)
        self.minEvents = min(minEvents, self.maxEvents)
        self.target = target
        size = min(self.maxEvents, max(self.minEvents, initial))
    }

    /// Records how long a batch of `events` took and updates `size`.
    public mutating func record(events: Int, seconds: Double) {
        defer { last = (events, seconds) }
        guard events > 0, seconds > 0 else { return }
        var perEvent = seconds / Double(events)
        var fixed = 0.0
        if let last, last.events != events {
            let slope = (seconds - last.seconds) / Double(events - last.events)
            if slope > 0 {
                perEvent = slope
                fixed = max(0, seconds - slope * Double(events))
            }
        }
        if fixed >= target * 0.8 {
            size = maxEvents
            return
        }
        let fit = (target - fixed) / perEvent * 0.9
        let next = fit.isFinite ? Int(min(fit, Double(maxEvents))) : maxEvents
        // Grow at most fourfold per batch so one fast batch does not overshoot.
        size = max(minEvents, min(maxEvents, min(next, size * 4)))
    }
}
