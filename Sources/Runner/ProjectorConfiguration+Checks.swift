import Foundation
import PostgresStore
import ProjectorCore

extension ProjectorConfiguration {
    /// Everything wrong with the file's values, one `key.path: what is wrong` each. Secrets are not
    /// read here: only their sources are checked, so every command checks the same shape.
    func problems() -> [String] {
        var problems = unknownKeys
        for (key, value) in [("database", database), ("journal", journal), ("jobsDir", jobsDir)] where value == "" {
            problems.append("\(key): must not be empty")
        }
        for (name, path) in (attach ?? [:]).sorted(by: { $0.key < $1.key })
        where Attachment(argument: "\(name)=\(path)") == nil {
            problems.append("attach.\(name): expects a name of letters, digits and _ and a path (PATH or PATH:rw)")
        }
        if let budget = webhookBudgetSeconds, !(budget.isFinite && budget > 0) {
            problems.append("webhookBudgetSeconds: must be a positive number of seconds (got \(budget))")
        }
        if let hours = duplicateWindowHours, !(hours.isFinite && hours >= 0) {
            problems.append("duplicateWindowHours: must be a number of hours, 0 or more (got \(hours))")
        }
        if let events = duplicateWindowEvents, events < 0 {
            problems.append("duplicateWindowEvents: must be a number of events, 0 or more (got \(events))")
        }
        if let days = retentionDays, !(days.isFinite && days > 0) {
            problems.append("retentionDays: must be a positive number of days (got \(days))")
        }
        if let depth = postgresPipelineDepth, depth < 1 {
            problems.append("postgresPipelineDepth: must be a number of statements, 1 or more (got \(depth))")
        }
        if let schema = postgresSchema, let problem = PGRunnerSchema.problem(with: schema) {
            problems.append("postgresSchema: \(problem)")
        }
        for (name, endpoint) in (webhooks ?? [:]).sorted(by: { $0.key < $1.key }) {
            problems += endpoint.unknownKeys
            problems += endpoint.problems().map { "webhooks.\(name)\($0)" }
        }
        return problems
    }
}

extension ProjectorConfiguration.EndpointConfiguration {
    /// Problems of one endpoint, each starting with the rest of its key path (`.maxAttempts: …`).
    func problems() -> [String] {
        var problems: [String] = []
        if secret != nil {
            problems.append(
                ".secret: a secret in the file is not allowed; use secretEnv, secretFile or secretCredential")
        }
        let lower = url.lowercased()
        if !(lower.hasPrefix("https://") || (lower.hasPrefix("http://") && allowHTTP == true)) {
            problems.append(
                lower.hasPrefix("http://")
                    ? ".url: plain http; use https, or set allowHTTP for a local receiver"
                    : ".url: must start with https://")
        } else if URLComponents(string: url)?.host?.isEmpty ?? true {
            problems.append(".url: '\(url)' has no host")
        }
        let sources = [("secretEnv", secretEnv), ("secretFile", secretFile), ("secretCredential", secretCredential)]
            .filter { $0.1 != nil }
        switch sources.count {
        case 0: problems.append(": no secret; set one of secretEnv, secretFile or secretCredential")
        case 1: break
        default:
            problems.append(
                ": \(sources.map(\.0).joined(separator: " and ")) are both set; give exactly one secret source")
        }
        for (key, value) in sources where value?.isEmpty ?? false {
            problems.append(".\(key): must not be empty")
        }
        if let credential = secretCredential, credential.contains("/") || credential == "." || credential == ".." {
            problems.append(".secretCredential: must be a credential name (LoadCredential=NAME:…), not a path")
        }
        for (index, job) in (jobs ?? []).enumerated() where job.isEmpty {
            problems.append(".jobs[\(index)]: must be a job name or \"*\"")
        }
        for (key, value) in [("timeoutSeconds", timeoutSeconds), ("connectTimeoutSeconds", connectTimeoutSeconds)] {
            if let value, !(value.isFinite && value > 0) {
                problems.append(".\(key): must be a positive number of seconds (got \(value))")
            }
        }
        if let maxAttempts, maxAttempts < 1 {
            problems.append(".maxAttempts: must be at least 1 (got \(maxAttempts))")
        }
        if let schedule {
            if schedule.isEmpty { problems.append(".schedule: must list at least one delay in seconds") }
            for (index, delay) in schedule.enumerated() where !(delay.isFinite && delay > 0) {
                problems.append(".schedule[\(index)]: must be a positive number of seconds (got \(delay))")
            }
        }
        return problems
    }
}
