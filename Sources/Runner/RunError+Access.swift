public import ProjectorCore

#if canImport(Glibc)
    import Glibc
#endif

extension RunError {
    /// Turns a failure to open or attach a database into what happened: a file that is not a
    /// database, or a file or directory projector cannot write, naming the path and what to do.
    public static func opening(_ error: StoreError, what: String, path: String) -> RunError {
        switch error.kind {
        case .notADatabase:
            return .notADatabase(what: what, path: path)
        case .cannotWrite, .other:
            if let reason = writeProblem(databasePath: path) {
                return .notWritable(what: what, path: path, reason: reason)
            }
            return from(error)
        default:
            return from(error)
        }
    }

    /// Why the database at `path` cannot be written, or nil when nothing is wrong with its
    /// permissions: SQLite writes the file, creates `-wal` and `-shm` beside it, and projector keeps
    /// its lock file there too (the lock itself is checked when it is taken).
    public static func writeProblem(databasePath path: String) -> String? {
        let directory = FileSystem.directory(of: path)
        if access(directory, W_OK) != 0 {
            let code = errno
            if code == EROFS { return readOnlyFileSystem(directory) }
            if code == ENOENT { return nil }
            return "its directory \(directory) is not writable (\(String(cString: strerror(code)))); SQLite creates "
                + "the -wal and -shm files beside the database and projector its lock file, so the user running "
                + "projector needs write access to the directory"
        }
        for file in [path, path + "-wal", path + "-shm"] where FileSystem.exists(file) {
            if access(file, W_OK) != 0 {
                let code = errno
                if code == EROFS { return readOnlyFileSystem(directory) }
                return (file == path ? "the file" : file) + " is not writable (\(String(cString: strerror(code)))); "
                    + "give the user running projector write access to it"
            }
        }
        return nil
    }

    static func readOnlyFileSystem(_ directory: String) -> String {
        "\(directory) is on a read-only file system; put the database on a writable one (under systemd's "
            + "ProtectSystem=strict, list its directory in ReadWritePaths=)"
    }
}
