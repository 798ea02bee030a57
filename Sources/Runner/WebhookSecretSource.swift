import Foundation
public import Webhooks

/// Where an endpoint's signing secret comes from. It is read only by commands that sign a
/// request, so on-call commands (`status`, `failures`, `verify`, `journal`) need no secret.
public enum WebhookSecretSource: Sendable, Equatable, CustomStringConvertible {
    /// `secretEnv`: an environment variable.
    case environment(String)
    /// `secretFile`: a file (relative paths resolve against the configuration file's directory).
    case file(String)
    /// `secretCredential`: a file of systemd's `$CREDENTIALS_DIRECTORY` (`LoadCredential=`).
    case credential(String)

    /// Why a secret could not be used. Never contains the secret.
    public enum Problem: Error, Sendable, CustomStringConvertible {
        /// Not there in this environment (unset variable, unreadable file, no credentials directory).
        case unavailable(String)
        /// There, but not a valid secret.
        case invalid(WebhookSecret.Problem)

        public var description: String {
            switch self {
            case .unavailable(let message): return message
            case .invalid(let problem): return "invalid secret: \(problem)"
            }
        }
    }

    public var description: String {
        switch self {
        case .environment(let variable): return "environment variable \(variable) (secretEnv)"
        case .file(let path): return "secretFile \(path)"
        case .credential(let name): return "credential \(name) (secretCredential)"
        }
    }

    /// Reads and parses the secret(s); several separated by spaces all sign (rotation).
    public func read(environment: [String: String]) throws(Problem) -> [WebhookSecret] {
        let text: String
        switch self {
        case .environment(let variable):
            guard let value = environment[variable], !value.isEmpty else {
                throw .unavailable("environment variable \(variable) (secretEnv) is not set")
            }
            text = value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .unavailable(
                    "cannot read secretFile \(path): " + (ConfigurationKeys.unreadable(path) ?? "no such file"))
            }
            text = String(decoding: data, as: UTF8.self)
        case .credential(let name):
            guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else {
                throw .unavailable(
                    "credential \(name) (secretCredential) needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)")
            }
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw .unavailable(
                    "cannot read credential \(name) in $CREDENTIALS_DIRECTORY (LoadCredential=\(name):…)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        do {
            return try WebhookSecret.list(text)
        } catch {
            throw .invalid(error)
        }
    }
}
