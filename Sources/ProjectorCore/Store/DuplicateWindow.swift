/// How long the ids of events that apply jobs handled are remembered, so that an event appended
/// twice (an API retry) is applied once. An id is forgotten once it is both older than `seconds`
/// of `occurredAt` (measured from the latest `occurredAt` recorded) and not among the last
/// `events` ids recorded; a duplicate of a forgotten id is applied again.
public struct DuplicateWindow: Sendable, Equatable {
    /// Seconds of `occurredAt` behind the latest one recorded.
    public var seconds: Double
    /// How many of the latest recorded ids are kept whatever their `occurredAt`.
    public var events: Int

    public init(seconds: Double, events: Int) {
        self.seconds = seconds
        self.events = events
    }

    /// 24 hours and the last 100,000 ids: retries come minutes apart, not days.
    public static let `default` = DuplicateWindow(seconds: 86_400, events: 100_000)
}

/// What the de-duplication table holds, for `status`.
public struct DuplicateWindowStatus: Sendable, Equatable {
    /// Ids remembered now (some may be past the window, waiting to be pruned).
    public var ids: Int
    /// Ids recorded since the table was created (or upgraded).
    public var recorded: Int
    /// The journal position from which every recorded id is remembered (0: all of them).
    public var fromPosition: Int
    /// The `occurredAt` (epoch seconds) at which the remembered ids start, when known.
    public var since: Double?

    public init(ids: Int, recorded: Int, fromPosition: Int, since: Double?) {
        self.ids = ids
        self.recorded = recorded
        self.fromPosition = fromPosition
        self.since = since
    }
}
