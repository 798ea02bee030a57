import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// The statements of one pipeline, sent without waiting for their answers.
public final class PGPipeline {
    let connection: PGConnection
    let handle: OpaquePointer
    /// Each sent statement's SQL (a prepared statement's own SQL when known), for its error.
    var statements: [String?] = []

    init(connection: PGConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
    }

    /// How many statements have been sent.
    public var count: Int { statements.count }

    /// Sends one statement with text parameters (nil is NULL).
    public func send(_ sql: String, _ parameters: [String?] = []) throws(PGError) {
        let sent = withCStrings(parameters) { values in
            PQsendQueryParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        try sentOrThrow(sent, sql: sql)
    }

    /// Sends a statement prepared on the connection.
    public func send(prepared name: String, _ parameters: [String?] = []) throws(PGError) {
        let sent = withCStrings(parameters) { values in
            PQsendQueryPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
        }
        try sentOrThrow(sent, sql: connection.preparedSQL[name])
    }

    /// Prepares a named statement; it counts as a statement of the pipeline (its result is empty).
    public func prepare(name: String, sql: String) throws(PGError) {
        try sentOrThrow(PQsendPrepare(handle, name, sql, 0, nil), sql: sql)
        connection.preparedSQL[name] = sql
    }

    private func sentOrThrow(_ sent: Int32, sql: String?) throws(PGError) {
        guard sent == 1 else { throw connection.connectionError(sql: sql) }
        statements.append(sql)
    }
}

extension PGConnection {
    /// Sends the statements `body` adds in libpq's pipeline mode and waits once for all their answers
    /// (one round trip), returning each statement's result or error in order.
    ///
    /// When a statement fails, the server skips the rest: they report `pipelineAborted` naming the
    /// failed statement's index. Outside an explicit transaction the pipeline's statements form one
    /// implicit transaction, so a failure also undoes the ones before it; inside `BEGIN`, the
    /// transaction is left failed until the caller rolls back (to a savepoint, say).
    ///
    /// Throws only when the connection fails or `body` throws (statements already sent still run).
    public func pipeline(_ body: (PGPipeline) throws(PGError) -> Void) throws(PGError) -> [Result<PGResult, PGError>] {
        let connection = try open()
        guard PQenterPipelineMode(connection) == 1 else { throw connectionError(sql: nil) }
        // Non-blocking while sending: libpq then reads the server's answers whenever the socket
        // will not take more, so a long pipeline cannot deadlock on full buffers.
        PQsetnonblocking(connection, 1)
        let pipeline = PGPipeline(connection: self, handle: connection)
        do {
            try body(pipeline)
        } catch {
            finishAbandoned(connection, sent: pipeline.count)
            throw error
        }
        guard PQpipelineSync(connection) == 1 else {
            let error = connectionError(sql: nil)
            finishAbandoned(connection, sent: pipeline.count)
            throw error
        }
        roundTrips += 1
        do throws(PGError) {
            try flush(connection)
        } catch {
            finishAbandoned(connection, sent: pipeline.count)
            throw error
        }
        PQsetnonblocking(connection, 0)

        var results: [Result<PGResult, PGError>] = []
        results.reserveCapacity(pipeline.count)
        var failedIndex: Int?
        for (index, sql) in pipeline.statements.enumerated() {
            guard let result = PQgetResult(connection) else { throw lost(connection, index: index, sql: sql) }
            if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                PQclear(result)
                var error = PGError(
                    kind: .pipelineAborted,
                    message: "not run: statement \(failedIndex.map(String.init) ?? "?") of the pipeline failed first",
                    sql: sql)
                error.statementIndex = index
                error.failedStatementIndex = failedIndex
                results.append(.failure(error))
            } else {
                do throws(PGError) {
                    results.append(.success(try check(result, sql: sql)))
                } catch {
                    if error.kind == .connectionLost { throw lost(connection, index: index, sql: sql) }
                    var failed = error
                    failed.statementIndex = index
                    failedIndex = failedIndex ?? index
                    results.append(.failure(failed))
                }
            }
            // Each statement's results end with a null result.
            while let extra = PQgetResult(connection) { PQclear(extra) }
        }
        guard let sync = PQgetResult(connection) else { throw lost(connection, index: nil, sql: nil) }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        guard synced, PQexitPipelineMode(connection) == 1 else { throw lost(connection, index: nil, sql: nil) }
        return results
    }

    /// Writes out what libpq holds, reading answers meanwhile (non-blocking mode).
    private func flush(_ connection: OpaquePointer) throws(PGError) {
        while true {
            let pending = PQflush(connection)
            if pending == 0 { return }
            if pending < 0 { throw connectionError(sql: nil) }
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN | POLLOUT), revents: 0)
            _ = poll(&descriptor, 1, -1)
            if descriptor.revents & Int16(POLLIN) != 0, PQconsumeInput(connection) == 0 {
                throw connectionError(sql: nil)
            }
        }
    }

    /// The error for a pipeline whose answers stopped coming.
    private func lost(_ connection: OpaquePointer, index: Int?, sql: String?) -> PGError {
        // Only called when the connection is gone (no answer, or the server's FATAL): whatever
        // libpq's message, that is what happened.
        var error = connectionError(sql: sql)
        error.kind = .connectionLost
        error.statementIndex = index
        return error
    }

    /// Leaves pipeline mode after a failure on our side: syncs, discards the answers, exits.
    private func finishAbandoned(_ connection: OpaquePointer, sent: Int) {
        defer { PQsetnonblocking(connection, 0) }
        guard PQstatus(connection) == CONNECTION_OK, PQpipelineSync(connection) == 1 else { return }
        roundTrips += 1
        do throws(PGError) { try flush(connection) } catch { return }
        PQsetnonblocking(connection, 0)
        var nulls = 0
        while PQstatus(connection) == CONNECTION_OK {
            guard let result = PQgetResult(connection) else {
                nulls += 1
                if nulls > sent + 1 { break }
                continue
            }
            nulls = 0
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_PIPELINE_SYNC { break }
        }
        _ = PQexitPipelineMode(connection)
    }
}
