import PostgresClient

extension RunOptions {
    /// For commands that read what runs wrote (status, failures, webhooks, verify, replay, prune):
    /// the database must exist. They never create an empty one, and a wrong path is 66 for all
    /// of them, whether the file or its directory is missing. On PostgreSQL the database is the
    /// runner's tables: a database no run has used is 66 in the same words.
    public func requireExistingDatabase() throws(RunError) {
        if let conninfo = postgresConnection {
            guard try Stores.hasRunnerTables(databasePath, schema: postgresSchema) else {
                throw .missingPath(
                    what: "the database (no run has created it here)", path: PGConnectionString.redacted(conninfo))
            }
            return
        }
        if FileSystem.exists(databasePath) {
            guard Self.looksLikeSQLite(databasePath) else {
                throw .notADatabase(what: "the database", path: databasePath)
            }
            return
        }
        let directory = FileSystem.directory(of: databasePath)
        guard FileSystem.exists(directory) else {
            throw .missingPath(what: "the database's directory", path: directory)
        }
        throw .missingPath(what: "the database (no run has created it here)", path: databasePath)
    }

    /// Whether a file starts as every SQLite database does ("SQLite format 3" and a NUL), or is
    /// empty (SQLite makes an empty file a database). Unreadable files pass: opening them says why.
    static func looksLikeSQLite(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        let count = read(fd, &header, header.count)
        guard count > 0 else { return true }
        return count == 16 && header == Array("SQLite format 3".utf8) + [0]
    }
}

#if canImport(Glibc)
    import Glibc
#endif
