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
