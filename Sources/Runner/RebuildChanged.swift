public import Logging

/// `run --rebuild-changed`: before the run, rebuilds the selected jobs whose definition changed
/// since their checkpoint (so their read model matches the new SQL instead of mixing both).
public enum RebuildChanged {
    public static func execute(options: RunOptions, logger: Logger) throws(RunError) -> [Rebuild.Report] {
        let changed = try StatusReport.load(options: options).jobs.filter {
            $0.fingerprintChanged && (options.selectedJobs?.contains($0.name) ?? true)
        }.map(\.name)
        return try Rebuild(options: options, logger: logger).execute(jobs: changed)
    }
}
