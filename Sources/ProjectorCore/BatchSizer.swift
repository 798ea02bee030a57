/// Chooses how many events the next batch (one transaction) takes, so a transaction stays near
/// the time target without letting fixed per-batch costs take over.
///
/// It fits `time = fixed + perEvent × events` on the last two batches of different sizes and
/// keeps the fixed part it found while batches keep the same size (a batch as large as the last
/// one says nothing new about it). When the fixed part alone (refreshes that cost the same
/// whatever the batch holds) comes near the target, no batch size can meet it, and smaller
/// batches would only repeat that cost more often: it then takes as many events as keep their
/// own part within the fixed part, up to the largest batch allowed.
public struct BatchSizer: Sendable {
    public let maxEvents: Int
    public let minEvents: Int
    /// Target duration of one transaction, in seconds.
    public let target: Double
    public private(set) var size: Int
    private var last: (events: Int, seconds: Double)?
    /// The fixed part of the last fit, in seconds.
    private var fixed = 0.0

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
        var slope: Double?
        if let last, last.events != events {
            let fitted = (seconds - last.seconds) / Double(events - last.events)
            if fitted > 0 { slope = fitted }
        }
        if let slope {
            fixed = max(0, seconds - slope * Double(events))
        } else {
            // The same size again (or noise that made the slope negative): keep the fixed part
            // found before, within what this batch took, and give the rest to its events.
            fixed = min(fixed, seconds)
        }
        let perEvent = slope ?? (seconds - fixed) / Double(events)
        let fit: Double
        if fixed >= target * 0.8 {
            fit = perEvent > 0 ? fixed / perEvent : .infinity
        } else {
            fit = (target - fixed) / perEvent * 0.9
        }
        let next = fit.isFinite ? Int(min(fit, Double(maxEvents))) : maxEvents
        // Grow at most twentyfold per batch (from the 1,000-event first batch to 20,000 in one
        // step) so that one unusually fast batch does not overshoot; the fit on one batch already
        // errs small, counting its whole time as per-event cost.
        size = max(minEvents, min(maxEvents, min(next, size * 20)))
    }
}
