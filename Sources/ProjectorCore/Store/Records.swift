/// A job's committed progress.
public struct Checkpoint: Sendable, Equatable {
    public var job: String
    public var anchor: CursorAnchor
    public var fingerprint: String
    public var eventsApplied: Int
    public var updatedAt: Double

    public var position: Int { anchor.position }

    public init(job: String, anchor: CursorAnchor, fingerprint: String, eventsApplied: Int, updatedAt: Double) {
        self.job = job
        self.anchor = anchor
        self.fingerprint = fingerprint
        self.eventsApplied = eventsApplied
        self.updatedAt = updatedAt
    }
}

/// A line (or, with `job`, one job's view of an event) that was not accepted.
public struct Reject: Sendable, Equatable {
    public var position: Int
    public var length: Int
    public var reason: RejectReason
    public var excerpt: [UInt8]
    public var job: String?

    public init(position: Int, length: Int, reason: RejectReason, excerpt: [UInt8], job: String? = nil) {
        self.position = position
        self.length = length
        self.reason = reason
        self.excerpt = excerpt
        self.job = job
    }
}

public struct FailureKey: Hashable, Sendable {
    public var job: String
    public var key: String

    public init(job: String, key: String) {
        self.job = job
        self.key = key
    }
}

public enum FailureState: String, Sendable {
    /// A refresh key that failed and will be tried again after its backoff.
    case retrying
    /// An apply-job key whose failed event and every later one are held back, in order.
    case parked
    /// Out of attempts: waits for an operator to retry or discard it.
    case dead
}

public struct FailureRecord: Sendable, Equatable {
    public var job: String
    public var key: String
    public var state: FailureState
    public var attempts: Int
    public var firstPosition: Int
    public var lastPosition: Int
    public var error: String
    public var nextAttemptAt: Double
    /// Upstream failures (of jobs this one runs `after:`) whose events produced this key: the key
    /// is held back until each of them is cleared, then redone from the upstream's fixed rows.
    public var waitsFor: Set<FailureKey> = []

    public init(
        job: String, key: String, state: FailureState, attempts: Int, firstPosition: Int, lastPosition: Int,
        error: String, nextAttemptAt: Double
    ) {
        self.job = job
        self.key = key
        self.state = state
        self.attempts = attempts
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.error = error
        self.nextAttemptAt = nextAttemptAt
    }
}

/// One notification to one endpoint.
public struct OutboxRow: Sendable, Equatable, Codable {
    public var id: Int
    public var messageID: String
    public var endpoint: String
    public var job: String
    public var runID: Int?
    public var body: [UInt8]
    public var state: OutboxState
    public var attempts: Int
    public var createdAt: Double
    public var nextAttemptAt: Double
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Double?

    public init(
        id: Int, messageID: String, endpoint: String, job: String, runID: Int?, body: [UInt8], state: OutboxState,
        attempts: Int, createdAt: Double, nextAttemptAt: Double, lastStatus: Int?, lastError: String?,
        deliveredAt: Double?
    ) {
        self.id = id
        self.messageID = messageID
        self.endpoint = endpoint
        self.job = job
        self.runID = runID
        self.body = body
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.deliveredAt = deliveredAt
    }
}

/// Where a notification stands in the outbox.
public enum OutboxState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its next attempt.
    case pending
    /// A 2xx was received.
    case delivered
    /// Out of attempts (or refused for good): waits for `webhooks retry`.
    case dead
    /// Its endpoint answered 410 Gone: waits for `webhooks retry`, which re-enables the endpoint.
    case disabled
}

/// A run's totals, recorded when it ends.
public struct FinishedRun: Sendable, Equatable {
    public var id: Int
    public var finishedAt: Double
    public var toPosition: Int
    public var events: Int
    public var rejects: Int
    public var failures: Int
    /// "ok" or "failures" (`RunHistory.finishIdleRun` writes "idle").
    public var outcome: String
    /// The exit code the executable gives the run, when it is known.
    public var exitCode: Int32?

    public init(
        id: Int, finishedAt: Double, toPosition: Int, events: Int, rejects: Int, failures: Int, outcome: String,
        exitCode: Int32?
    ) {
        self.id = id
        self.finishedAt = finishedAt
        self.toPosition = toPosition
        self.events = events
        self.rejects = rejects
        self.failures = failures
        self.outcome = outcome
        self.exitCode = exitCode
    }
}

/// An event held back behind a parked key: where its line is in the journal.
public struct HeldEvent: Sendable, Equatable {
    public var position: Int
    /// Bytes in the journal, line ending included.
    public var length: Int

    public init(position: Int, length: Int) {
        self.position = position
        self.length = length
    }
}

/// One batch's work of a job for its webhook notification: the positions it covers, the events
/// it matched, the keys it refreshed or applied and its failures.
public struct JobWork: Sendable, Equatable {
    public var job: String
    public var from: Int
    public var to: Int
    public var events: Int
    public var keys: [String]
    public var failures: Int

    public init(job: String, from: Int, to: Int, events: Int, keys: [String], failures: Int) {
        self.job = job
        self.from = from
        self.to = to
        self.events = events
        self.keys = keys
        self.failures = failures
    }
}

/// The outcome of one delivery attempt of an outbox row.
public struct DeliveryAttempt: Sendable, Equatable {
    public var id: Int
    public var state: OutboxState
    public var attempts: Int
    public var at: Double
    public var nextAttemptAt: Double
    public var status: Int?
    public var error: String?

    public init(
        id: Int, state: OutboxState, attempts: Int, at: Double, nextAttemptAt: Double, status: Int?, error: String?
    ) {
        self.id = id
        self.state = state
        self.attempts = attempts
        self.at = at
        self.nextAttemptAt = nextAttemptAt
        self.status = status
        self.error = error
    }
}

/// An object of a job's tables that differs from what its `@setup` creates today.
public struct SetupDriftFinding: Sendable, Equatable, CustomStringConvertible {
    public var job: String
    public var file: String
    public var line: Int
    public var message: String

    public init(job: String, file: String, line: Int, message: String) {
        self.job = job
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): warning: \(message)" }
}

/// A batch's event ids, packed: the bytes of every id in one buffer (no allocation per event),
/// each with the position of its event and its 64-bit hash (the de-duplication table's key).
public struct EventIDList: Sendable {
    /// The ids' bytes, one after the other (UTF-8, unescaped).
    public private(set) var bytes: [UInt8] = []
    /// Where each id ends in `bytes` (it starts where the previous one ends).
    public private(set) var ends: [Int] = []
    public private(set) var positions: [Int] = []
    public private(set) var hashes: [Int64] = []
    /// The end of the batch the ids come from: where the window's bookkeeping records them.
    public var end = 0
    /// The latest `occurredAt` (epoch seconds) among the batch's events with one that parses.
    public var latestOccurredAt: Double?

    public init() {}

    public var count: Int { positions.count }
    public var isEmpty: Bool { positions.isEmpty }

    public mutating func append(_ id: some Collection<UInt8>, position: Int, hash: UInt64) {
        bytes.append(contentsOf: id)
        ends.append(bytes.count)
        positions.append(position)
        hashes.append(Int64(bitPattern: hash))
    }

    /// The byte range of the `index`th id in `bytes`.
    public func range(_ index: Int) -> Range<Int> { (index == 0 ? 0 : ends[index - 1])..<ends[index] }

    /// The `index`th id's bytes.
    public func id(_ index: Int) -> ArraySlice<UInt8> { bytes[range(index)] }

    /// Notes an event's `occurredAt` for the window.
    public mutating func noteOccurred(at seconds: Double) {
        latestOccurredAt = max(latestOccurredAt ?? seconds, seconds)
    }

    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
        hashes.removeAll(keepingCapacity: true)
        end = 0
        latestOccurredAt = nil
    }
}

/// One event as a job's statements see it: its position, what the scanner found, and its line's
/// bytes (valid for the call it is passed to).
public struct EventLine {
    public let position: Int
    public let fields: EventFields
    package let base: UnsafeRawPointer

    package init(position: Int, fields: EventFields, base: UnsafeRawPointer) {
        self.position = position
        self.fields = fields
        self.base = base
    }
}

/// A field of an event as a job's parameter holds it, the same on every store: absent or JSON
/// `null` is NULL, a plain string or other value its bytes in the line, an escaped string its
/// unescaped text.
package enum FieldText {
    case null
    /// Borrowed from the line: valid while the line is.
    case bytes(UnsafeRawBufferPointer)
    case decoded(String)

    /// A string field (`:id`, `:type`, …): the text between the quotes, unescaped.
    @inlinable
    package static func string(_ span: ByteSpan?, _ kind: JSONKind, in line: UnsafeRawPointer) -> FieldText {
        guard let span, kind != .null else { return .null }
        if span.escaped { return .decoded(JSONText.decodeString(line, span)) }
        return .bytes(UnsafeRawBufferPointer(start: line + span.start, count: span.count))
    }

    /// A JSON field (`:data`, `:metadata`): its original text, a string's quotes included, for the
    /// database's JSON functions.
    @inlinable
    package static func json(_ span: ByteSpan?, _ kind: JSONKind, in line: UnsafeRawPointer) -> FieldText {
        guard let span else { return .null }
        let start = kind == .string ? span.start - 1 : span.start
        let end = kind == .string ? span.end + 1 : span.end
        return .bytes(UnsafeRawBufferPointer(start: line + start, count: end - start))
    }
}

/// What swapping a rebuilt read model in replaced: the job's tables and its new checkpoint's position.
public struct ReadModelSwap: Sendable, Equatable {
    public var tables: [String]
    public var position: Int

    public init(tables: [String], position: Int) {
        self.tables = tables
        self.position = position
    }
}
