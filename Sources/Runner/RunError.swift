public import Journal
public import ProjectorCore
public import SQLiteStore

/// Why a command could not do its work. The CLI maps each case to an exit code (SPEC §6).
public enum RunError: Error, CustomStringConvertible {
    /// Another process holds the lock (75): `holder` names it ("PID 4242 (since …)") when it left
    /// its record; `waited` is how long this command waited before giving up (nil: it did not wait).
    case lockHeld(path: String, holder: String?, waited: Double?)
    /// The lock file could not be created or locked (1, or 66 when its directory is missing).
    case lockFailed(path: String, message: String)
    /// The database stayed locked past the busy timeout (75).
    case databaseBusy(SQLiteError)
    /// A path that must exist does not (66).
    case missingPath(what: String, path: String)
    /// A path exists but cannot be read, e.g. for lack of permission (66).
    case unreadable(what: String, path: String, reason: String)
    /// projector cannot write a file it must write (the database, its `-wal`/`-shm` files, the
    /// lock): a permission or mount problem of the installation (78). `reason` says which and why.
    case notWritable(what: String, path: String, reason: String)
    /// A file given as a database is not a SQLite database (78).
    case notADatabase(what: String, path: String)
    /// Job files are broken (78).
    case jobs(JobFileErrors)
    /// Bad configuration (78).
    case configuration(String)
    /// The command cannot do what it was asked for this job or these arguments (64).
    case usage(String)
    /// A key's SQL failed in a recovery command, which changed nothing (65).
    case keyFailed(job: String, key: String, message: String)
    /// The journal is unreadable or no longer matches a checkpoint.
    case journal(JournalError)
    /// A SQLite error outside any one key (disk full, I/O error, corruption).
    case database(SQLiteError)

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
        case .lockFailed(let path, let message):
            return "cannot take the lock \(path): \(message)"
        case .databaseBusy(let error):
            return "the database is busy (locked by another connection past the busy timeout): \(error.message)"
        case .missingPath(let what, let path):
            return "\(what) does not exist: \(path)"
        case .unreadable(let what, let path, let reason):
            return "cannot read \(what) \(path): \(reason)"
        case .notWritable(let what, let path, let reason):
            return "cannot write \(what) \(path): \(reason)"
        case .notADatabase(let what, let path):
            return "\(what) \(path) is not a SQLite database; check the path (projector never overwrites it)"
        case .jobs(let errors):
            return errors.description
        case .configuration(let message):
            return "configuration error: \(message)"
        case .usage(let message):
            return message
        case .keyFailed(let job, let key, let message):
            return "\(job) key \(key) failed, nothing was changed: \(message)"
        case .journal(let error):
            return error.description
        case .database(let error):
            if error.isDiskFull {
                return "the disk is full: \(error.message). Nothing was lost: free space and run again"
            }
            return "database error: \(error)"
        }
    }

    /// Wraps a SQLite error, telling a busy database apart from other failures.
    public static func from(_ error: SQLiteError) -> RunError {
        error.isBusy ? .databaseBusy(error) : .database(error)
    }
}
