public import Journal
public import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// Why a command could not do its work: what happened, with its cause. The executable maps each
/// case to an exit code (SPEC §6), in one place.
public enum RunError: Error, CustomStringConvertible {
    /// Another process holds the lock: `holder` names it ("PID 4242 (since …)") when it left its
    /// record; `waited` is how long this command waited before giving up (nil: it did not wait).
    case lockHeld(path: String, holder: String?, waited: Double?)
    /// The lock file could not be created or locked; `errno` is the system's reason.
    case lockFailed(path: String, errno: Int32)
    /// The database stayed locked past the busy timeout.
    case databaseBusy(StoreError)
    /// The database server cannot be reached, or the connection to it was lost.
    case databaseUnavailable(StoreError)
    /// A path that must exist does not.
    case missingPath(what: String, path: String)
    /// A path exists but cannot be read, e.g. for lack of permission.
    case unreadable(what: String, path: String, reason: String)
    /// projector cannot write a file it must write (the database, its `-wal`/`-shm` files, the
    /// lock): a permission or mount problem of the installation. `reason` says which and why.
    case notWritable(what: String, path: String, reason: String)
    /// A file projector writes or deletes outside the database (the metrics file, a journal
    /// segment) could not be; `errno` is the system's reason.
    case fileOperation(what: String, path: String, errno: Int32)
    /// A file given as a database is not a SQLite database.
    case notADatabase(what: String, path: String)
    /// Job files are broken.
    case jobs(JobFileErrors)
    /// A new job must replay the journal from the start, but segments before `start` were pruned.
    case historyPruned(job: String, start: Int)
    /// Bad configuration: the configuration file, the environment, an endpoint or a secret.
    case configuration(String)
    /// Job names given on the command line that no job file defines.
    case unknownJobs([String], known: [String])
    /// The command cannot do what it was asked for this job or these arguments.
    case usage(String)
    /// A rebuild was stopped (SIGINT/SIGTERM) before it finished; the live read model is untouched.
    case interrupted(job: String, position: Int)
    /// A key's SQL failed in a recovery command, which changed nothing.
    case keyFailed(job: String, key: String, position: Int?, cause: StoreError)
    /// The journal is unreadable or no longer matches a checkpoint.
    case journal(JournalError)
    /// A parked key's held event can no longer be read back from the journal: its bytes are gone
    /// (a segment deleted by hand) or are no longer an event (rewritten under the runner).
    case heldEventLost(job: String, key: String, position: Int, reason: String)
    /// An event given to `events append` that the events table refuses (a second event with the
    /// same id, a time or value PostgreSQL cannot read); nothing was appended.
    case eventRefused(String)
    /// The disk (or a quota) is full; the transaction was rolled back.
    case diskFull(StoreError)
    /// A store error outside any one key (I/O error, corruption, a lost connection).
    case database(StoreError)

    public var description: String {
        switch self {
        case .lockHeld(let path, let holder, let waited):
            let who = holder ?? "another process"
            if let waited {
                return "gave up after \(Int(waited.rounded())) s waiting for the run lock \(path), held by \(who); "
                    + "try again later or raise --lock-timeout"
            }
            return "the run lock \(path) is held by \(who); try again later, or pass --wait "
                + "(with --lock-timeout SECONDS to bound the wait)"
        case .lockFailed(let path, let code):
            return "cannot take the lock \(path): \(String(cString: strerror(code)))"
        case .databaseUnavailable(let error):
            return "cannot reach the database: \(error.message). Nothing past the last commit was kept; the next run "
                + "retries (exit 75)"
        case .databaseBusy(let error) where error.isTransactionConflict:
            return "the database rolled the same transaction back \(ConflictRetry.attempts) times in a row for "
                + "concurrent ones (\(error.code): \(error.message)); nothing past the last commit was kept, the next "
                + "run retries (exit 75)"
        case .databaseBusy(let error):
            return "the database is busy (locked by another connection past the busy timeout): \(error.message)"
        case .missingPath(let what, let path):
            return "\(what) does not exist: \(path)"
        case .unreadable(let what, let path, let reason):
            return "cannot read \(what) \(path): \(reason)"
        case .notWritable(let what, let path, let reason):
            return "cannot write \(what) \(path): \(reason)"
        case .fileOperation(let what, let path, let code):
            return "cannot \(what) \(path): \(String(cString: strerror(code))); check that the directory exists and "
                + "that the user running projector may write it"
        case .notADatabase(let what, let path):
            return "\(what) \(path) is not a SQLite database; check the path (projector never overwrites it)"
        case .jobs(let errors):
            return errors.description
        case .historyPruned(let job, let start):
            return "job \(job) must replay the journal from the start (it is new, or being rebuilt or verified "
                + "whole), but segments before position \(start) were pruned (`journal prune`); restore them from "
                + "a backup, or give a refresh job @keys so it starts from its keys"
        case .configuration(let message):
            return "configuration error: \(message)"
        case .unknownJobs(let names, let known):
            return "unknown job(s) \(names.joined(separator: ", ")); jobs are: " + known.joined(separator: ", ")
        case .usage(let message):
            return message
        case .interrupted(let job, let position):
            return "rebuild of \(job) interrupted at position \(position); run it again to resume "
                + "(the live read model is untouched)"
        case .keyFailed(let job, let key, let position, let cause):
            let event = position.map { "the event at position \($0): " } ?? ""
            return "\(job) key \(key) failed, nothing was changed: \(event)\(cause)"
        case .journal(let error):
            return error.description
        case .heldEventLost(let job, let key, let position, let reason):
            return "job \(job) key \(key) is parked with a held event at position \(position), but \(reason). "
                + "Restore the journal from backup, or discard the failure (projector failures discard --job \(job) "
                + "--key \(key)) and replay the key"
        case .eventRefused(let message):
            return message
        case .diskFull(let error):
            return "the disk is full: \(error.message). Nothing was lost: free space and run again"
        case .database(let error):
            // The code names the database: "SQLSTATE 23505" is PostgreSQL's, "SQLite error 11" SQLite's.
            let check =
                error.code.hasPrefix("SQLSTATE")
                ? "the server's log" : "the disk and the file (sqlite3 DATABASE 'PRAGMA integrity_check')"
            return "database error: \(error). Nothing past the last commit was kept; if it happens again, check "
                + check
        }
    }

    /// Wraps a store error, telling a busy database and a full disk apart from other failures.
    public static func from(_ error: StoreError) -> RunError {
        switch error.kind {
        case .busy: return .databaseBusy(error)
        case .unavailable: return .databaseUnavailable(error)
        case .diskFull: return .diskFull(error)
        default: return .database(error)
        }
    }
}
