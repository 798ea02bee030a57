/// A store's failure, classified so that the runner decides what it means (a key's failure, a
/// busy database, a full disk) without knowing which database reported it.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// One statement failed on its own data: a constraint, a failing expression, a type or
        /// range error. It belongs to the key whose SQL ran; the batch goes on without it.
        case statement
        /// Another connection held a lock past the timeout.
        case busy
        /// The disk (or a quota) is full; the transaction was rolled back.
        case diskFull
        /// The file is not a database of this store's kind.
        case notADatabase
        /// The store cannot be opened or written: a permission, a read-only file or file system.
        case cannotWrite
        /// A database server that cannot be reached or whose connection was lost: nothing past the
        /// last commit was kept, and a later attempt may succeed.
        case unavailable
        /// Anything else: an I/O error, corruption, a misuse.
        case other
    }

    public var kind: Kind
    /// The database's own message ("UNIQUE constraint failed: v.id").
    public var message: String
    /// The database's name for the code ("SQLite error 19", "SQLSTATE 23505"), for operators.
    public var code: String
    /// The message with the code and the statement, as it is recorded for a failed key.
    public var description: String
    /// The database rolled the transaction back to let a concurrent one go on (PostgreSQL's
    /// serialization failure or deadlock): the same transaction run again may well succeed.
    public var isTransactionConflict = false

    public init(kind: Kind, message: String, code: String, description: String) {
        self.kind = kind
        self.message = message
        self.code = code
        self.description = description
    }

    /// Whether the failure belongs to the key whose SQL ran, as opposed to the store as a whole
    /// (busy, full, I/O), which aborts the batch.
    public var isKeyLocal: Bool { kind == .statement }
}
