/// The SQL a job file is written in: the database it runs against must speak it.
public enum SQLDialect: String, Sendable, Equatable {
    case sqlite
    case postgres

    /// How documentation and errors name it.
    public var displayName: String { self == .sqlite ? "SQLite" : "PostgreSQL" }
}

/// A projection job as declared by one SQL file in `jobs/` (SPEC §3).
public struct JobDefinition: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable {
        /// State-based: `@refresh` runs once per distinct key touched by a batch.
        case refresh
        /// Event-based: `@apply` runs once per event, in journal order within each key.
        case apply
    }

    public var name: String
    /// The file it came from, for `file:line` messages.
    public var file: String
    public var mode: Mode
    public var subscriptions: [Subscription]
    public var after: [String]
    public var webhooks: [String]
    public var setup: SQLSection?
    /// `@refresh` or `@apply`, by `mode`.
    public var body: SQLSection
    public var keys: SQLSection?
    /// `@refresh_batch`: a refresh job's statements for all of a batch's keys at once, read from
    /// the temporary table `batch_keys(key)`; they must leave the same rows as `@refresh` run for
    /// each key.
    public var batchRefresh: SQLSection?
    /// Declared by `-- apply: idempotent`: running an event's `@apply` again leaves the same rows
    /// (upserts of values, not counters), so `replay` may re-apply a key's events.
    public var idempotentApply: Bool
    /// A hash of what the definition means (see `JobFileParser.fingerprint`), stored with the
    /// checkpoint to detect a changed definition: `v2:` and 16 hex digits.
    public var fingerprint: String
    /// The hash of the whole file's text, the fingerprint that versions before `v2:` stored.
    public var textFingerprint: String
    /// The file line of each name listed under `after:`.
    public var afterLines: [String: Int]
    /// The file line of each endpoint listed under `webhooks:`.
    public var webhookLines: [String: Int]
    /// A refresh job declared with `-- refresh: whole`: its `@refresh` recomputes the whole read
    /// model rather than the rows of `:key`.
    public var refreshesWhole: Bool
    /// `-- dialect: postgres` for a job written for PostgreSQL; SQLite's otherwise.
    public var dialect: SQLDialect = .sqlite
    /// The line of the `dialect:` annotation (1 when there is none).
    public var dialectLine = 1

    public init(
        name: String, file: String, mode: Mode, subscriptions: [Subscription], after: [String],
        webhooks: [String], setup: SQLSection?, body: SQLSection, keys: SQLSection?, batchRefresh: SQLSection? = nil,
        idempotentApply: Bool = false,
        fingerprint: String, textFingerprint: String = "", afterLines: [String: Int] = [:],
        webhookLines: [String: Int] = [:], refreshesWhole: Bool = false
    ) {
        self.name = name
        self.file = file
        self.mode = mode
        self.subscriptions = subscriptions
        self.after = after
        self.webhooks = webhooks
        self.setup = setup
        self.body = body
        self.keys = keys
        self.batchRefresh = batchRefresh
        self.idempotentApply = idempotentApply
        self.fingerprint = fingerprint
        self.textFingerprint = textFingerprint
        self.afterLines = afterLines
        self.webhookLines = webhookLines
        self.refreshesWhole = refreshesWhole
    }

    /// Whether a fingerprint stored with a checkpoint still describes this definition. A
    /// fingerprint stored before `v2:` hashed the file's whole text: it still matches while the
    /// file is byte for byte the same, so upgrading projector does not mark every job changed.
    public func matchesFingerprint(_ stored: String) -> Bool {
        if stored == fingerprint { return true }
        return !stored.hasPrefix("v") && !textFingerprint.isEmpty && stored == textFingerprint
    }

    /// The line of the `after:` entry naming `job` (1 when unknown).
    public func line(ofAfter job: String) -> Int { afterLines[job] ?? 1 }

    /// The line of the `webhooks:` entry naming `endpoint` (1 when unknown).
    public func line(ofWebhook endpoint: String) -> Int { webhookLines[endpoint] ?? 1 }
}

/// One `on:` line: the event types it matches and where the key comes from.
public struct Subscription: Sendable, Equatable {
    public var patterns: [EventPattern]
    public var key: KeySource
    public var line: Int

    public init(patterns: [EventPattern], key: KeySource, line: Int) {
        self.patterns = patterns
        self.key = key
        self.line = line
    }

    public func matches(_ type: String) -> Bool {
        patterns.contains { $0.matches(type) }
    }
}

/// An event type, or a glob of them with `*` standing for any run of characters.
public struct EventPattern: Sendable, Equatable, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }

    public var description: String { text }

    public func matches(_ type: String) -> Bool {
        guard text.contains("*") else { return text == type }
        return Self.glob(Array(text.utf8), Array(type.utf8))
    }

    /// Glob matching with `*` only, in O(pattern × text): on a mismatch it resumes after the last
    /// star instead of backtracking through every earlier one (a pattern such as `A*A*A*A*B` would
    /// otherwise take exponential time, as fuzzing the job-file parser showed).
    static func glob(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0
        var t = 0
        var star = -1
        var resume = 0
        while t < text.count {
            if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = t
                p += 1
            } else if p < pattern.count && pattern[p] == text[t] {
                p += 1
                t += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

/// Where a subscription takes its key from.
public enum KeySource: Sendable, Equatable, CustomStringConvertible {
    case aggregateId
    /// A path of object keys under the event's `data`.
    case data([String])

    public var description: String {
        switch self {
        case .aggregateId: return "aggregateId"
        case .data(let path): return "data." + path.joined(separator: ".")
        }
    }
}

/// The SQL text of one section and the file line its text starts on.
public struct SQLSection: Sendable, Equatable {
    public var text: String
    public var line: Int

    public init(text: String, line: Int) {
        self.text = text
        self.line = line
    }
}
