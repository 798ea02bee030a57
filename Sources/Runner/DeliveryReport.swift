/// What one round of webhook deliveries did.
public struct DeliveryReport: Codable, Sendable, Equatable {
    public var attempted = 0
    public var delivered = 0
    public var retrying = 0
    public var dead = 0
    public var disabled = 0
    /// Transfers still running when the delivery budget ran out (not counted as attempts).
    public var cutShort = 0
    public var seconds = 0.0

    public init() {}
}

extension DeliveryReport {
    /// Adds another round's counts (a watch on an events table delivers after each batch).
    mutating func add(_ other: DeliveryReport) {
        attempted += other.attempted
        delivered += other.delivered
        retrying += other.retrying
        dead += other.dead
        disabled += other.disabled
        cutShort += other.cutShort
        seconds += other.seconds
    }

    /// Takes away counts already reported.
    mutating func subtract(_ other: DeliveryReport) {
        attempted -= other.attempted
        delivered -= other.delivered
        retrying -= other.retrying
        dead -= other.dead
        disabled -= other.disabled
        cutShort -= other.cutShort
        seconds -= other.seconds
    }
}
