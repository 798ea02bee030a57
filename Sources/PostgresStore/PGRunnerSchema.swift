import ProjectorCore

/// The schema of the runner's own tables (`projector` unless configured), and the names derived
/// from it: the scratch schemas of rebuilds and `verify --sample`, and the run lock's advisory key.
/// Two installations in one database with different schemas never share any of them.
public struct PGRunnerSchema: Sendable, Hashable, CustomStringConvertible {
    /// The schema's name, unquoted.
    public let name: String

    public static let standard = PGRunnerSchema(checked: "projector")

    /// The longest schema name: long enough to be a name, short enough that a job's scratch
    /// schemas (`<name>_rebuilding_<job>`) still fit PostgreSQL's 63-byte identifiers.
    public static let longestName = 32

    /// `name` when it is a plain lower-case identifier (letters, digits and `_`, not starting with
    /// a digit, at most `longestName` bytes, not PostgreSQL's own `pg_` prefix); nil otherwise.
    public init?(_ name: String) {
        guard Self.problem(with: name) == nil else { return nil }
        self.name = name
    }

    private init(checked name: String) { self.name = name }

    /// What is wrong with `name` as the runner's schema, in words for an error message.
    public static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return "must not be empty" }
        guard bytes.count <= longestName else { return "must be at most \(longestName) bytes (got \(bytes.count))" }
        guard isPlainName(name) else {
            return "must be lower-case letters, digits and _, not starting with a digit (got '\(name)')"
        }
        guard !name.hasPrefix("pg_") else { return "must not start with pg_ (PostgreSQL's own schemas)" }
        return nil
    }

    public var description: String { name }

    /// Whether `name` is a name SQL needs no quotes for: lower-case ASCII letters, digits and `_`,
    /// not starting with a digit (the schema's, an events table's and its schema's).
    static func isPlainName<S: StringProtocol>(_ name: S) -> Bool {
        guard let first = name.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// The schema a rebuild of `job` builds the job's tables in.
    public func rebuild(of job: String) -> String { "\(name)_rebuild_\(job)" }

    /// The schema holding the runner's tables of a rebuild of `job` (its checkpoint, failures).
    public func rebuilding(of job: String) -> String { "\(name)_rebuilding_\(job)" }

    /// The schema `verify --sample` recomputes `job`'s keys in (never committed).
    public func sample(of job: String) -> String { "\(name)_sample_\(job)" }

    /// The schema holding the key-by-key result while `verify` runs `job`'s batch refresh form.
    public func perKey(of job: String) -> String { "\(name)_per_key_\(job)" }

    /// The longest job name whose scratch schemas' names fit PostgreSQL's identifiers (63 bytes:
    /// a longer name would be cut, and two jobs could share a schema).
    public var longestScratchJobName: Int { 63 - rebuilding(of: "").utf8.count }

    /// The run lock's advisory lock keys: "proj" and a hash of the schema's name, so that runners
    /// of different schemas in one database do not exclude each other.
    public var runLockKeys: (Int32, Int32) {
        let hash = Fingerprint.fnv1a(Array("run \(name)".utf8))
        return (0x7072_6f6a, Int32(bitPattern: UInt32(truncatingIfNeeded: hash ^ (hash >> 32))))
    }
}
