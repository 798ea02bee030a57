import ProjectorCore

/// A job during a command: its compiled statements, how far it got and what it did.
final class JobState {
    let compiled: any CompiledJobStatements
    var position: Int
    var report: JobReport
    /// Webhook endpoints notified of this job's work.
    let endpoints: [String]
    /// The jobs this one reads from (`after:`, transitively).
    let upstreams: Set<String>
    /// The fingerprint its checkpoints keep: the definition's, or, when the job changed since its
    /// read model was built, the stored one, so that `status` goes on saying a rebuild is due
    /// until one is done.
    var checkpointFingerprint: String
    var definition: JobDefinition { compiled.definition }
    var name: String { compiled.definition.name }

    init(compiled: any CompiledJobStatements, position: Int, endpoints: [String], upstreams: Set<String> = []) {
        self.compiled = compiled
        self.position = position
        self.endpoints = endpoints
        self.upstreams = upstreams
        checkpointFingerprint = compiled.definition.fingerprint
        report = JobReport(
            name: compiled.definition.name, mode: compiled.definition.mode.rawValue, fromPosition: position,
            toPosition: position
        )
    }

    /// Moves the job's position (and its report's range) to `position`.
    func start(at position: Int) {
        self.position = position
        report.fromPosition = position
        report.toPosition = position
    }

    /// The job's work in a batch or a retry, for its webhook notification (nil: it notifies no one).
    func work(from: Int, to: Int, events: Int, keys: [String], failures: Int) -> JobWork? {
        endpoints.isEmpty
            ? nil : JobWork(job: name, from: from, to: to, events: events, keys: keys, failures: failures)
    }
}
