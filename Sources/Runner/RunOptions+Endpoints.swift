public import ProjectorCore
import Webhooks

extension RunOptions {
    /// Checks that every job an endpoint lists under `jobs` exists ("*" stands for every job), so a
    /// misspelt name cannot silently leave a consumer without notifications.
    public func checkEndpointJobs(_ catalog: JobCatalog) throws(RunError) {
        let names = catalog.jobs.map(\.name)
        var problems: [String] = []
        for endpoint in endpoints {
            for job in endpoint.jobs.sorted() where job != "*" && !names.contains(job) {
                let hint =
                    ConfigurationKeys.closest(to: job, among: names).map { " (did you mean '\($0)'?)" }
                    ?? "; jobs are: " + names.joined(separator: ", ") + ", or \"*\" for all"
                let file = configurationPath.map { "\($0): " } ?? ""
                problems.append(
                    "\(file)webhooks.\(endpoint.name).jobs: no job '\(job)' in \(jobsDirectory)\(hint)")
            }
        }
        if !problems.isEmpty { throw .configuration(problems.joined(separator: "\n")) }
    }
}
