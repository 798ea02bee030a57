/// The set of jobs of a run, checked as a whole and ordered so that every job runs after the jobs
/// it names under `after:`.
public struct JobCatalog: Sendable {
    /// Jobs in dependency order (ties broken by name, so the order is stable).
    public let jobs: [JobDefinition]

    public init(_ definitions: [JobDefinition]) throws(JobFileErrors) {
        var errors: [JobFileError] = []
        var byName: [String: JobDefinition] = [:]
        for job in definitions {
            if let other = byName[job.name] {
                errors.append(
                    JobFileError(file: job.file, line: 1, message: "job '\(job.name)' is also defined in \(other.file)")
                )
            }
            byName[job.name] = job
        }
        for job in definitions {
            for dependency in job.after where byName[dependency] == nil {
                errors.append(
                    JobFileError(
                        file: job.file, line: job.line(ofAfter: dependency),
                        message: "'after:' names '\(dependency)', which is not a job")
                )
            }
        }
        guard errors.isEmpty else { throw JobFileErrors(errors) }

        var ordered: [JobDefinition] = []
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var cycle: [String]?
        func visit(_ name: String, _ path: [String]) {
            if cycle != nil || state[name] == 2 { return }
            if state[name] == 1 {
                cycle = Array(path.drop { $0 != name }) + [name]
                return
            }
            state[name] = 1
            for dependency in (byName[name]?.after ?? []).sorted() { visit(dependency, path + [name]) }
            state[name] = 2
            if let job = byName[name] { ordered.append(job) }
        }
        for name in byName.keys.sorted() { visit(name, []) }
        if let cycle, let first = byName[cycle[0]] {
            // Reported where the first job of the cycle names the next one.
            throw JobFileErrors([
                JobFileError(
                    file: first.file, line: first.line(ofAfter: cycle.count > 1 ? cycle[1] : cycle[0]),
                    message: "'after:' forms a cycle: " + cycle.joined(separator: " → "))
            ])
        }
        self.jobs = ordered
    }

    public subscript(name: String) -> JobDefinition? { jobs.first { $0.name == name } }

    /// Keeps only the named jobs (in dependency order); unknown names are returned as errors.
    public func selecting(_ names: [String]) -> (JobCatalog, unknown: [String]) {
        let unknown = names.filter { self[$0] == nil }
        var copy = self
        copy.replace(jobs.filter { names.contains($0.name) })
        return (copy, unknown)
    }

    private mutating func replace(_ jobs: [JobDefinition]) {
        self = JobCatalog(ordered: jobs)
    }

    private init(ordered: [JobDefinition]) { self.jobs = ordered }
}

extension JobCatalog {
    /// The named jobs and every job they depend on through `after:`, transitively: a dependent job
    /// reads its upstream jobs' tables, so running it alone would compute from stale rows.
    public func closingOverUpstreams(_ names: [String]) -> [String] {
        var wanted = Set(names)
        var pending = names
        while let name = pending.popLast() {
            for dependency in self[name]?.after ?? [] where wanted.insert(dependency).inserted {
                pending.append(dependency)
            }
        }
        return jobs.map(\.name).filter { wanted.contains($0) }
    }

    /// The jobs that `name` depends on through `after:`, transitively.
    public func upstreams(of name: String) -> Set<String> {
        var found: Set<String> = []
        var pending = self[name]?.after ?? []
        while let next = pending.popLast() {
            if found.insert(next).inserted { pending += self[next]?.after ?? [] }
        }
        return found
    }
}
