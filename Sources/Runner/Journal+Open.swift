public import Journal

extension Journal {
    /// Opens the journal for a command: a missing path is exit 66, anything else a journal error.
    public static func opened(_ path: String) throws(RunError) -> Journal {
        do {
            return try Journal(path: path)
        } catch {
            if case .notFound = error { throw .missingPath(what: "the journal", path: path) }
            throw .journal(error)
        }
    }
}
