import Foundation
public import Journal
public import Logging
public import ProjectorCore

/// `projector journal check` and `projector journal prune`.
public enum JournalMaintenance {
    public struct Problem: Codable, Sendable {
        public var position: Int
        public var code: String
        public var reason: String
    }

    public struct CheckReport: Codable, Sendable {
        public var lines = 0
        public var events = 0
        public var invalid = 0
        public var duplicateIds = 0
        /// Event types no job listens to, with their counts.
        public var unknownTypes: [String: Int] = [:]
        /// The first problems found (invalid lines and duplicate ids), in journal order.
        public var problems: [Problem] = []

        public var clean: Bool { invalid == 0 && duplicateIds == 0 }
    }

    /// Lints a journal without running jobs: invalid lines, duplicate ids, types no job knows.
    /// Duplicate ids are found through 64-bit hashes (8 bytes an event).
    public static func check(
        journalPath: String, jobs: [JobDefinition], maxLineBytes: Int = 1 << 20, maxDepth: Int = 64
    ) throws(RunError) -> CheckReport {
        let journal = try Journal.opened(journalPath)
        var report = CheckReport()
        let scanner = EventScanner(maxDepth: maxDepth)
        var router = EventRouter(jobs: jobs)
        var seen: Set<UInt64> = []
        var known: [String: Bool] = [:]
        func problem(_ position: Int, _ reason: RejectReason) {
            if report.problems.count < 100 {
                report.problems.append(Problem(position: position, code: reason.code, reason: reason.description))
            }
        }
        do {
            let cursor = try journal.cursor(from: journal.start, maxLineBytes: maxLineBytes)
            while let item = try cursor.next() {
                report.lines += 1
                switch item {
                case .oversized(let position, let length, _):
                    report.invalid += 1
                    problem(position, .tooLong(length: length - 1, limit: maxLineBytes))
                case .unterminated(let position, _, let segment, _):
                    report.invalid += 1
                    problem(position, .unterminatedSegment(segment: segment))
                case .line(let position, _, let bytes):
                    switch scanner.scan(borrowing: bytes) {
                    case .failure(let reason):
                        report.invalid += 1
                        problem(position, reason)
                    case .success(let event):
                        report.events += 1
                        guard let type = event.text(\.type) else { continue }
                        if let id = event.fields.id, event.fields.idKind != .null {
                            if !seen.insert(event.fingerprint(of: id)).inserted {
                                report.duplicateIds += 1
                                if report.problems.count < 100 {
                                    report.problems.append(
                                        Problem(
                                            position: position, code: "duplicate_id",
                                            reason: "id \(event.text(id)) appeared before"))
                                }
                            }
                        }
                        if known[type] == nil { known[type] = !router.routes(for: type).isEmpty }
                        if known[type] == false { report.unknownTypes[type, default: 0] += 1 }
                    }
                }
            }
        } catch {
            throw .journal(error)
        }
        return report
    }

    /// Deletes the segments every job has passed, keeping the one holding each checkpoint's
    /// anchor bytes, every segment a held (parked) event lives in, and always the last segment.
    /// A job that never ran and must replay history (apply, or refresh without @keys) keeps everything.
    public static func prune(options: RunOptions, dryRun: Bool, logger: Logger) throws(RunError) -> [Segment] {
        let catalog = try JobLoader.load(directory: options.jobsDirectory)
        let lock = try RunLock(options: options, logger: logger)
        defer { withExtendedLifetime(lock) {} }
        let journal = try Journal.opened(options.journalPath)
        guard journal.isDirectory else {
            throw .usage(
                "prune works on a directory of segments; \(options.journalPath) is a single file (rotate it by hand)")
        }
        var needed = journal.end
        guard try Stores.hasRunnerTables(options.databasePath, schema: options.postgresSchema) else { return [] }
        let store = try Stores.open(
            path: options.databasePath, schema: options.postgresSchema, readOnly: true,
            busyTimeoutMilliseconds: options.busyTimeoutMilliseconds)
        do throws(StoreError) {
            let checkpoints = try store.checkpoints()
            for job in catalog.jobs {
                if let checkpoint = checkpoints[job.name] {
                    needed = min(needed, checkpoint.anchor.start)
                } else if job.mode == .apply || job.keys == nil {
                    needed = journal.start
                }
            }
            if let held = try store.oldestHeldEventPosition() {
                needed = min(needed, held)
            }
        } catch {
            throw .from(error)
        }
        let removable = journal.segments.dropLast().filter { $0.end <= needed }
        if !dryRun {
            for segment in removable {
                if unlink(segment.path) != 0 {
                    throw .fileOperation(what: "delete the journal segment", path: segment.path, errno: errno)
                }
            }
        }
        return Array(removable)
    }
}
