/// What `projector run` tells the executable to show, as it happens.
public enum RunEvent: Sendable {
    /// `--rebuild-changed` rebuilt a job whose definition changed.
    case rebuilt(Rebuild.Report)
    /// A run ended: every one-shot run; under `--watch`, each run that did something.
    case finished(RunReport)
    /// A healthcheck ping failed (the run's outcome stays what it was).
    case pingFailed(String)
}
