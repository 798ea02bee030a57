import Journal
public import ProjectorCore

/// Reads lines from a cursor into a batch: scans each one, records rejects, routes events to
/// jobs and extracts their keys.
public struct BatchBuilder {
    let scanner: EventScanner
    let jobs: [JobDefinition]
    var router: EventRouter
    /// Routes per event type, found by a hash of the type's bytes so no string is built per event.
    private var typeRoutes: [UInt64: [(bytes: [UInt8], routes: [EventRouter.Route])]] = [:]

    init(jobs: [JobDefinition], maxDepth: Int) {
        self.jobs = jobs
        self.scanner = EventScanner(maxDepth: maxDepth)
        self.router = EventRouter(jobs: jobs)
    }

    /// Fills `batch` from `cursor` up to the limits; returns false when the cursor had nothing more.
    mutating func fill(
        _ batch: Batch, from cursor: JournalCursor, maxEvents: Int, maxBytes: Int
    ) throws(JournalError) -> Bool {
        batch.reset(at: cursor.position)
        while batch.events.count < maxEvents && batch.arena.count < maxBytes {
            guard let item = try cursor.next() else {
                batch.end = cursor.position
                return false
            }
            switch item {
            case .line(let position, let length, let bytes):
                add(line: bytes, position: position, length: length, to: batch)
            case .oversized(let position, let length, let excerpt):
                batch.rejects.append(
                    Reject(
                        position: position, length: length,
                        reason: .tooLong(length: length - 1, limit: cursor.maxLineBytes), excerpt: excerpt
                    )
                )
            case .unterminated(let position, let length, let segment, let excerpt):
                batch.rejects.append(
                    Reject(
                        position: position, length: length, reason: .unterminatedSegment(segment: segment),
                        excerpt: excerpt)
                )
            }
        }
        batch.end = cursor.position
        return true
    }

    /// Adds one event that did not come from a journal file (a row of an events table, as a
    /// line without its line ending) at `position`.
    mutating func add(row line: UnsafeRawBufferPointer, position: Int, to batch: Batch) {
        add(line: line, position: position, length: line.count + 1, to: batch)
    }

    private mutating func add(line: UnsafeRawBufferPointer, position: Int, length: Int, to batch: Batch) {
        switch scanner.scan(borrowing: line) {
        case .failure(let reason):
            batch.rejects.append(
                Reject(
                    position: position, length: length, reason: reason,
                    excerpt: Array(line.prefix(JournalCursor.excerptBytes)))
            )
        case .success(let event):
            let offset = batch.arena.append(line)
            let index = Int32(batch.events.count)
            batch.events.append(
                BatchEvent(
                    position: position, length: length, offset: offset, lineLength: line.count, fields: event.fields)
            )
            guard let typeSpan = event.fields.type else { return }
            for route in routes(event, typeSpan) {
                for source in route.keys {
                    switch Self.key(source, of: event) {
                    case .success(let key):
                        batch.keyed.append(KeyedEvent(event: index, job: Int32(route.job), key: key))
                    case .failure(let reason):
                        let job = jobs[route.job].name
                        let jobReason: RejectReason
                        switch reason {
                        case .keyNotScalar(_, let path, let kind):
                            jobReason = .keyNotScalar(job: job, path: path, found: kind)
                        default: jobReason = .keyMissing(job: job, path: source.description)
                        }
                        batch.jobRejects.append(
                            (
                                route.job,
                                Reject(
                                    position: position, length: length, reason: jobReason,
                                    excerpt: Array(line.prefix(JournalCursor.excerptBytes)), job: job
                                )
                            )
                        )
                    }
                }
            }
        }
    }

    private mutating func routes(_ event: ScannedLine, _ span: ByteSpan) -> [EventRouter.Route] {
        let hash = event.fingerprint(of: span) ^ (span.escaped ? 1 : 0)
        if let candidates = typeRoutes[hash] {
            for candidate in candidates where event.bytes(of: span, equal: candidate.bytes) { return candidate.routes }
        }
        let found = router.routes(for: event.text(span))
        typeRoutes[hash, default: []].append((event.bytes(of: span), found))
        return found
    }

    /// The key an event yields for one key source.
    public static func key(_ source: KeySource, of event: ScannedLine) -> Result<String, RejectReason> {
        let fields = event.fields
        switch source {
        case .aggregateId:
            guard let span = fields.aggregateId else { return .failure(.keyMissing(job: "", path: "aggregateId")) }
            return .success(event.text(span))
        case .data(let path):
            guard let data = fields.data, fields.dataKind == .object,
                let (kind, span) = event.find(path: path, in: data)
            else {
                return .failure(.keyMissing(job: "", path: source.description))
            }
            switch kind {
            case .string, .integer, .number:
                return .success(event.text(span))
            case .null:
                return .failure(.keyMissing(job: "", path: source.description))
            default:
                return .failure(.keyNotScalar(job: "", path: source.description, found: kind))
            }
        }
    }
}
