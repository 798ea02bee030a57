import Foundation
public import ProjectorCore
public import Webhooks

/// The configuration file (JSON): where things are, and the webhook endpoints. Flags and
/// `PROJECTOR_*` variables override the paths; secrets never live in the file itself.
///
/// ```json
/// {
///   "database": "read.db", "journal": "journal", "jobsDir": "jobs", "attach": {"app": "qahub.db"},
///   "webhooks": {
///     "qa-dashboard": {"url": "https://dash.example/hooks", "secretEnv": "QA_DASHBOARD_SECRET",
///                      "jobs": ["test_runs_view"], "timeoutSeconds": 10, "maxAttempts": 10}
///   },
///   "webhookBudgetSeconds": 15, "retentionDays": 30,
///   "duplicateWindowHours": 24, "duplicateWindowEvents": 100000
/// }
/// ```
///
/// Loading is strict: malformed JSON is reported with its line and column, and an unknown key, a
/// value out of range or an endpoint without exactly one secret source with its key path, so a
/// typo never silently falls back to a default.
public struct ProjectorConfiguration: Decodable, Sendable {
    public var database: String?
    public var journal: String?
    public var jobsDir: String?
    public var attach: [String: String]?
    public var webhooks: [String: EndpointConfiguration]?
    public var webhookBudgetSeconds: Double?
    /// The de-duplication window (`DuplicateWindow`): hours of `occurredAt` and a number of events.
    public var duplicateWindowHours: Double?
    public var duplicateWindowEvents: Int?
    /// How many days runs and delivered notifications are kept (30 when absent).
    public var retentionDays: Double?
    /// On PostgreSQL, how many statements an optimistic batch sends per round trip (1000 when
    /// absent; 1 sends each statement on its own, as without pipelining).
    public var postgresPipelineDepth: Int?
    /// On PostgreSQL, the schema of the runner's tables ("projector" when absent).
    public var postgresSchema: String?
    /// The directory relative paths in the file resolve against ("" for the working directory).
    public var directory = ""
    /// Keys of the file's top-level object that mean nothing here.
    var unknownKeys: [String] = []

    public struct EndpointConfiguration: Decodable, Sendable {
        public var url: String
        public var secretEnv: String?
        public var secretFile: String?
        public var secretCredential: String?
        /// Refused: a secret written into the file would end up in git.
        public var secret: String?
        public var jobs: [String]?
        public var timeoutSeconds: Double?
        public var connectTimeoutSeconds: Double?
        public var maxAttempts: Int?
        public var schedule: [Double]?
        public var allowHTTP: Bool?
        var unknownKeys: [String] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case url, secretEnv, secretFile, secretCredential, secret, jobs, timeoutSeconds, connectTimeoutSeconds,
                maxAttempts, schedule, allowHTTP
        }

        public init(from decoder: any Decoder) throws {
            unknownKeys = try ConfigurationKeys.unknown(in: decoder, known: CodingKeys.allCases)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = try c.decode(String.self, forKey: .url)
            secretEnv = try c.decodeIfPresent(String.self, forKey: .secretEnv)
            secretFile = try c.decodeIfPresent(String.self, forKey: .secretFile)
            secretCredential = try c.decodeIfPresent(String.self, forKey: .secretCredential)
            secret = try c.decodeIfPresent(String.self, forKey: .secret)
            jobs = try c.decodeIfPresent([String].self, forKey: .jobs)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds)
            connectTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .connectTimeoutSeconds)
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts)
            schedule = try c.decodeIfPresent([Double].self, forKey: .schedule)
            allowHTTP = try c.decodeIfPresent(Bool.self, forKey: .allowHTTP)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case database, journal, jobsDir, attach, webhooks, webhookBudgetSeconds, duplicateWindowHours,
            duplicateWindowEvents, retentionDays, postgresPipelineDepth, postgresSchema
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        unknownKeys = try ConfigurationKeys.unknown(in: decoder, known: CodingKeys.allCases)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        database = try c.decodeIfPresent(String.self, forKey: .database)
        journal = try c.decodeIfPresent(String.self, forKey: .journal)
        jobsDir = try c.decodeIfPresent(String.self, forKey: .jobsDir)
        attach = try c.decodeIfPresent([String: String].self, forKey: .attach)
        webhooks = try c.decodeIfPresent([String: EndpointConfiguration].self, forKey: .webhooks)
        webhookBudgetSeconds = try c.decodeIfPresent(Double.self, forKey: .webhookBudgetSeconds)
        duplicateWindowHours = try c.decodeIfPresent(Double.self, forKey: .duplicateWindowHours)
        duplicateWindowEvents = try c.decodeIfPresent(Int.self, forKey: .duplicateWindowEvents)
        retentionDays = try c.decodeIfPresent(Double.self, forKey: .retentionDays)
        postgresPipelineDepth = try c.decodeIfPresent(Int.self, forKey: .postgresPipelineDepth)
        postgresSchema = try c.decodeIfPresent(String.self, forKey: .postgresSchema)
    }

    /// Reads and checks a configuration file; errors name the file and the line and column or the
    /// key path of every problem (exit 78).
    public static func load(path: String) throws(RunError) -> ProjectorConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            guard let reason = ConfigurationKeys.unreadable(path) else {
                throw .missingPath(what: "the configuration file", path: path)
            }
            throw .unreadable(what: "the configuration file", path: path, reason: reason)
        }
        if let problem = ConfigurationKeys.syntaxProblem(Array(data)) {
            throw .configuration("\(path):\(problem)")
        }
        let textProblems = ConfigurationText.problems(Array(data))
        guard textProblems.isEmpty else {
            throw .configuration(textProblems.map { "\(path):\($0)" }.joined(separator: "\n"))
        }
        var configuration: ProjectorConfiguration
        do {
            configuration = try JSONDecoder().decode(ProjectorConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .configuration("\(path): missing key '\(ConfigurationKeys.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(type, context) {
            throw .configuration(
                "\(path): \(ConfigurationKeys.path(context.codingPath)): must be \(ConfigurationKeys.name(of: type))")
        } catch let DecodingError.valueNotFound(type, context) {
            throw .configuration(
                "\(path): \(ConfigurationKeys.path(context.codingPath)): must be \(ConfigurationKeys.name(of: type)), "
                    + "not null (leave the key out for the default)")
        } catch let DecodingError.dataCorrupted(context) {
            throw .configuration("\(path): \(ConfigurationKeys.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw .configuration("\(path): \(error)")
        }
        let problems = configuration.problems()
        guard problems.isEmpty else {
            throw .configuration(problems.map { "\(path): \($0)" }.joined(separator: "\n"))
        }
        let directory = (path as NSString).deletingLastPathComponent
        configuration.directory = directory.isEmpty ? "" : directory + "/"
        return configuration
    }

    /// The de-duplication window the file sets, the default for what it leaves out.
    public var duplicateWindow: DuplicateWindow {
        DuplicateWindow(
            seconds: duplicateWindowHours.map { $0 * 3600 } ?? DuplicateWindow.default.seconds,
            events: duplicateWindowEvents ?? DuplicateWindow.default.events)
    }

    /// A path from the file: absolute as written, relative ones against the file's directory.
    public func resolve(_ path: String?) -> String? {
        guard let path else { return nil }
        return path.hasPrefix("/") ? path : directory + path
    }

    /// The journal: a path is resolved as `resolve` does, an events table (`postgres:TABLE`) is kept
    /// as written.
    public func resolveJournal(_ journal: String?) -> String? {
        guard let journal, !journal.hasPrefix(RunOptions.eventsTablePrefix) else { return journal }
        return resolve(journal)
    }

    /// The database: a path is resolved as `resolve` does, a PostgreSQL connection string (a URL or
    /// `dbname=…`) is kept as written.
    public func resolveDatabase(_ database: String?) -> String? {
        guard let database, RunOptions.postgresConnection(database) == nil else { return database }
        return resolve(database)
    }

    /// Where each endpoint's secret comes from, by endpoint name (checked by `load`).
    public var secretSources: [String: WebhookSecretSource] {
        var sources: [String: WebhookSecretSource] = [:]
        for (name, config) in webhooks ?? [:] {
            if let variable = config.secretEnv {
                sources[name] = .environment(variable)
            } else if let file = config.secretFile {
                sources[name] = .file(resolve(file) ?? file)
            } else if let credential = config.secretCredential {
                sources[name] = .credential(credential)
            }
        }
        return sources
    }

    /// The configured endpoints. Only those `signing` names (`nil`: all) get their secret read from
    /// the environment, a file or systemd's credentials directory; the others carry none, so
    /// commands that never sign a request run without access to any secret. Errors name the
    /// endpoint and where its secret should come from, never the secret.
    public func endpoints(environment: [String: String], signing: Set<String>? = nil) throws(RunError)
        -> [WebhookEndpoint]
    {
        let sources = secretSources
        var result: [WebhookEndpoint] = []
        for (name, config) in (webhooks ?? [:]).sorted(by: { $0.key < $1.key }) {
            var secrets: [WebhookSecret] = []
            if signing?.contains(name) ?? true, let source = sources[name] {
                do {
                    secrets = try source.read(environment: environment)
                } catch {
                    throw .configuration("webhook endpoint '\(name)': \(error)")
                }
            }
            let policy = DeliveryPolicy(
                schedule: config.schedule ?? DeliveryPolicy().schedule, maxAttempts: config.maxAttempts ?? 10)
            result.append(
                WebhookEndpoint(
                    name: name, url: config.url, secrets: secrets, jobs: Set(config.jobs ?? []),
                    timeout: config.timeoutSeconds ?? 10, connectTimeout: config.connectTimeoutSeconds ?? 5,
                    policy: policy, allowHTTP: config.allowHTTP ?? false
                )
            )
        }
        return result
    }
}
