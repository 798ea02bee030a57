/// What can go wrong with the journal itself (not with one of its lines: those are rejects).
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The journal path does not exist.
    case notFound(path: String)
    /// A file of the journal could not be opened or read.
    case unreadable(path: String, errno: Int32, message: String)
    /// Segments do not follow each other: bytes are missing or overlap.
    case inconsistentSegments(path: String, detail: String)
    /// The bytes before a job's checkpoint are no longer what the job read.
    case checkpointMismatch(job: String, position: Int, detail: String)
    /// A line could not be written.
    case writeFailed(path: String, errno: Int32, message: String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "journal not found at \(path): create it or pass --journal with the right path"
        case .unreadable(let path, _, let message):
            return "cannot read journal file \(path): \(message)"
        case .inconsistentSegments(let path, let detail):
            return "journal \(path) is inconsistent: \(detail)"
        case .checkpointMismatch(let job, let position, let detail):
            return
                "journal no longer matches the checkpoint of job \(job) at position \(position): \(detail). "
                + "Refusing to guess; restore the journal, or rebuild the job to start over"
        case .writeFailed(let path, _, let message):
            return "cannot append to journal \(path): \(message)"
        }
    }
}
