import ProjectorCore
import SQLiteStore

/// Opens the store a command works on, from the options: the SQLite database and its attached
/// databases, with every problem of the installation said in its own words (SPEC §6).
enum StoreOpening {
    enum Purpose {
        /// A run, replay or rebuild: the database's directory must exist.
        case write
        /// A dry run or `validate`: an empty in-memory database stands in when there is none yet
        /// (before a unit's first start has created its state directory), and nothing is written.
        case inspect
    }

    static func open(_ options: RunOptions, for purpose: Purpose) throws(RunError) -> any ProjectionStore {
        let directory = FileSystem.directory(of: options.databasePath)
        guard FileSystem.exists(directory) || purpose == .inspect else {
            throw .missingPath(what: "the database's directory", path: directory)
        }
        for attachment in options.attachments where !FileSystem.exists(attachment.path) {
            throw .missingPath(what: "the attached database '\(attachment.name)'", path: attachment.path)
        }
        var databaseOptions = Database.Options()
        databaseOptions.busyTimeoutMilliseconds = options.busyTimeoutMilliseconds
        databaseOptions.synchronous = options.synchronous
        let path = purpose == .inspect && !FileSystem.exists(options.databasePath) ? ":memory:" : options.databasePath
        // Even a dry run or a validation writes (in a transaction it rolls back): say so before
        // SQLite reports "attempt to write a readonly database" halfway through.
        if path != ":memory:", let reason = RunError.writeProblem(databasePath: path) {
            throw .notWritable(what: "the database", path: path, reason: reason)
        }
        // Before the first run the database will be created in its directory, which may not exist
        // yet (made by the unit's StateDirectory=), but when it does, the user must be able to write there.
        if purpose == .inspect, path == ":memory:", FileSystem.exists(directory),
            let reason = RunError.writeProblem(databasePath: options.databasePath)
        {
            throw .notWritable(what: "the database", path: options.databasePath, reason: reason)
        }
        do throws(RunnerStore.OpenFailure) {
            return try RunnerStore.open(path: path, options: databaseOptions, attachments: options.attachments)
        } catch {
            if let attachment = error.attachment {
                throw .opening(error.error, what: "the attached database '\(attachment.name)'", path: attachment.path)
            }
            throw .opening(error.error, what: "the database", path: path)
        }
    }
}
