/// What a job's completion notification reports (SPEC §5), and its JSON body.
public struct Notification: Sendable, Equatable {
    public var job: String
    public var runID: Int
    public var fromPosition: Int
    public var toPosition: Int
    public var events: Int
    public var keys: [String]
    /// Distinct keys refreshed or applied; when `truncated`, more than `keys` lists.
    public var keysTotal: Int
    /// Whether more keys were touched than the notification lists.
    public var truncated: Bool
    public var failures: Int
    /// Epoch seconds when the notification was committed.
    public var timestamp: Double
    public var type: String

    public init(
        job: String, runID: Int, fromPosition: Int, toPosition: Int, events: Int, keys: [String], keysTotal: Int,
        failures: Int, truncated: Bool = false, timestamp: Double, type: String = "projection.refreshed"
    ) {
        self.truncated = truncated || keys.count > Self.keysCap
        self.job = job
        self.runID = runID
        self.fromPosition = fromPosition
        self.toPosition = toPosition
        self.events = events
        self.keys = keys
        self.keysTotal = keysTotal
        self.failures = failures
        self.timestamp = timestamp
        self.type = type
    }

    public static let keysCap = 1000

    /// A new notification id: `prefix` and 24 random letters and digits (never a `.`). Ids made in
    /// the same second differ, so a consumer that drops repeated `webhook-id`s never drops a new one.
    public static func newID(prefix: String = "msg_") -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return prefix
            + String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
