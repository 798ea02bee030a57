/// Answers "which jobs want this event type, and with which keys" once per distinct type.
///
/// Event types are few and repeat endlessly, so the answer is cached per type name.
public struct EventRouter: Sendable {
    public let jobs: [JobDefinition]
    private var cache: [String: [Route]] = [:]

    /// For one job: the key sources of every `on:` line matching the type (several lines may match).
    public struct Route: Sendable {
        public var job: Int
        public var keys: [KeySource]
    }

    public init(jobs: [JobDefinition]) {
        self.jobs = jobs
    }

    /// The jobs (by index into `jobs`) that listen to `type`, with their key sources.
    public mutating func routes(for type: String) -> [Route] {
        if let cached = cache[type] { return cached }
        var routes: [Route] = []
        for (index, job) in jobs.enumerated() {
            var keys: [KeySource] = []
            for subscription in job.subscriptions where subscription.matches(type) && !keys.contains(subscription.key) {
                keys.append(subscription.key)
            }
            if !keys.isEmpty { routes.append(Route(job: index, keys: keys)) }
        }
        cache[type] = routes
        return routes
    }
}
