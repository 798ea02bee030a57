extension RunOptions {
    /// For commands that read what runs wrote (status, failures, webhooks, verify, replay, prune):
    /// the database must exist. They never create an empty one, and a wrong path is 66 for all
    /// of them, whether the file or its directory is missing.
    public func requireExistingDatabase() throws(RunError) {
        guard !ProjectionRun.exists(databasePath) else { return }
        let directory = ProjectionRun.directory(of: databasePath)
        guard ProjectionRun.exists(directory) else {
            throw .missingPath(what: "the database's directory", path: directory)
        }
        throw .missingPath(what: "the database (no run has created it here)", path: databasePath)
    }
}
