public import Journal

#if canImport(Glibc)
    import Glibc
#endif

extension Journal {
    /// Opens the journal for a command: a missing path, or one the user may not reach, is exit 66;
    /// anything else a journal error.
    public static func opened(_ path: String) throws(RunError) -> Journal {
        if path.hasPrefix(RunOptions.eventsTablePrefix) {
            throw .usage(
                "\(path) is an events table: `run` (with --watch), `status`, `validate` and `events init|append` work "
                    + "on it; this command reads a journal file or directory")
        }
        do {
            return try Journal(path: path)
        } catch {
            if case .notFound = error { throw .missingPath(what: "the journal", path: path) }
            if case .unreadable(let file, let code, let message) = error, code == EACCES || code == EPERM {
                throw .unreadable(what: "the journal", path: file, reason: message)
            }
            throw .journal(error)
        }
    }
}
