public import ProjectorCore

extension PGError {
    /// The failure as the runner's store reports it. A statement's own error belongs to its key, and
    /// so does a statement that ran past `statement_timeout` (or was cancelled): that key is
    /// recorded and retried with backoff while the others go on, where a busy database would stop
    /// every batch at the same slow key. Serialization failures, deadlocks and lock timeouts are a
    /// busy database (the batch is rolled back and retried); a server that cannot be reached or a
    /// lost connection is `unavailable`.
    public var storeError: StoreError {
        let storeKind: StoreError.Kind
        switch kind {
        case .statement, .statementTimeout: storeKind = .statement
        case .serializationFailure, .deadlock, .lockNotAvailable: storeKind = .busy
        case .diskFull: storeKind = .diskFull
        case .cannotWrite: storeKind = .cannotWrite
        case .connectionRefused, .connectionLost: storeKind = .unavailable
        case .authenticationFailed, .invalidConnectionString, .pipelineAborted, .other:
            storeKind = .other
        }
        var error = StoreError(
            kind: storeKind, message: message, code: sqlState.map { "SQLSTATE \($0)" } ?? "libpq",
            description: description)
        error.isTransactionConflict = isRetryableTransaction
        return error
    }

    /// Whether the failure belongs to the statement alone (its key), as opposed to the connection or
    /// the transaction as a whole, which aborts the batch.
    public var isKeyLocal: Bool { kind == .statement || kind == .statementTimeout }

    /// Whether running the whole transaction again may succeed (40001, 40P01).
    public var isRetryableTransaction: Bool { kind == .serializationFailure || kind == .deadlock }
}
