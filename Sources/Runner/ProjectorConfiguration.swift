import Foundation
import ProjectorCore
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
///   "webhookBudgetSeconds": 15
/// }
/// ```
public struct ProjectorConfiguration: Decodable, Sendable {
    public var database: String?
    public var journal: String?
    public var jobsDir: String?
    public var attach: [String: String]?
    public var webhooks: [String: EndpointConfiguration]?
    public var webhookBudgetSeconds: Double?

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
    }

    public init() {}

    /// Reads a configuration file; errors name the file and what is wrong (exit 78).
    public static func load(path: String) throws(RunError) -> ProjectorConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .missingPath(what: "the configuration file", path: path)
        }
        do {
            return try JSONDecoder().decode(ProjectorConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .configuration("\(path): missing key '\(Self.path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .configuration("\(path): wrong type at '\(Self.path(context.codingPath))'")
        } catch let DecodingError.dataCorrupted(context) {
            throw .configuration(
                "\(path): not valid JSON \(Self.path(context.codingPath)) — \(context.debugDescription)")
        } catch {
            throw .configuration("\(path): \(error)")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Resolves every endpoint: reads its secrets from the environment, a file or systemd's
    /// credentials directory, and checks them. Errors name the endpoint, never the secret.
    public func endpoints(environment: [String: String]) throws(RunError) -> [WebhookEndpoint] {
        var result: [WebhookEndpoint] = []
        for (name, config) in (webhooks ?? [:]).sorted(by: { $0.key < $1.key }) {
            func fail(_ message: String) -> RunError { .configuration("webhook endpoint '\(name)': \(message)") }
            if config.secret != nil {
                throw fail("inline 'secret' is not allowed; use secretEnv, secretFile or secretCredential")
            }
            let lower = config.url.lowercased()
            guard lower.hasPrefix("https://") || (lower.hasPrefix("http://") && config.allowHTTP == true) else {
                throw fail(
                    lower.hasPrefix("http://")
                        ? "plain http URL; use https, or set allowHTTP for a local receiver"
                        : "URL must start with https://")
            }
            let text: String
            if let variable = config.secretEnv {
                guard let value = environment[variable], !value.isEmpty else {
                    throw fail("environment variable \(variable) (secretEnv) is not set")
                }
                text = value
            } else if let file = config.secretFile {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw fail("cannot read secretFile \(file)")
                }
                text = String(decoding: data, as: UTF8.self)
            } else if let credential = config.secretCredential {
                guard let directory = environment["CREDENTIALS_DIRECTORY"] else {
                    throw fail("secretCredential needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)")
                }
                guard let data = FileManager.default.contents(atPath: directory + "/" + credential) else {
                    throw fail("cannot read credential \(credential)")
                }
                text = String(decoding: data, as: UTF8.self)
            } else {
                throw fail("no secret: set secretEnv, secretFile or secretCredential")
            }
            let secrets: [WebhookSecret]
            do {
                secrets = try WebhookSecret.list(text)
            } catch {
                throw fail("invalid secret: \(error)")
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
